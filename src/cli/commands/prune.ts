import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import { openDataset, split } from '../../data/dataset.js';
import { InputError } from '../../errors.js';
import type { Model } from '../../ir/graph.js';
import { loadModel, saveModel } from '../../ir/io.js';
import { activationNorms } from '../../prune/activations.js';
import { accuracyEstimate, top1Hits } from '../../prune/evaluate.js';
import { finetune } from '../../prune/finetune.js';
import { CRITERIA, type Criterion } from '../../prune/importance.js';
import { GRANULARITIES, isGranularity, modelSizes, parsePattern, pruneModel, type PruneOptions, type PruneReport, type SizeReport } from '../../prune/prune.js';
import { taylorTerms } from '../../prune/finetune.js';
import { prunableWeights } from '../../prune/unstructured.js';
import { calibrationData, takeFeeds } from '../../quantize/data-sources.js';
import { compare } from '../../runtime/bench.js';
import { parseShapeFlags } from '../../runtime/inputs.js';
import { collectTensorData } from '../../train/data.js';
import { gatherBatch, type TensorData } from '../../train/trainer.js';
import type { Tensor } from '../../ir/tensor.js';
import { readerStats } from '../../prune/compensate.js';
import { parseBudget } from '../../search/budget.js';
import { collect, parseDimFlags, parseIntFlag, parseThreadsFlag, parsePositiveFlag } from '../flags.js';

interface PruneFlags {
  output: string;
  granularity: string;
  pattern: string;
  scope: string;
  sparsity?: string;
  targetFlops?: string;
  targetParams?: string;
  targetLatency?: string;
  importance?: string;
  minKeep: string;
  align?: string;
  calib?: string;
  calibLimit: string;
  trainData?: string;
  testData?: string;
  epochs: string;
  batch: string;
  lr: string;
  budget?: string;
  distill?: boolean;
  temperature: string;
  schedule: string;
  steps: string;
  bench: boolean;
  runs: string;
  threads: string;
  shape: string[];
  dim: string[];
  json?: boolean;
  compensate: boolean;
  sensitivity?: boolean;
}

export function register(program: Command): void {
  program
    .command('prune')
    .description('Prune a model: unstructured, N:M (2:4), or structured (channels, attention heads, FFN neurons, whole layers) removed physically; optional recovery fine-tuning')
    .argument('<model>', 'ONNX model file')
    .requiredOption('-o, --output <file>', 'where to write the pruned model')
    .option('--granularity <g>', GRANULARITIES.join(' | '), 'channel')
    .option('--pattern <n:m>', 'n:m: N kept of every M weights along the reduction axis', '2:4')
    .option('--scope <s>', 'unstructured: global (one threshold) | layer (same fraction per weight)', 'global')
    .option('--sparsity <x>', 'fraction removed: of weights (unstructured) or of removable groups (structured)')
    .option('--target-flops <x>', 'structured: keep at most this fraction of the FLOPs')
    .option('--target-params <x>', 'keep at most this fraction of the parameters')
    .option('--target-latency <ms>', 'structured: prune until the measured latency is at most this')
    .option('--importance <c>', `${CRITERIA.join(' | ')} (default l2; wanda and fluctuation need --calib or --train-data, taylor --train-data)`)
    .option('--sensitivity', 'structured: scan each layer alone (25/50/75% removed; output error on --calib/--train-data inputs, else random ones) and give sensitive layers smaller amounts')
    .option('--min-keep <x>', 'structured: every layer keeps at least this fraction of its units', '0.1')
    .option('--align <n>', 'structured: each pruned layer keeps a multiple of n units (default 8 for channels/FFN, 1 for heads; ORT kernels block channels by 8)')
    .option('--calib <data>', 'calibration data for wanda (dataset folder, file, JSON spec or random:N)')
    .option('--calib-limit <n>', 'calibration samples', '64')
    .option('--train-data <spec>', 'training data for recovery fine-tuning and taylor importance (dataset spec, folder or file)')
    .option('--test-data <spec>', 'held-out data: accuracy before and after (default: 10% of --train-data)')
    .option('--epochs <n>', 'fine-tuning epochs (with --train-data)', '1')
    .option('--batch <n>', 'fine-tuning batch size', '64')
    .option('--lr <x>', 'fine-tuning peak learning rate (SGD, Nesterov momentum, cosine)', '0.01')
    .option('--budget <time>', 'stop fine-tuning after this long (90s, 5m)')
    .option('--distill', 'fine-tune against the unpruned model\'s logits as well as the labels')
    .option('--temperature <t>', 'distillation temperature', '2')
    .option('--schedule <s>', 'one-shot | gradual (linear) | cubic: prune in --steps steps, fine-tuning after each', 'one-shot')
    .option('--steps <n>', 'pruning steps for gradual / cubic', '3')
    .option('--no-compensate', 'structured: do not fold removed units\' mean outputs into the next layers\' biases (done when --calib or --train-data gives statistics)')
    .option('--no-bench', 'do not time the pruned model against the original')
    .option('--runs <n>', 'timed rounds of the side-by-side comparison', '30')
    .option('--threads <n>', 'ONNX Runtime threads', '2')
    .option('--shape <name=dims>', 'input shape, e.g. x=1x3x224x224 (repeatable)', collect, [])
    .option('--dim <name=n>', 'symbolic dimension, e.g. seq=128 (repeatable)', collect, [])
    .option('--json', 'print JSON')
    .action(async (file: string, flags: PruneFlags) => {
      const result = await runPrune(file, flags);
      process.stdout.write(flags.json ? JSON.stringify(result, null, 1) + '\n' : formatResult(result));
    });
}

