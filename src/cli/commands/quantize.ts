import * as path from 'node:path';
import type { Command } from 'commander';
import { InputError } from '../../errors.js';
import { loadModel, modelSizeOnDisk } from '../../ir/io.js';
import { saveModelProven } from '../../runtime/prove.js';
import { checkOutputFile } from '../../util/files.js';
import type { Model } from '../../ir/graph.js';
import type { Target } from '../../passes/pass.js';
import { INPUT_FLAG_HELP, parseInputFlags, parseShapeFlags } from '../../runtime/inputs.js';
import { Session } from '../../runtime/session.js';
import { calibrationData, datasetEvaluator, takeFeeds } from '../../quantize/data-sources.js';
import { quantizeWithFallback, type FallbackReport } from '../../quantize/fallback.js';
import { checkQuantizeOptions, isQuantizeMode, QUANTIZE_MODES, quantizeModel, type QuantizeOptions } from '../../quantize/quantize.js';
import { flagName, type ParamSource } from '../../util/validate.js';
import { staticQuantizePass } from '../../quantize/static.js';
import { parseAccuracyDrop } from '../../search/goals.js';
import { nodeSensitivity, type NodeSensitivity } from '../../quantize/sensitivity.js';
import { collect, parseDimFlags, parseIntFlag } from '../flags.js';
import { kernelList, ortKernels, type KernelCount } from '../../runtime/kernels.js';

interface QuantizeFlags {
  output: string;
  mode: string;
  target: string;
  calib?: string;
  calibMethod: string;
  calibLimit: string;
  calibBatch: string;
  percentile?: string;
  cache: boolean;
  perChannel?: boolean;
  activationType: string;
  symmetricActivations?: boolean;
  reduceRange?: boolean;
  attention?: string;
  bits: string;
  blockSize: string;
  zeroPoints?: boolean;
  accuracyLevel: string;
  algorithm: string;
  include: string[];
  exclude: string[];
  sensitivity?: boolean;
  maxAccuracyDrop?: string;
  data?: string;
  metric?: string;
  limit?: string;
  trials: string;
  shape: string[];
  dim: string[];
  input: string[];
  json?: boolean;
}

const TARGETS: readonly Target[] = ['cpu', 'std', 'wasm'];
const list = (xs: string[]) => xs.flatMap((x) => x.split(',')).map((x) => x.trim()).filter(Boolean);

