import { InputError } from '../errors.js';
import type { Model } from '../ir/graph.js';
import { cloneModel, ownBytes } from '../ir/clone.js';
import type { ParamSource } from '../util/validate.js';
import { resolveParams, type Pass, type PassContext, type Target } from '../passes/pass.js';
import { dynamicQuantizePass } from './dynamic.js';
import { halfPrecisionPass } from './float16.js';
import type { CalibrateOptions, CalibrationStats } from './calibrate.js';
import type { CalibMethod } from './range-methods.js';
import type { QType } from './qparams.js';
import { staticQuantizePass } from './static.js';
import type { CalibrationData } from './stream.js';
import { weightOnlyQuantizePass } from './weight-only.js';
import { opArithmetic } from '../ops/index.js';
import { WEIGHT_OPS } from './fused.js';

/** One entry point over the quantization passes, as the CLI, sensitivity and fallback use it. */
export const QUANTIZE_MODES = ['dynamic', 'static', 'weight-only', 'fp16', 'bf16'] as const;
export type QuantizeMode = (typeof QUANTIZE_MODES)[number];

export interface QuantizeOptions {
  mode: QuantizeMode;
  target?: Target;
  include?: string[];
  exclude?: string[];
  /** Per-channel weights: dynamic/static MatMul and Gemm too (static Conv is per channel regardless). */
  perChannel?: boolean;
  calibration?: CalibrationData;
  calibMethod?: CalibMethod;
  percentile?: number;
  /** Static: precomputed statistics (skip calibration). */
  stats?: CalibrationStats;
  calibrate?: CalibrateOptions;
  activationType?: QType | 'auto';
  weightType?: QType;
  symmetricActivations?: boolean;
  /** Static: depthwise Conv in int8 or left float ('auto': float for target wasm). */
  depthwise?: 'auto' | 'int8' | 'float';
  reduceRange?: boolean;
  /** Dynamic: a fused Attention's QKV weight as QAttention, or split into a quantized MatMul + MultiHeadAttention. */
  attention?: 'qattention' | 'split';
  bits?: 4 | 8;
  blockSize?: number;
  /** Weight-only: false stores zero points. */
  symmetric?: boolean;
  accuracyLevel?: 0 | 1 | 2 | 3 | 4;
  algorithm?: 'rtn' | 'gptq';
  log?: (msg: string) => void;
  /** Change the input model itself instead of a copy (saves the copy's memory, and lets the replaced weights go). */
  inPlace?: boolean;
}

export interface QuantizeResult {
  model: Model;
  stats: Record<string, number>;
  /** What the mode left alone that a user would expect it to touch, and why (nothing quantized; ops inside If/Loop bodies static mode cannot calibrate). */
  notes: string[];
}

export function isQuantizeMode(s: string): s is QuantizeMode {
  return (QUANTIZE_MODES as readonly string[]).includes(s);
}

export { cloneModel };

/** The pass a mode runs and the parameters the options give it (undefined: the pass's default). */
function passFor(o: QuantizeOptions): { pass: Pass<any>; given: Record<string, unknown> } {
  const filter = { include: o.include, exclude: o.exclude };
  switch (o.mode) {
    case 'dynamic':
      return { pass: dynamicQuantizePass, given: { ...filter, perChannel: o.perChannel, weightType: o.weightType, reduceRange: o.reduceRange, attention: o.attention } };
    case 'static':
      return {
        pass: staticQuantizePass,
        given: {
          ...filter,
          // a boolean picks Conv-only or all; anything else goes to the validator as given
          perChannel: o.perChannel === true ? 'all' : o.perChannel === false ? 'conv' : o.perChannel,
          activationType: o.activationType,
          weightType: o.weightType,
          symmetricActivations: o.symmetricActivations,
          depthwise: o.depthwise,
          reduceRange: o.reduceRange,
          calibMethod: o.calibMethod,
          percentile: o.percentile,
          calibration: o.calibration,
          stats: o.stats,
          calibrate: o.calibrate,
        },
      };
    case 'weight-only':
      return {
        pass: weightOnlyQuantizePass,
        given: { ...filter, bits: o.bits, blockSize: o.blockSize, symmetric: o.symmetric, accuracyLevel: o.accuracyLevel, algorithm: o.algorithm, calibration: o.calibration, calibrate: o.calibrate },
      };
    case 'fp16':
    case 'bf16':
      return { pass: halfPrecisionPass, given: { ...filter, precision: o.mode, calibration: o.calibration } };
  }
}

/**
 * Checks the options against the declared parameters of the pass the mode runs (the same check
 * `quantizeModel` makes), without touching a model: the CLI calls it before loading anything.
 */
export function checkQuantizeOptions(o: QuantizeOptions, where?: ParamSource): void {
  if (!isQuantizeMode(o.mode)) throw new InputError(`unknown quantization mode '${String(o.mode)}' (expected ${QUANTIZE_MODES.join(', ')})`);
  const { pass, given } = passFor(o);
  resolveParams(pass, given, where ?? { source: `quantize --mode ${o.mode}` });
}