function fraction(flag: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0 || n >= 1 || v.trim() === '') throw new InputError(`${flag} must be a fraction in [0, 1), not '${v}'`);
  return n;
}

interface PruneResultJson {
  input: string;
  output: string;
  granularity: string;
  criterion: string;
  schedule: string;
  report: Omit<PruneReport, 'masks'>;
  sizes: { before: SizeReport; after: SizeReport };
  accuracy?: { before: number; after: number; beforeInterval: [number, number]; afterInterval: [number, number]; examples: number };
  finetune?: { seconds: number; epochs: number };
  speed?: { ratio: number; low: number; high: number; medianBeforeMs: number; medianAfterMs: number; shapes: string; verdict: string };
}

async function loadData(spec: string, model: Model): Promise<TensorData> {
  const names = model.graph.inputs.filter((v) => !v.initializer).map((v) => v.name);
  return collectTensorData(await openDataset(spec), names);
}

async function runPrune(file: string, flags: PruneFlags): Promise<PruneResultJson> {
  if (!isGranularity(flags.granularity)) throw new InputError(`unknown --granularity '${flags.granularity}' (expected ${GRANULARITIES.join(', ')})`);
  if (flags.importance !== undefined && !CRITERIA.includes(flags.importance as Criterion)) throw new InputError(`unknown --importance '${flags.importance}' (expected ${CRITERIA.join(', ')})`);
  if (!['global', 'layer'].includes(flags.scope)) throw new InputError('--scope must be global or layer');
  if (!['one-shot', 'gradual', 'cubic'].includes(flags.schedule)) throw new InputError('--schedule must be one-shot, gradual or cubic');
  const amounts = {
    sparsity: fraction('--sparsity', flags.sparsity),
    targetFlops: fraction('--target-flops', flags.targetFlops),
    targetParams: fraction('--target-params', flags.targetParams),
    targetLatency: flags.targetLatency !== undefined ? parsePositiveFlag('--target-latency', flags.targetLatency) : undefined,
  };
  const given = Object.values(amounts).filter((x) => x !== undefined).length;
  if (given > 1) throw new InputError('give one amount: --sparsity, --target-flops, --target-params or --target-latency');
  if (given === 0 && flags.granularity !== 'n:m') throw new InputError('give an amount: --sparsity, --target-flops, --target-params or --target-latency');
  if (amounts.targetFlops === 0 || amounts.targetParams === 0) throw new InputError('a target of 0 would remove everything');
  const nm = flags.granularity === 'n:m' ? parsePattern(flags.pattern) : undefined;
  if (flags.importance === 'taylor' && !flags.trainData) throw new InputError('--importance taylor needs --train-data (its gradients come from training batches)');
  if (flags.importance === 'wanda' && !flags.calib) throw new InputError('--importance wanda needs --calib (activation norms)');
  if (flags.importance === 'fluctuation' && !flags.calib && !flags.trainData) throw new InputError('--importance fluctuation needs --calib or --train-data (activation statistics)');
  if (flags.distill && !flags.trainData) throw new InputError('--distill needs --train-data');
  if (flags.schedule !== 'one-shot' && !flags.trainData) throw new InputError(`--schedule ${flags.schedule} fine-tunes between steps: it needs --train-data`);
  const steps = flags.schedule === 'one-shot' ? 1 : parseIntFlag('--steps', flags.steps, 1);
  const threads = parseThreadsFlag(flags.threads);
  const budgetMs = flags.budget !== undefined ? parseBudget(flags.budget).ms : undefined;
  if (flags.budget !== undefined && budgetMs === undefined) throw new InputError('--budget takes a time here (90s, 5m)');
  if (!fs.existsSync(file)) throw new InputError(`${file}: no such file`);
  const out = path.resolve(flags.output);
  if (out === path.resolve(file)) throw new InputError('-o must differ from the input model (inputs are never overwritten)');
  const original = loadModel(file);
  const dims = parseDimFlags(flags.dim);
  const shapes = parseShapeFlags(flags.shape);
  const log = (m: string) => process.stderr.write(`${m}\n`);

  let trainData: TensorData | undefined;
  let testData: TensorData | undefined;
  if (flags.trainData) {
    log('loading training data…');
    if (flags.testData) {
      trainData = await loadData(flags.trainData, original);
      testData = await loadData(flags.testData, original);
    } else {
      const s = split(await openDataset(flags.trainData), { calibrationFraction: 0.1 });
      const names = original.graph.inputs.filter((v) => !v.initializer).map((v) => v.name);
      trainData = await collectTensorData(s.evaluation, names);
      testData = await collectTensorData(s.calibration, names);
    }
  } else if (flags.testData) testData = await loadData(flags.testData, original);

  const base: Omit<PruneOptions, 'granularity'> = {
    criterion: flags.importance as Criterion | undefined,
    scope: flags.scope as 'global' | 'layer',
    nm,
    minKeep: fraction('--min-keep', flags.minKeep),
    align: flags.align !== undefined ? parseIntFlag('--align', flags.align, 1) : undefined,
    dims,
    shapes,
    log,
  };
  if (flags.importance === 'wanda') {
    const feeds = await takeFeeds((await calibrationData(flags.calib!, original, { limit: parseIntFlag('--calib-limit', flags.calibLimit, 1), inputs: { shapes, dims } })).data, parseIntFlag('--calib-limit', flags.calibLimit, 1));
    base.activationNorms = await activationNorms(original, prunableWeights(original, { dims, shapes }), feeds, threads);
  }
  if (amounts.targetLatency !== undefined) {
    const ms = amounts.targetLatency;
    base.targetLatency = { ms, measure: async (m) => (await compare(original, m, { runs: 10, threads, shapes, dims })).b.latencyMs.p50 };
  }

  const t0 = performance.now();
  const deadline = budgetMs !== undefined ? t0 + budgetMs : undefined;
  let model = original;
  let report: PruneReport | undefined;
  let tuned: { seconds: number; epochs: number } | undefined;
  for (let k = 1; k <= steps; k++) {
    // the share of the final amount reached after step k
    const share = flags.schedule === 'cubic' ? 1 - (1 - k / steps) ** 3 : k / steps;
    const stepOpts: PruneOptions = { ...base, granularity: flags.granularity, baseline: original };
    const before = flags.schedule === 'cubic' ? 1 - (1 - (k - 1) / steps) ** 3 : (k - 1) / steps;
    // unstructured masks are recomputed on all weights; structured groups already removed are gone
    if (amounts.sparsity !== undefined) stepOpts.sparsity = report?.structured ? (amounts.sparsity * (share - before)) / (1 - amounts.sparsity * before) : amounts.sparsity * share;
    if (amounts.targetFlops !== undefined) stepOpts.targetFlops = 1 - (1 - amounts.targetFlops) * share;
    if (amounts.targetParams !== undefined) stepOpts.targetParams = 1 - (1 - amounts.targetParams) * share;
    if (base.targetLatency) stepOpts.targetLatency = base.targetLatency;
    if (flags.importance === 'taylor') stepOpts.scores = { taylor: await taylorTerms(model, trainData!, { threads }) };
    const structured = !['unstructured', 'n:m'].includes(flags.granularity);
    if (structured && (flags.calib || trainData)) {
      const feeds = flags.calib
        ? await takeFeeds((await calibrationData(flags.calib, model, { limit: parseIntFlag('--calib-limit', flags.calibLimit, 1), inputs: { shapes, dims } })).data, parseIntFlag('--calib-limit', flags.calibLimit, 1))
        : statsBatches(trainData!);
      if (flags.sensitivity) stepOpts.sensitivity = { feeds: feeds.slice(0, flags.calib ? 16 : 2), threads };
      if (flags.granularity === 'layer') stepOpts.feeds = feeds;
      else if (flags.importance === 'fluctuation' || flags.compensate) {
        const st = await readerStats(model, feeds, { dims, shapes, threads });
        if (flags.compensate) stepOpts.means = st.means;
        stepOpts.scores = { ...stepOpts.scores, variances: st.variances };
      }
    }
    if (flags.sensitivity) stepOpts.sensitivity ??= { threads };
    const r = await pruneModel(model, stepOpts);
    model = r.model;
    report = r.report;
    log(`step ${k}/${steps}: ${summary(r.report)}`);
    if (trainData) {
      const left = deadline !== undefined ? Math.max(1, (deadline - performance.now()) / 1000 / (steps - k + 1)) : undefined;
      const f = await finetune(model, {
        train: trainData,
        test: testData,
        epochs: parseIntFlag('--epochs', flags.epochs, 1),
        batch: parseIntFlag('--batch', flags.batch, 1),
        lr: parsePositiveFlag('--lr', flags.lr),
        seconds: left,
        masks: r.report.masks,
        teacher: flags.distill ? original : undefined,
        temperature: parsePositiveFlag('--temperature', flags.temperature),
        threads,
        onEpoch: (s) => log(`  fine-tune epoch ${s.epoch}: loss ${s.loss.toFixed(4)}${s.testAccuracy !== undefined ? `, held-out ${(100 * s.testAccuracy).toFixed(2)}%` : ''} (${s.seconds.toFixed(0)} s)`),
      });
      model = f.model;
      tuned = { seconds: (tuned?.seconds ?? 0) + f.seconds, epochs: parseIntFlag('--epochs', flags.epochs, 1) };
    }
  }
  saveModel(model, out);
  const { masks, ...rest } = report!;
  const result: PruneResultJson = {
    input: file,
    output: out,
    granularity: flags.granularity,
    criterion: report!.criterion,
    schedule: flags.schedule,
    report: rest,
    sizes: { before: modelSizes(original), after: modelSizes(model, masks, nm) },
    finetune: tuned,
  };
  if (testData) {
    const [a, b] = [await top1Hits(original, testData, threads), await top1Hits(model, testData, threads)];
    const [ea, eb] = [accuracyEstimate(a), accuracyEstimate(b)];
    result.accuracy = { before: ea.value, after: eb.value, beforeInterval: [ea.low, ea.high], afterInterval: [eb.low, eb.high], examples: a.length };
  }
  if (flags.bench) {
    const c = await compare(original, model, { runs: parseIntFlag('--runs', flags.runs, 2), threads, shapes, dims });
    const structured = !!report!.structured;
    const faster = c.ratio.high < 1;
    const verdict = structured
      ? faster ? 'faster: the removed units are gone from the graph' : 'no measurable speed-up at this amount'
      : `no speed-up expected on ONNX Runtime CPU: zeros are still multiplied${faster ? ' (measured faster anyway: check the interval)' : ''}; the gain is size when compressed${nm ? ', and 2:4 speed on NVIDIA sparse tensor cores (TensorRT) — that check waits for a GPU machine' : ''}`;
    result.speed = {
      ratio: c.ratio.ratio,
      low: c.ratio.low,
      high: c.ratio.high,
      medianBeforeMs: c.a.latencyMs.p50,
      medianAfterMs: c.b.latencyMs.p50,
      shapes: c.a.inputs.map((i) => `${i.name}=${i.shape.join('x')}`).join(' '),
      verdict,
    };
  }
  return result;
}