export function register(program: Command): void {
  program
    .command('quantize')
    .description('Quantize a model: dynamic int8, static int8 (QDQ), weight-only 4/8-bit, fp16/bf16; sensitivity and accuracy-aware fallback')
    .argument('<model>', 'ONNX model file')
    .requiredOption('-o, --output <file>', 'where to write the quantized model')
    .requiredOption('--mode <mode>', QUANTIZE_MODES.join(' | '))
    .option('--target <t>', 'cpu (ORT contrib ops) | std (standard ONNX only) | wasm (onnxruntime-web)', 'cpu')
    .option('--calib <data>', 'calibration data: dataset folder, data file, JSON spec, or random:N')
    .option('--calib-method <m>', staticQuantizePass.params.calibMethod.choices!.join(' | '), 'minmax')
    .option('--calib-limit <n>', 'calibration samples', '100')
    .option('--calib-batch <n>', 'samples per calibration batch', '1')
    .option('--percentile <p>', 'percentile kept by --calib-method percentile (default 99.999)')
    .option('--no-cache', 'do not reuse or write calibration statistics beside the model')
    .option('--per-channel', 'per-channel weights for MatMul/Gemm too (static Conv always is)')
    .option('--activation-type <t>', 'static: int8 (S8S8) | uint8 (U8S8) | auto (uint8 on cpu: ORT x86 fuses only U8 Conv)', 'auto')
    .option('--symmetric-activations', 'static: symmetric activation ranges')
    .option('--reduce-range', '7-bit weights (CPUs without VNNI)')
    .option('--attention <form>', 'dynamic: fused Attention as qattention (com.microsoft QAttention) | split (int8 QKV MatMul + MultiHeadAttention)')
    .option('--bits <n>', 'weight-only: 4 | 8', '4')
    .option('--block-size <n>', 'weight-only: weights per scale (power of two ≥ 16)', '32')
    .option('--zero-points', 'weight-only: asymmetric blocks with zero points')
    .option('--accuracy-level <n>', 'weight-only: MatMulNBits accuracy_level (0-4; 4 = int8 compute)', '0')
    .option('--algorithm <a>', 'weight-only: rtn | gptq (gptq needs --calib)', 'rtn')
    .option('--include <nodes>', 'only these node names / op types (comma list, repeatable)', collect, [])
    .option('--exclude <nodes>', 'never these node names / op types (comma list, repeatable)', collect, [])
    .option('--sensitivity', 'rank quantized nodes by the error each one introduces alone')
    .option('--max-accuracy-drop <points>', 'move sensitive nodes back to float until the metric is at most this much worse: points (1 = one percentage point of a rate) or N%rel of the float model, as in optimize (needs --data)')
    .option('--data <data>', 'labelled data for --max-accuracy-drop (dataset folder, file or JSON spec, as eval reads)')
    .option('--metric <name>', 'metric for --max-accuracy-drop (default: the task\'s first, e.g. top1, cer)')
    .option('--limit <n>', 'samples of --data scored')
    .option('--trials <n>', 'fallback trials after the first quantization', '10')
    .option('--shape <name=dims>', 'input shape for random data, e.g. x=1x3x224x224 (repeatable)', collect, [])
    .option('--dim <name=n>', 'symbolic dimension for random data, e.g. seq=128 (repeatable)', collect, [])
    .option('--input <name=value>', `for random data and the check run: ${INPUT_FLAG_HELP}`, collect, [])
    .option('--json', 'print JSON')
    .action(async (file: string, flags: QuantizeFlags, cmd: Command) => {
      const verbose = !!cmd.optsWithGlobals().verbose;
      const result = await runQuantize(file, flags, verbose);
      process.stdout.write(flags.json ? JSON.stringify(result, null, 1) + '\n' : formatResult(result));
    });
}

interface QuantizeReport {
  input: string;
  output: string;
  mode: string;
  target: Target;
  sizeBefore: number;
  sizeAfter: number;
  ratio: number;
  stats: Record<string, number>;
  /** What the mode left undone and why (nothing quantized; ops inside subgraphs left float). */
  notes?: string[];
  /** Compute kernels ONNX Runtime runs for the output (int8 and float), from its optimized graph. */
  kernels?: KernelCount;
  opsAfter: Record<string, number>;
  calibration?: string;
  sensitivity?: NodeSensitivity[];
  fallback?: Omit<FallbackReport, 'ranking'>;
}

