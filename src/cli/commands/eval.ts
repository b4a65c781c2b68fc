import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { Cluster } from '../../distributed/cluster.js';
import { remoteEvaluate } from '../../distributed/coordinator.js';
import type { EvalJobOptions } from '../../distributed/protocol.js';
import type { Model } from '../../ir/graph.js';
import type { Command } from 'commander';
import { InputError } from '../../errors.js';
import { loadModel } from '../../ir/io.js';
import { loadDatasetSpec, openDataset, type DatasetSpec } from '../../data/dataset.js';
import { loadPreprocessBeside } from '../../data/image.js';
import type { Estimate } from '../../eval/bootstrap.js';
import { evaluate, type EvalResult, type Task } from '../../eval/evaluate.js';
import { defaultImagePreprocess } from '../../eval/model-io.js';
import type { Backend } from '../../runtime/session.js';
import { collect, parseIntFlag, parseThreadsFlag } from '../flags.js';
import { clearLine, liveLine } from '../terminal.js';

interface EvalFlags {
  data: string;
  metric: string[];
  reference?: string;
  limit?: string;
  batch: string;
  task?: string;
  outputName?: string;
  keys?: string;
  threshold?: string;
  shuffle?: string;
  part?: string;
  calibrationFraction?: string;
  bootstrap: string;
  backend: string;
  threads: string;
  json?: boolean;
  workers?: string;
}

const TASKS: readonly Task[] = ['classification', 'ctc', 'det-map', 'tensors', 'fidelity'];

export function register(program: Command): void {
  program
    .command('eval')
    .description('Score a model on labelled data (accuracy, F1, CER, pixel F1…) or against a reference model, with bootstrap intervals')
    .argument('<model>', 'ONNX model file')
    .requiredOption('--data <spec>', 'a dataset: folder, data file (idx, .npy/.npz, .jsonl/.csv) or a JSON dataset spec')
    .option('--metric <name>', 'only report this metric (repeatable; default: all of the task)', collect, [])
    .option('--reference <model>', 'also compare outputs with this model on the same inputs (fidelity)')
    .option('--limit <n>', 'use at most n samples')
    .option('--batch <n>', 'samples per inference', '1')
    .option('--task <task>', `what the labels mean: ${TASKS.join(' | ')} (default: from the spec or the labels)`)
    .option('--output-name <name>', 'model output to score (default: the first)')
    .option('--keys <file>', 'CTC character list (PaddleOCR ppocr_keys_v1.txt)')
    .option('--threshold <p>', 'det-map probability threshold (default 0.3)')
    .option('--shuffle <seed>', 'shuffle the samples with this seed (before --limit)')
    .option('--part <side>', 'calibration | evaluation: use one side of the hashed split')
    .option('--calibration-fraction <f>', 'share of samples on the calibration side (default 0.1)')
    .option('--bootstrap <n>', 'bootstrap resamples for the intervals', '1000')
    .option('--backend <b>', 'node | wasm', 'node')
    .option('--threads <n>', 'intra-op threads', '2')
    .option('--json', 'print JSON')
    .option('--workers <redis-url>', 'score in shards on the workers that joined this Redis (`inferopt worker`); the same metrics and intervals as here')
    .action(async (file: string, flags: EvalFlags) => {
      const result = await runEval(file, flags);
      process.stdout.write(flags.json ? JSON.stringify(result, null, 1) + '\n' : formatResult(result, flags.metric));
    });
}

