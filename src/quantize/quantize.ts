import { InputError } from '../errors.js';
import type { Model } from '../ir/graph.js';
import { cloneModel } from '../ir/clone.js';
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
  /** Change the input model itself instead of a copy (saves the copy's memory). */
  inPlace?: boolean;
}

export interface QuantizeResult {
  model: Model;
  stats: Record<string, number>;
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
  const model = o.inPlace ? input : cloneModel(input);
  const r = await pass.run(model, ctx, params);
  return { model: r.model, stats: r.stats ?? {} };
}