/** A numeric flag as a number, or the text itself (the parameter check then names what was typed). */
const numeric = (s: string): number | string => (/^\s*[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?\s*$/i.test(s) ? Number(s) : s);

function parseOptions(flags: QuantizeFlags): QuantizeOptions {
  if (!isQuantizeMode(flags.mode)) throw new InputError(`unknown --mode '${flags.mode}' (expected ${QUANTIZE_MODES.join(', ')})`);
  if (!TARGETS.includes(flags.target as Target)) throw new InputError(`--target must be one of ${TARGETS.join(', ')}`);
  if (flags.mode === 'static' && !flags.calib) throw new InputError('--mode static needs calibration data: --calib <data> (or random:N to try it out)');
  if (flags.algorithm === 'gptq' && !flags.calib) throw new InputError('--algorithm gptq needs calibration data: --calib <data>');
  if (flags.maxAccuracyDrop !== undefined && !flags.data) throw new InputError('--max-accuracy-drop needs --data <labelled data>');
  // values are checked against the passes' declared parameters (one validator for flags, recipes and library calls)
  const options = {
    mode: flags.mode,
    target: flags.target as Target,
    include: list(flags.include),
    exclude: list(flags.exclude),
    perChannel: flags.perChannel,
    calibMethod: flags.calibMethod,
    percentile: flags.percentile !== undefined ? numeric(flags.percentile) : undefined,
    activationType: flags.activationType,
    symmetricActivations: flags.symmetricActivations,
    reduceRange: flags.reduceRange,
    attention: flags.attention,
    bits: numeric(flags.bits),
    blockSize: numeric(flags.blockSize),
    symmetric: !flags.zeroPoints,
    accuracyLevel: numeric(flags.accuracyLevel),
    algorithm: flags.algorithm,
  } as QuantizeOptions;
  checkQuantizeOptions(options, FLAG_NAMES);
  return options;
}

const FLAG_NAMES: ParamSource = { source: 'quantize', label: (p) => (p === 'symmetric' ? '--zero-points' : flagName(p)) };

async function runQuantize(file: string, flags: QuantizeFlags, verbose: boolean): Promise<QuantizeReport> {
  const options = parseOptions(flags);
  const out = path.resolve(flags.output);
  if (out === path.resolve(file)) throw new InputError('-o must differ from the input model (inputs are never overwritten)');
  const model = loadModel(file);
  checkOutputFile(flags.output, '-o'); // after the load: the model and its external data are inputs now
  const log = verbose || !flags.json ? (m: string) => process.stderr.write(`${m}\n`) : undefined;
  const inputSpec = { shapes: parseShapeFlags(flags.shape), dims: parseDimFlags(flags.dim), ...(flags.input.length ? { values: parseInputFlags(flags.input) } : {}) };
  const calibOpts = { limit: parseIntFlag('--calib-limit', flags.calibLimit, 1), batch: parseIntFlag('--calib-batch', flags.calibBatch, 1), inputs: inputSpec };
  const calib = flags.calib ? await calibrationData(flags.calib, model, calibOpts) : undefined;
  options.calibration = calib?.data;
  options.log = log;
  if (calib && flags.cache) options.calibrate = { cache: { dir: path.join(path.dirname(path.resolve(file)), '.inferopt-cache'), dataKey: await calib.contentKey() }, log };
  const report: Partial<QuantizeReport> = { calibration: calib?.description };
  let result: Model;
  let stats: Record<string, number> = {};
  if (flags.maxAccuracyDrop !== undefined) {
    const bound = parseAccuracyDrop(flags.maxAccuracyDrop);
    const maxDrop = bound.value;
    const evalLimit = flags.limit !== undefined ? parseIntFlag('--limit', flags.limit, 1) : undefined;
    const ev = await datasetEvaluator(flags.data!, model, { metric: flags.metric, limit: evalLimit, log, relative: bound.relative });
    // decisions (sensitivity ranking, trials) on one half of --data, the reported drop on the other
    const feeds = await ev.feeds(8);
    const r = await quantizeWithFallback(model, options, { maxDrop, evaluate: ev.select, report: ev.report, higherIsBetter: ev.higherIsBetter, feeds, trials: parseIntFlag('--trials', flags.trials, 0), log });
    result = r.model;
    const { ranking, ...rest } = r.report;
    report.fallback = rest;
    report.sensitivity = ranking;
    log?.(`fallback (${ev.metric}): ${r.report.message}`);
    if (!r.report.met) process.exitCode = 3; // the best model is still written, and the report says why
  } else {
    if (flags.sensitivity) {
      const source = flags.data ?? flags.calib;
      const feeds = source ? await takeFeeds((await calibrationData(source, model, { ...calibOpts, limit: 8 })).data, 8) : await takeFeeds((await calibrationData('random:4', model, calibOpts)).data, 4);
      report.sensitivity = await nodeSensitivity(model, { ...options, calibration: flags.calib ? (await calibrationData(flags.calib, model, calibOpts)).data : undefined }, feeds, verbose ? log : undefined);
    }
    const r = await quantizeModel(model, { ...options, inPlace: !flags.sensitivity }, FLAG_NAMES);
    result = r.model;
    stats = r.stats;
    report.notes = r.notes;
    for (const n of r.notes) process.stderr.write(`inferopt: note: ${n}\n`);
  }
  // loaded and run once in the runtime it targets (ORT node for cpu/std, onnxruntime-web for wasm) before it is in place
  const saved = await saveModelProven(result, out, { flag: '-o', reference: file, input: inputSpec, backend: options.target === 'wasm' ? 'wasm' : 'node' });
  if (saved.proof.note) process.stderr.write(`inferopt: note: ${flags.output} ${saved.proof.note}\n`);
  const nothing = report.notes?.some((n) => n.startsWith('nothing '));
  if (options.target !== 'wasm') report.kernels = await countKernels(file, out, options.mode, inputSpec.dims, !nothing);
  const sizeBefore = modelSizeOnDisk(file);
  const sizeAfter = saved.bytes + saved.dataBytes;
  const opsAfter: Record<string, number> = {};
  for (const n of result.graph.allNodes()) opsAfter[n.opType] = (opsAfter[n.opType] ?? 0) + 1; // If/Loop bodies included
  return { ...report, input: file, output: out, mode: options.mode, target: options.target ?? 'cpu', sizeBefore, sizeAfter, ratio: sizeBefore / sizeAfter, stats, opsAfter };
}

/**
 * The kernels ONNX Runtime will run for the quantized model, with a warning when most of its multiply-adds
 * stay in float kernels (then it is rarely faster than the float model: QDQ pairs ORT did not fuse only add
 * work). Undefined, with a note, when ORT cannot write its optimized graph (e.g. a model over 2 GB).
 */
async function countKernels(input: string, out: string, mode: string, dims: Record<string, number>, quantizedAny: boolean): Promise<KernelCount | undefined> {
  let k: KernelCount;
  try {
    k = await ortKernels(out, { dims });
  } catch (e) {
    process.stderr.write(`inferopt: note: could not count the kernels ONNX Runtime runs for ${out}: ${(e as Error).message.split('\n')[0]}\n`);
    return undefined;
  }
  const total = k.int8Total + k.floatTotal;
  // (nothing quantized: the note above says so and why)
  if (mode !== 'fp16' && mode !== 'bf16' && quantizedAny && total > 0 && k.int8Total <= k.floatTotal) {
    const unfused = k.unfusedQdq ? `, ${k.unfusedQdq} of them reading a DequantizeLinear ORT did not fuse` : '';
    process.stderr.write(
      `inferopt: warning: ONNX Runtime will run ${k.int8Total} of the ${total} compute ops as int8 kernels (${kernelList(k.int8)}); ${k.floatTotal} stay float (${kernelList(k.float)}${unfused}): the quantized model will likely not be faster than the float one — measure: inferopt bench ${input} --compare ${out}\n`,
    );
  }
  return k;
}

function formatResult(r: QuantizeReport): string {
  const mb = (b: number) => `${(b / 1e6).toFixed(2)} MB`;
  const lines = [`${r.mode} (${r.target}): ${r.output}`, `size ${mb(r.sizeBefore)} → ${mb(r.sizeAfter)} (${r.ratio.toFixed(2)}× smaller)`];
  if (r.calibration) lines.push(`calibration: ${r.calibration}`);
  if (Object.keys(r.stats).length) lines.push(`stats: ${Object.entries(r.stats).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  lines.push(`ops: ${Object.entries(r.opsAfter).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  if (r.kernels) lines.push(`ONNX Runtime kernels: int8 ${kernelList(r.kernels.int8)}; float ${kernelList(r.kernels.float)}`);
  if (r.sensitivity?.length) {
    lines.push('sensitivity (most sensitive first; SQNR in dB with only that node quantized):');
    lines.push('  node                               op                 node out   model out');
    for (const s of r.sensitivity.slice(0, 20)) lines.push(`  ${s.node.padEnd(34)} ${s.opType.padEnd(18)} ${s.outputSqnr.toFixed(1).padStart(8)} ${s.finalSqnr.toFixed(1).padStart(11)}`);
    if (r.sensitivity.length > 20) lines.push(`  … ${r.sensitivity.length - 20} more (--json for all)`);
  }
  if (r.fallback) {
    const f = r.fallback;
    lines.push(`accuracy-aware fallback: ${f.message}`);
    lines.push(`  baseline ${f.baseline.toFixed(2)}, fully quantized ${f.fullyQuantized.toFixed(2)}, kept ${f.best.toFixed(2)}`);
    for (const n of f.floatNodes) lines.push(`  float: ${n.node} (${n.opType}) — alone it gives ${n.finalSqnr.toFixed(1)} dB at the output`);
  }
  return lines.join('\n') + '\n';
}