/** Quantizes a copy of `input` (or `input` itself with `inPlace`) and returns it in `result.model`. */
export async function quantizeModel(input: Model, o: QuantizeOptions, where?: ParamSource): Promise<QuantizeResult> {
  if (!isQuantizeMode(o.mode)) throw new InputError(`unknown quantization mode '${String(o.mode)}' (expected ${QUANTIZE_MODES.join(', ')})`);
  const ctx: PassContext = { target: o.target ?? 'cpu', log: o.log };
  if (o.mode === 'static' && !o.calibration && !o.stats) throw new InputError('static quantization needs calibration data (--calib)');
  if (o.mode === 'bf16' && ctx.target === 'cpu') {
    throw new InputError("bf16: ONNX Runtime's CPU provider has no bf16 MatMul/Conv kernels; use --target std to write a bf16 model for runtimes that have them");
  }
  const { pass, given } = passFor(o);
  const params = resolveParams(pass, given, where ?? { source: `quantize --mode ${o.mode}` });
  // counted before the pass rewrites them
  const before = opCounts(input);
  const model = o.inPlace ? input : cloneModel(input);
  const r = await pass.run(model, ctx, params);
  // the weights it replaced were views into the loaded file (or the copy): let that buffer go
  ownBytes(r.model);
  const stats = r.stats ?? {};
  return { model: r.model, stats, notes: quantizeNotes(o, params as { opTypes?: string[] }, before, stats) };
}

/** Op types with their counts in the main graph and inside If/Loop/Scan bodies, and whether they carry multiply-adds. */
function opCounts(model: Model): Map<string, { main: number; sub: number; compute: boolean }> {
  const out = new Map<string, { main: number; sub: number; compute: boolean }>();
  for (const g of model.graph.allGraphs()) {
    for (const n of g.nodes) {
      const c = out.get(n.opType) ?? { main: 0, sub: 0, compute: opArithmetic(n.domain, n.opType) === 'float' };
      if (g.parent) c.sub++;
      else c.main++;
      out.set(n.opType, c);
    }
  }
  return out;
}

/**
 * Says what a quantization left undone and why: a run that quantized nothing names the ops the mode
 * rewrites, what the model has instead (and where: inside If/Loop/Scan bodies), and what would quantize
 * them; a static run names the ops inside subgraphs it left float.
 */
function quantizeNotes(o: QuantizeOptions, params: { opTypes?: string[] }, ops: Map<string, { main: number; sub: number; compute: boolean }>, stats: Record<string, number>): string[] {
  const notes: string[] = [];
  const count = (t: string) => ops.get(t) ?? { main: 0, sub: 0, compute: false };
  // the ops that carry the model's multiply-adds (the registry's float-arithmetic ops): what a user expects a quantizer to touch
  const heavy = [...ops].filter(([, c]) => c.compute).map(([t]) => t);
  const where = (t: string) => {
    const c = count(t);
    return c.sub === 0 ? `${c.main} ${t}` : c.main === 0 ? `${c.sub} ${t} (all inside If/Loop/Scan bodies)` : `${c.main + c.sub} ${t} (${c.sub} inside If/Loop/Scan bodies)`;
  };
  const has = heavy.length ? `the model's compute ops are ${heavy.map(where).join(', ')}` : 'the model has no compute op (GEMM, convolution, recurrent, attention)';
  const done = o.mode === 'static' ? stats.quantizedNodes : o.mode === 'fp16' || o.mode === 'bf16' ? stats.halfNodes : (stats.quantized ?? 0) + (stats.tables ?? 0);
  if (o.mode === 'static') {
    const inside = (params.opTypes ?? []).filter((t) => count(t).sub > 0);
    const list = inside.map((t) => `${count(t).sub} ${t}`).join(', ');
    const instead = `--mode dynamic${inside.includes('Conv') ? ' --include Conv' : ''} quantizes them`;
    if (inside.length && done === 0 && (params.opTypes ?? []).every((t) => count(t).main === 0)) {
      return [`nothing quantized: static: its ${list} are all inside If/Loop/Scan bodies, where calibration cannot observe values; ${instead}`];
    }
    if (inside.length) notes.push(`static: ${list} inside If/Loop/Scan bodies stay float (calibration cannot observe values inside a subgraph); ${instead}`);
  }
  if (done !== 0) return notes;
  if (o.mode === 'fp16' || o.mode === 'bf16') {
    notes.unshift(`nothing converted to ${o.mode}: ${has}`);
    return notes;
  }
  const rewrites = o.mode === 'weight-only' ? WEIGHT_OPS : (params.opTypes ?? []);
  const asked = o.include?.length ? ` among the nodes --include selects (${o.include.join(', ')})` : '';
  // the compute ops it rewrites that the model has (a Gather of shape indices is no table to quantize)
  const eligible = rewrites.filter((t) => count(t).compute && count(t).main + count(t).sub > 0);
  let why = eligible.length
    ? `found no constant float weight it can quantize in the model's ${eligible.map(where).join(', ')}${asked} (see --explain)`
    : `rewrites ${rewrites.join(', ')}${asked}, and ${has}`;
  if (o.mode === 'dynamic' && count('Conv').main + count('Conv').sub > 0 && !o.include?.includes('Conv')) why += '; Conv is quantized with --include Conv (ConvInteger, often slower than float Conv on CPU)';
  else if (o.mode === 'weight-only' && count('Conv').main + count('Conv').sub > 0) why += '; for Conv use --mode static or --mode dynamic --include Conv';
  notes.unshift(`nothing quantized: ${o.mode} ${why}`);
  return notes;
}
