import { DataType } from '../ir/dtype.js';

/**
 * Scale and zero point from a float range, and the rounding ONNX Runtime uses (half to even), shared by
 * every quantization mode. Conventions follow ORT's quantizer so models are interchangeable with its output:
 * the range always contains 0 (so 0 is exact, which padding and ReLU need); signed symmetric weights use the
 * restricted range [-127, 127] so that negation never saturates.
 */

export type QType = 'int8' | 'uint8';

export interface QParams {
  scale: number;
  zeroPoint: number;
}

export interface QSpec {
  qtype: QType;
  symmetric: boolean;
  /** 7-bit range, for CPUs without VNNI where u8·s8 products can saturate in 16-bit accumulators. */
  reduceRange?: boolean;
  /** A narrower grid inside the 8-bit type (4: the 15 levels −7…7 of 4-bit symmetric weights, stored as int8). */
  bits?: number;
}

export function qDataType(q: QType): DataType {
  return q === 'int8' ? DataType.INT8 : DataType.UINT8;
}

/** The integer range a spec quantizes into. */
export function qLimits(spec: QSpec): [number, number] {
  const { qtype, symmetric, reduceRange, bits } = spec;
  if (bits !== undefined && bits < 8) {
    const half = 2 ** (bits - 1);
    if (qtype === 'int8') return symmetric ? [-(half - 1), half - 1] : [-half, half - 1];
    return [0, 2 * half - 1];
  }
  if (qtype === 'int8') {
    if (reduceRange) return symmetric ? [-64, 64] : [-64, 63];
    return symmetric ? [-127, 127] : [-128, 127];
  }
  return reduceRange ? [0, 127] : [0, 255];
}

export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  // Math.round rounds .5 up; ties go to the even neighbour instead
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Scale and zero point for values in [min, max]. */
export function computeQParams(min: number, max: number, spec: QSpec): QParams {
  const [qmin, qmax] = qLimits(spec);
  let lo = Math.min(min, 0);
  let hi = Math.max(max, 0);
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) throw new Error(`cannot quantize the range [${min}, ${max}]`);
  if (spec.symmetric) {
    const a = Math.max(-lo, hi);
    lo = -a;
    hi = a;
  }
  let scale = (hi - lo) / (qmax - qmin);
  if (!(scale > 0) || scale < 1e-30) scale = 1; // all zeros: any scale represents it exactly
  // symmetric: zero sits in the middle of the integer range (0 for int8, 128 for uint8)
  const zeroPoint = spec.symmetric ? roundHalfEven((qmin + qmax) / 2) : roundHalfEven(qmin - lo / scale);
  return { scale, zeroPoint: Math.min(qmax, Math.max(qmin, zeroPoint)) };
}

export function quantizeValue(x: number, p: QParams, qmin: number, qmax: number): number {
  const q = roundHalfEven(x / p.scale) + p.zeroPoint;
  return q < qmin ? qmin : q > qmax ? qmax : q;
}