async function runEval(file: string, flags: EvalFlags): Promise<EvalResult> {
  for (const f of [file, flags.reference]) if (f !== undefined && !existsSync(f)) throw new InputError(`model not found: ${f}`);
  if (flags.task && !TASKS.includes(flags.task as Task)) throw new InputError(`--task must be one of ${TASKS.join(', ')}`);
  if (flags.part && flags.part !== 'calibration' && flags.part !== 'evaluation') throw new InputError('--part must be calibration or evaluation');
  const model = loadModel(file);
  const spec = await loadDatasetSpec(flags.data);
  const ds = await openDataset(spec, {
    image: spec.image ?? loadPreprocessBeside(file) ?? defaultImagePreprocess(model),
    ...(flags.limit !== undefined && { limit: parseIntFlag('--limit', flags.limit, 1) }),
    ...(flags.shuffle !== undefined && { shuffleSeed: parseIntFlag('--shuffle', flags.shuffle) }),
    ...(flags.part && { part: flags.part as 'calibration' | 'evaluation' }),
    ...(flags.calibrationFraction !== undefined && { calibrationFraction: Number(flags.calibrationFraction) }),
  });
  const threshold = flags.threshold !== undefined ? Number(flags.threshold) : spec.eval?.threshold;
  if (threshold !== undefined && !(threshold >= 0 && threshold <= 1)) throw new InputError('--threshold must be between 0 and 1');
  if (flags.workers) return evalOnWorkers(file, flags, spec, model, threshold);
  const progress = !flags.json && process.stderr.isTTY ? new Progress(ds.size) : undefined;
  try {
    return await evaluate(model, ds, {
      task: (flags.task as Task | undefined) ?? spec.eval?.task,
      output: flags.outputName ?? spec.eval?.output,
      keys: flags.keys ?? spec.eval?.keys,
      threshold,
      shrinkRatio: spec.eval?.shrinkRatio,
      ignoreSpaces: spec.eval?.ignoreSpaces,
      reference: flags.reference,
      batch: parseIntFlag('--batch', flags.batch, 1),
      backend: flags.backend as Backend,
      threads: parseThreadsFlag(flags.threads),
      bootstrap: { iterations: parseIntFlag('--bootstrap', flags.bootstrap, 1) },
      onProgress: progress && ((n) => progress.draw(n)),
    });
  } finally {
    progress?.clear();
  }
}

/**
 * `eval --workers`: the same evaluation, its batches spread over the workers; the merged per-sample records
 * give the metrics of a local run. Workers read the data at the same path (given here as an absolute one).
 */
async function evalOnWorkers(file: string, flags: EvalFlags, spec: DatasetSpec, model: Model, threshold: number | undefined): Promise<EvalResult> {
  if (typeof flags.data !== 'string' || !existsSync(flags.data)) throw new InputError('--workers needs --data to be a file or folder the workers can read at the same path');
  const keys = flags.keys ?? spec.eval?.keys;
  const options: EvalJobOptions = {
    ...(((flags.task as Task | undefined) ?? spec.eval?.task) ? { task: (flags.task as Task | undefined) ?? spec.eval!.task! } : {}),
    ...((flags.outputName ?? spec.eval?.output) ? { output: flags.outputName ?? spec.eval!.output! } : {}),
    ...(keys ? { keys: path.resolve(keys) } : {}),
    ...(threshold !== undefined ? { threshold } : {}),
    ...(spec.eval?.shrinkRatio !== undefined ? { shrinkRatio: spec.eval.shrinkRatio } : {}),
    ...(spec.eval?.ignoreSpaces !== undefined ? { ignoreSpaces: spec.eval.ignoreSpaces } : {}),
    batch: parseIntFlag('--batch', flags.batch, 1),
    threads: parseIntFlag('--threads', flags.threads, 1),
    backend: flags.backend as Backend,
    ...(flags.limit !== undefined && { limit: parseIntFlag('--limit', flags.limit, 1) }),
    ...(flags.shuffle !== undefined && { shuffle: parseIntFlag('--shuffle', flags.shuffle) }),
    ...(flags.part && { part: flags.part as 'calibration' | 'evaluation' }),
    ...(flags.calibrationFraction !== undefined && { calibrationFraction: Number(flags.calibrationFraction) }),
    image: spec.image ?? loadPreprocessBeside(file) ?? defaultImagePreprocess(model),
  };
  const cluster = await Cluster.open(flags.workers!);
  try {
    if (!flags.json) cluster.onProgress = () => liveLine(cluster.progressLine());
    const { result, summary } = await remoteEvaluate(cluster, {
      model: readFileSync(file),
      ...(flags.reference ? { reference: readFileSync(flags.reference) } : {}),
      data: path.resolve(flags.data),
      options,
      bootstrap: { iterations: parseIntFlag('--bootstrap', flags.bootstrap, 1) },
    });
    clearLine();
    if (!flags.json) process.stderr.write(`workers: ${summary.workers.map((w) => `${w.worker} ${w.jobs} shard${w.jobs === 1 ? '' : 's'} (${(w.busyMs / 1000).toFixed(1)} s)`).join(', ')} via ${summary.redis}\n`);
    return result;
  } finally {
    clearLine();
    await cluster.close();
  }
}

