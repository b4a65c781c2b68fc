import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import { InputError } from '../../errors.js';
import { loadModel, modelSizeOnDisk } from '../../ir/io.js';
import { saveModelProven } from '../../runtime/prove.js';
import { checkOutputFile, makeFolders, markInput, toolCacheDir, writeFileSafe } from '../../util/files.js';
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
import { HF_SIDE_FILES, isTransformersJsDtype, TRANSFORMERS_JS_DTYPES, transformersJsFileName, transformersJsPart, transformersJsVariant, type TransformersJsFile } from '../../quantize/transformers-js.js';
import { kernelList, kernelSummary, ortKernels, type KernelCount } from '../../runtime/kernels.js';

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
  depthwise: string;
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
  layout?: string;
  dtype: string[];
}

const TARGETS: readonly Target[] = ['cpu', 'std', 'wasm'];
const list = (xs: string[]) => xs.flatMap((x) => x.split(',')).map((x) => x.trim()).filter(Boolean);

export function register(program: Command): void {
  program
    .command('quantize')
    .description('Quantize a model: dynamic int8, static int8 (QDQ), weight-only 4/8-bit, fp16/bf16; sensitivity and accuracy-aware fallback')
    .argument('<model>', 'ONNX model file')
    .requiredOption('-o, --output <file>', 'where to write the quantized model (a folder with --layout)')
    .option('--mode <mode>', QUANTIZE_MODES.join(' | '))
    .option('--layout <name>', 'transformers.js: write the folder transformers.js loads (onnx/model.onnx, model_quantized.onnx, … and quantize_config.json) for each --dtype')
    .option('--dtype <list>', `with --layout: ${TRANSFORMERS_JS_DTYPES.join(', ')} (comma list, repeatable; default all)`, collect, [])
    .option('--target <t>', 'cpu (ORT contrib ops) | std (standard ONNX only) | wasm (onnxruntime-web)', 'cpu')
    .option('--calib <data>', 'calibration data: dataset folder, data file, JSON spec, or random:N')
    .option('--calib-method <m>', staticQuantizePass.params.calibMethod.choices!.join(' | '), 'minmax')
    .option('--calib-limit <n>', 'calibration samples', '100')
    .option('--calib-batch <n>', 'samples per calibration batch', '1')
    .option('--percentile <p>', 'percentile kept by --calib-method percentile (default 99.999)')
    .option('--no-cache', 'do not reuse or write cached calibration statistics (kept in $INFEROPT_CACHE, default <tmp>/inferopt-cache)')
    .option('--per-channel', 'per-channel weights for MatMul/Gemm too (static Conv always is)')
    .option('--depthwise <d>', 'static: depthwise Conv int8 | float | auto (float for --target wasm: onnxruntime-web has no fast int8 depthwise kernel)', 'auto')
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
      if (flags.layout !== undefined) {
        const r = await runLayout(file, flags, verbose);
        process.stdout.write(flags.json ? JSON.stringify(r, null, 1) + '\n' : formatLayout(r));
        return;
      }
      if (flags.mode === undefined) throw new InputError("required option '--mode <mode>' not specified (or --layout transformers.js for a transformers.js folder)");
      if (flags.dtype.length) throw new InputError('--dtype goes with --layout transformers.js; for one file use --mode');
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
    depthwise: flags.depthwise,
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
  if (calib && flags.cache) options.calibrate = { cache: { dir: toolCacheDir('calibration'), dataKey: await calib.contentKey() }, log };
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
  // with no --dim, the proof's own session counts the kernels (the model is loaded once); with --dim, ORT is
  // given the fixed shapes in a session of its own, as the proof runs the file as written
  const dims = Object.keys(inputSpec.dims).length > 0;
  const node = options.target !== 'wasm';
  const saved = await saveModelProven(result, out, { flag: '-o', reference: file, input: inputSpec, backend: node ? 'node' : 'wasm', kernels: node && !dims });
  if (saved.proof.note) process.stderr.write(`inferopt: note: ${flags.output} ${saved.proof.note}\n`);
  const nothing = report.notes?.some((n) => n.startsWith('nothing '));
  if (node) report.kernels = await countKernels(file, out, options.mode, inputSpec.dims, !nothing, saved.proof.kernels);
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
async function countKernels(input: string, out: string, mode: string, dims: Record<string, number>, quantizedAny: boolean, counted?: KernelCount): Promise<KernelCount | undefined> {
  let k: KernelCount;
  try {
    k = counted ?? (await ortKernels(out, { dims }));
  } catch (e) {
    process.stderr.write(`inferopt: note: could not count the kernels ONNX Runtime runs for ${out}: ${(e as Error).message.split('\n')[0]}\n`);
    return undefined;
  }
  const total = k.int8Total + k.floatTotal;
  // (nothing quantized: the note above says so and why)
  if (mode !== 'fp16' && mode !== 'bf16' && quantizedAny && total > 0 && k.int8Total <= k.floatTotal) {
    process.stderr.write(
      `inferopt: warning: ONNX Runtime will run ${kernelSummary(k)}: the quantized model will likely not be faster than the float one — measure: inferopt bench ${input} --compare ${out}\n`,
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


interface LayoutReport {
  input: string;
  output: string;
  target: Target;
  /** Files copied beside the models (config, tokenizer). */
  copied: string[];
  files: TransformersJsFile[];
}

/**
 * `quantize --layout transformers.js`: each part of the input (one model file, or every `<part>.onnx` of a
 * Hugging Face folder or its onnx/ folder: model, encoder_model, decoder_model_merged, …) in each asked dtype,
 * under `<out>/onnx/` with transformers.js's suffixes, the folder's config and tokenizer files beside them,
 * and quantize_config.json saying how each file was made. Each model is proven (loaded and run by ORT) before
 * it is in place.
 */
async function runLayout(source: string, flags: QuantizeFlags, verbose: boolean): Promise<LayoutReport> {
  if (flags.layout !== 'transformers.js') throw new InputError(`unknown --layout '${flags.layout}' (expected transformers.js)`);
  if (flags.mode !== undefined) throw new InputError('--layout transformers.js makes each --dtype its own way; leave out --mode');
  for (const [flag, given] of [['--calib', flags.calib], ['--max-accuracy-drop', flags.maxAccuracyDrop], ['--sensitivity', flags.sensitivity]] as const) {
    if (given !== undefined) throw new InputError(`${flag} does not go with --layout transformers.js`);
  }
  if (!TARGETS.includes(flags.target as Target)) throw new InputError(`--target must be one of ${TARGETS.join(', ')}`);
  const target = flags.target as Target;
  const asked = list(flags.dtype);
  for (const d of asked) if (!isTransformersJsDtype(d)) throw new InputError(`unknown --dtype '${d}' (expected ${TRANSFORMERS_JS_DTYPES.join(', ')})`);
  const dtypes = asked.length ? TRANSFORMERS_JS_DTYPES.filter((d) => asked.includes(d)) : [...TRANSFORMERS_JS_DTYPES];
  let st: fs.Stats;
  try {
    st = fs.statSync(source);
  } catch {
    throw new InputError(`model not found: ${source}`);
  }
  // the parts: a file is one part; a folder (or its onnx/ folder) holds one fp32 file per part
  let parts: { part: string; file: string }[];
  let root: string;
  if (st.isDirectory()) {
    const onnxDir = fs.existsSync(path.join(source, 'onnx')) ? path.join(source, 'onnx') : source;
    root = source;
    const names = fs.readdirSync(onnxDir).filter((n) => /\.onnx$/i.test(n)).sort();
    parts = names.filter((n) => `${transformersJsPart(n)}.onnx` === n).map((n) => ({ part: transformersJsPart(n), file: path.join(onnxDir, n) }));
    if (!parts.length) throw new InputError(`${source}: no fp32 model file (model.onnx, encoder_model.onnx, …) in it${onnxDir !== source ? ' or its onnx/ folder' : ''}`);
  } else {
    parts = [{ part: transformersJsPart(path.basename(source)), file: source }];
    const dir = path.dirname(path.resolve(source));
    root = path.basename(dir) === 'onnx' ? path.dirname(dir) : dir;
  }
  const out = path.resolve(flags.output);
  if (fs.existsSync(out) && !fs.statSync(out).isDirectory()) throw new InputError(`-o ${flags.output}: is a file; --layout writes a folder`);
  const log = verbose || !flags.json ? (m: string) => process.stderr.write(`${m}\n`) : undefined;
  const inputSpec = { shapes: parseShapeFlags(flags.shape), dims: parseDimFlags(flags.dim), ...(flags.input.length ? { values: parseInputFlags(flags.input) } : {}) };
  // read every input first (they are recorded as inputs, so no output below can land on one)
  const side = HF_SIDE_FILES.map((n) => path.join(root, n)).filter((f) => fs.existsSync(f) && fs.statSync(f).isFile());
  const sideBytes = side.map((f) => {
    markInput(f);
    return fs.readFileSync(f);
  });
  const targets = parts.flatMap((p) => dtypes.map((d) => path.join(out, 'onnx', transformersJsFileName(p.part, d))));
  for (const p of parts) markInput(p.file);
  for (const f of [...targets, ...side.map((f) => path.join(out, path.basename(f))), path.join(out, 'quantize_config.json')]) checkOutputFile(f, '-o');
  makeFolders(path.join(out, 'onnx'), `-o ${flags.output}`);
  const files: TransformersJsFile[] = [];
  for (const p of parts) {
    const model = loadModel(p.file);
    for (const d of dtypes) {
      const name = transformersJsFileName(p.part, d);
      log?.(`${name}: ${d}`);
      const v = await transformersJsVariant(model, d, { target, log: verbose ? log : undefined });
      const saved = await saveModelProven(v.model, path.join(out, 'onnx', name), { flag: '-o', reference: p.file, input: inputSpec, backend: target === 'wasm' ? 'wasm' : 'node' });
      files.push({ file: `onnx/${name}`, dtype: d, steps: v.steps, bytes: saved.bytes + saved.dataBytes });
    }
  }
  const copied: string[] = [];
  side.forEach((f, i) => {
    writeFileSafe(path.join(out, path.basename(f)), [sideBytes[i] as Uint8Array], '-o');
    copied.push(path.basename(f));
  });
  const config = {
    tool: `inferopt ${packageVersion()}`,
    source: parts.map((p) => p.file),
    target,
    dtypes,
    files: files.map((f) => ({ ...f, how: describeSteps(f.steps) })),
  };
  writeFileSafe(path.join(out, 'quantize_config.json'), [JSON.stringify(config, null, 2) + '\n'], '-o');
  return { input: source, output: out, target, copied, files };
}

function describeSteps(steps: TransformersJsFile['steps']): string {
  if (!steps.length) return 'the input model, unchanged (fp32)';
  return steps
    .map((s) =>
      s.mode === 'dynamic'
        ? `dynamic int8 (activations quantized at run time, ${s.weightType} weights, embedding tables int8)`
        : s.mode === 'weight-only'
          ? `${s.bits}-bit weight blocks of ${s.blockSize} (MatMulNBits, round-to-nearest, symmetric)`
          : s.mode === 'fp16'
            ? 'fp16 weights and activations (inputs and outputs stay float32; ops out of fp16 range stay fp32)'
            : s.mode,
    )
    .join(', then ');
}

function packageVersion(): string {
  return (JSON.parse(fs.readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

function formatLayout(r: LayoutReport): string {
  const mb = (b: number) => `${(b / 1e6).toFixed(2)} MB`;
  const lines = [`transformers.js folder (${r.target}): ${r.output}`];
  for (const f of r.files) lines.push(`  ${f.file.padEnd(40)} ${f.dtype.padEnd(6)} ${mb(f.bytes ?? 0).padStart(10)}  ${describeSteps(f.steps)}`);
  lines.push(`  quantize_config.json${r.copied.length ? `; copied ${r.copied.join(', ')}` : ''}`);
  return lines.join('\n') + '\n';
}
