/**
 * Seeded weight generators for the zoo. Uniforms come from the project's mulberry32 `rng`; normals use an
 * inverse-CDF table (one uniform per sample, linear interpolation) because Box–Muller is ~7× slower and
 * bert-base needs 110 M samples. The table covers ±3.7σ, i.e. a truncated normal, which is also how BERT
 * and timm initialise weights.
 */
import { DataType } from '../ir/dtype.js';
import { Tensor } from '../ir/tensor.js';
import { rng } from '../runtime/inputs.js';

const TABLE_SIZE = 4096;
let normalTable: Float64Array | undefined;

/** Acklam's rational approximation of the standard normal quantile (relative error < 1.2e-9). */
function normalQuantile(p: number): number {
  const a = [-39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628277459239];
  const b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];
  const c = [-0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const tail = (q: number) =>
    (((((c[0]! * q + c[1]!) * q + c[2]!) * q + c[3]!) * q + c[4]!) * q + c[5]!) / ((((d[0]! * q + d[1]!) * q + d[2]!) * q + d[3]!) * q + 1);
  if (p < 0.02425) return tail(Math.sqrt(-2 * Math.log(p)));
  if (p > 1 - 0.02425) return -tail(Math.sqrt(-2 * Math.log(1 - p)));
  const q = p - 0.5;
  const r = q * q;
  return ((((((a[0]! * r + a[1]!) * r + a[2]!) * r + a[3]!) * r + a[4]!) * r + a[5]!) * q) / (((((b[0]! * r + b[1]!) * r + b[2]!) * r + b[3]!) * r + b[4]!) * r + 1);
}

/** Quantiles at i/TABLE_SIZE (the two infinite ends clipped to a quarter bin), symmetric about 0. */
function table(): Float64Array {
  if (normalTable) return normalTable;
  const t = new Float64Array(TABLE_SIZE + 1);
  for (let i = 0; i <= TABLE_SIZE; i++) t[i] = normalQuantile(Math.min(Math.max(i / TABLE_SIZE, 0.25 / TABLE_SIZE), 1 - 0.25 / TABLE_SIZE));
  return (normalTable = t);
}

/**
 * A seeded source of weight tensors: same seed and same call order give the same bytes. With `zeros` every
 * tensor is zero-filled instead (structure only: counting parameters, shape checks — no sampling cost).
 */
export class WeightRng {
  private readonly rand: () => number;

  constructor(
    seed: number,
    readonly zeros = false,
  ) {
    this.rand = rng(seed);
  }

  /** One uniform sample in [0, 1). */
  uniform(): number {
    return this.rand();
  }

  /** float32 tensor ~ mean + std·N(0,1) (truncated at ±3.7σ). */
  normal(dims: number[], std: number, mean = 0): Tensor {
    const out = new Float32Array(size(dims));
    if (this.zeros) return wrap(dims, out);
    const t = table();
    for (let i = 0; i < out.length; i++) {
      const x = this.rand() * TABLE_SIZE;
      const k = x | 0;
      const lo = t[k]!;
      out[i] = mean + std * (lo + (t[k + 1]! - lo) * (x - k));
    }
    return wrap(dims, out);
  }

  /** float32 tensor ~ U(lo, hi). */
  uniformTensor(dims: number[], lo: number, hi: number): Tensor {
    const out = new Float32Array(size(dims));
    if (this.zeros) return wrap(dims, out);
    for (let i = 0; i < out.length; i++) out[i] = lo + (hi - lo) * this.rand();
    return wrap(dims, out);
  }
}

function size(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

/** Wraps a Float32Array without copying it. */
export function floatTensor(dims: number[], data: Float32Array): Tensor {
  return wrap(dims, data);
}

function wrap(dims: number[], data: Float32Array): Tensor {
  return new Tensor(DataType.FLOAT, dims, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
}