/** A one-line progress display on stderr: a bar when the total is known, else a count; with the rate. */
class Progress {
  private readonly start = performance.now();
  private lastDraw = 0;
  constructor(private readonly total?: number) {}
  draw(done: number): void {
    const now = performance.now();
    if (now - this.lastDraw < 100 && done !== this.total) return;
    this.lastDraw = now;
    const rate = done / ((now - this.start) / 1000);
    const width = 30;
    const bar = this.total ? `[${'#'.repeat(Math.round((done / this.total) * width)).padEnd(width, '.')}] ${done}/${this.total}` : `${done} samples`;
    liveLine(`${bar}  ${rate.toFixed(1)}/s`);
  }
  clear(): void {
    clearLine();
  }
}

const RATE_METRICS = /^(top1|top5|macro|exactMatch|cer|pixel|box|fidelity\.top1)/;

function formatEstimate(name: string, e: Estimate): string {
  const pct = RATE_METRICS.test(name);
  const f = (v: number) => (pct ? `${(v * 100).toFixed(2)}%` : Math.abs(v) >= 1e-3 || v === 0 ? v.toPrecision(4) : v.toExponential(2));
  const interval = e.confidence < 1 ? `  [${f(e.low)}, ${f(e.high)}] ${Math.round(e.confidence * 100)}% CI` : '';
  return `  ${name.padEnd(24)} ${f(e.value).padStart(10)}${interval}\n`;
}

function formatResult(r: EvalResult, only: readonly string[]): string {
  const unknown = only.filter((m) => !(m in r.metrics));
  if (unknown.length) throw new InputError(`no metric ${unknown.join(', ')} for this task (have: ${Object.keys(r.metrics).join(', ')})`);
  let out = `task ${r.task}: ${r.samples} samples in ${r.seconds.toFixed(1)} s (${r.samplesPerSecond.toFixed(1)} samples/s, peak RSS ${r.peakRssMB.toFixed(0)} MB)\n`;
  for (const [name, e] of Object.entries(r.metrics)) if (!only.length || only.includes(name)) out += formatEstimate(name, e);
  if (r.confusion && r.confusion.length <= 20 && !only.length) {
    const names = r.confusion.map((_, i) => r.classes?.[i] ?? String(i));
    const w = Math.max(5, ...names.map((n) => n.length), ...r.confusion.flat().map((v) => String(v).length)) + 1;
    out += `confusion (rows: label, columns: prediction)\n${''.padStart(w)}${names.map((n) => n.padStart(w)).join('')}\n`;
    r.confusion.forEach((row, i) => (out += `${names[i]!.padStart(w)}${row.map((v) => String(v).padStart(w)).join('')}\n`));
  }
  if (r.misses?.length && !only.length) {
    out += 'some misread lines (expected → got)\n';
    for (const m of r.misses.slice(0, 5)) out += `  ${JSON.stringify(m.expected)} → ${JSON.stringify(m.got)}\n`;
  }
  return out;
}