/** Up to 2,048 training examples in batches of 256, for activation statistics. */
function statsBatches(data: TensorData): Record<string, Tensor>[] {
  const order = Uint32Array.from({ length: data.length }, (_, i) => i);
  const out: Record<string, Tensor>[] = [];
  for (let from = 0; from < Math.min(data.length, 2048); from += 256) {
    const { labels: _labels, ...feeds } = gatherBatch(data, order, from, Math.min(256, data.length - from));
    out.push(feeds);
  }
  return out;
}

function summary(r: PruneReport): string {
  if (r.structured) {
    const s = r.structured;
    return `${s.removed} of ${s.candidates} ${s.granularity} groups removed (${r.criterion}); params ${s.params[0]} → ${s.params[1]}, FLOPs ${(s.flops[0] / 1e6).toFixed(1)}M → ${(s.flops[1] / 1e6).toFixed(1)}M`;
  }
  const u = r.unstructured!;
  return `${u.pattern ?? 'unstructured'}: ${(100 * u.sparsity).toFixed(1)}% of ${u.total} weights zero in ${u.weights} tensors${u.skipped.length ? `; ${u.skipped.length} left dense` : ''}`;
}

function formatResult(r: PruneResultJson): string {
  const mb = (b: number) => `${(b / 1e6).toFixed(2)} MB`;
  const lines = [`${r.granularity} pruning (${r.criterion}, ${r.schedule}): ${r.output}`, summary({ ...r.report, masks: undefined } as PruneReport)];
  const s = r.report.structured;
  if (s?.sensitivity) {
    lines.push(`per-layer sensitivity (relative output error when the layer alone loses ${s.sensitivity[0]!.errors.map((e) => `${Math.round(100 * e.amount)}%`).join(' / ')}) → amount given:`);
    // '—': alignment or the minimum keep left nothing to remove at that amount
    for (const l of s.sensitivity) lines.push(`  ${l.sources.join(' + ')} (${l.units} units): ${l.errors.map((e) => (e.removed ? e.error.toFixed(4) : '—')).join(' / ')} → ${Math.round(100 * (l.chosen ?? 0))}%`);
  }
  if (s?.blocked.length) {
    lines.push('not removable:');
    for (const b of s.blocked.slice(0, 5)) lines.push(`  ${b.groups} groups: ${b.reason}`);
  }
  for (const sk of r.report.unstructured?.skipped.slice(0, 5) ?? []) lines.push(`  dense: ${sk.name} — ${sk.reason}`);
  lines.push(`size on disk ${mb(r.sizes.before.onDisk)} → ${mb(r.sizes.after.onDisk)}; gzip ${mb(r.sizes.before.compressed)} → ${mb(r.sizes.after.compressed)}${r.report.unstructured ? `; sparse storage ${mb(r.sizes.after.sparseStorage)}` : ''}`);
  if (r.finetune) lines.push(`fine-tuned ${r.finetune.seconds.toFixed(0)} s`);
  if (r.accuracy) {
    const a = r.accuracy;
    lines.push(`top-1 ${a.before.toFixed(2)}% [${a.beforeInterval.map((x) => x.toFixed(2)).join('–')}] → ${a.after.toFixed(2)}% [${a.afterInterval.map((x) => x.toFixed(2)).join('–')}] on ${a.examples} held-out examples`);
  }
  if (r.speed) {
    const sp = r.speed;
    lines.push(`latency ${sp.medianBeforeMs.toFixed(2)} → ${sp.medianAfterMs.toFixed(2)} ms (median, ${sp.shapes}): ${(1 / sp.ratio).toFixed(2)}× [${(1 / sp.high).toFixed(2)}–${(1 / sp.low).toFixed(2)}] — ${sp.verdict}`);
  }
  return lines.join('\n') + '\n';
}
