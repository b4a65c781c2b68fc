import { DataType } from '../ir/dtype.js';
import { Tensor } from '../ir/tensor.js';
import { computeQParams, qDataType, qLimits, type QParams, type QSpec } from './qparams.js';

/** A quantized constant: integer data plus the scale and zero point tensors QuantizeLinear-style ops take. */
export interface QuantizedTensor {
  data: Tensor;
  /** float32 scalar (per-tensor) or [channels] (per-axis). */
  scale: Tensor;
  /** Same shape as `scale`, in the data's integer type. */
  zeroPoint: Tensor;
  params: QParams[];
}

/**
 * Quantizes a float tensor, per tensor (`axis` undefined) or with one scale per slice along `axis`
 * (per-channel: Conv weights on axis 0, MatMul weights [K, N] on axis 1).
 */
const ROUND_MAGIC = 6755399441055744; // 1.5 · 2^52
const ROUND_LIMIT = 2 ** 40; // far outside any integer grid, well inside the trick's range

export function quantizeTensor(t: Tensor, spec: QSpec, axis?: number, minScales?: readonly number[]): QuantizedTensor {
  const x = t.toFloat32();
  const dims = t.dims;
  const channels = axis === undefined ? 1 : dims[axis]!;
  // element i belongs to channel floor(i / inner) % channels: runs of `inner` elements share a channel
  const inner = axis === undefined ? Math.max(1, x.length) : dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const mins = new Float64Array(channels).fill(Infinity);
  const maxs = new Float64Array(channels).fill(-Infinity);
  for (let start = 0, c = 0; start < x.length; start += inner, c = c + 1 === channels ? 0 : c + 1) {
    let lo = mins[c]!;
    let hi = maxs[c]!;
    const end = Math.min(x.length, start + inner);
    for (let i = start; i < end; i++) {
      const v = x[i]!;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    mins[c] = lo;
    maxs[c] = hi;
  }
  const params: QParams[] = [];
  for (let c = 0; c < channels; c++) {
    const p = computeQParams(x.length ? mins[c]! : 0, x.length ? maxs[c]! : 0, spec);
    // a floor on the scale (symmetric weights only: zero stays at the zero point), e.g. so an int32 bias fits
    const floor = channels === 1 ? Math.max(0, ...(minScales ?? [])) : (minScales?.[c] ?? 0);
    if (floor > p.scale && spec.symmetric) p.scale = floor;
    params.push(p);
  }
  const [qmin, qmax] = qLimits(spec);
  const q = spec.qtype === 'int8' ? new Int8Array(x.length) : new Uint8Array(x.length);
  for (let start = 0, c = 0; start < x.length; start += inner, c = c + 1 === channels ? 0 : c + 1) {
    const { scale, zeroPoint } = params[c]!;
    const end = Math.min(x.length, start + inner);
    for (let i = start; i < end; i++) {
      // x / scale rounded half to even (as quantizeValue), inlined: this loop runs once per weight. Adding
      // and subtracting 1.5·2^52 rounds a double to an integer in the FPU's own mode, half to even
      const y = x[i]! / scale;
      const r = (y < -ROUND_LIMIT ? -ROUND_LIMIT : y > ROUND_LIMIT ? ROUND_LIMIT : y + ROUND_MAGIC - ROUND_MAGIC) + zeroPoint;
      q[i] = r < qmin ? qmin : r > qmax ? qmax : r;
    }
  }
  const dt = qDataType(spec.qtype);
  const pdims = axis === undefined ? [] : [channels];
  return {
    data: new Tensor(dt, [...dims], new Uint8Array(q.buffer), `${t.name}_quantized`),
    scale: Tensor.float(pdims, params.map((p) => p.scale), `${t.name}_scale`),
    zeroPoint: Tensor.fromArray(dt, pdims, params.map((p) => p.zeroPoint), `${t.name}_zero_point`),
    params,
  };
}

/** The float values a quantized tensor stands for (for error measurements and tests). */
export function dequantizeTensor(q: QuantizedTensor, axis?: number): Float32Array {
  const v = q.data.toFloat32();
  const dims = q.data.dims;
  const channels = q.params.length;
  const inner = axis === undefined ? v.length : dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const out = new Float32Array(v.length);
  for (let i = 0; i < v.length; i++) {
    const p = q.params[axis === undefined ? 0 : Math.floor(i / inner) % channels]!;
    out[i] = (v[i]! - p.zeroPoint) * p.scale;
  }
  return out;
}

/** A float32 copy of `t` transposed as a 2-D matrix ([R, C] → [C, R]). */
export function transpose2d(t: Tensor, name = t.name): Tensor {
  const [r, c] = t.dims as [number, number];
  const x = t.toFloat32();
  const out = new Float32Array(x.length);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j * r + i] = x[i * c + j]!;
  return Tensor.float([c, r], out, name);
}

export function isFloatTensor(t: Tensor | undefined): t is Tensor {
  return !!t && (t.dtype === DataType.FLOAT || t.dtype === DataType.FLOAT16);
}
