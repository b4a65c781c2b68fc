import type { Model } from '../ir/graph.js';
import { allocate, blockParams, quantizeLevel, setBlock, setLevel, type BlockwiseSpec, type BlockwiseWeight } from './blockwise.js';
import { streamActivations, type CalibrationData, type StreamOptions } from './stream.js';

/**
 * GPTQ (Frantar et al., 2022) for block-wise weights. The layer's input Hessian H = 2/n·Σ xᵀx is
 * accumulated while streaming calibration data (one K×K matrix per distinct MatMul input, nothing else
 * kept); then input rows of W [K, N] are quantized in order and each row's rounding error is pushed onto
 * the rows not yet quantized through the upper Cholesky factor of H⁻¹.
 */
export async function collectHessians(model: Model, data: CalibrationData, targets: { name: string; K: number }[], opts: StreamOptions = {}): Promise<Map<string, Float64Array>> {
  const hs = new Map<string, { K: number; H: Float64Array; rows: number }>();
  for (const t of targets) if (!hs.has(t.name)) hs.set(t.name, { K: t.K, H: new Float64Array(t.K * t.K), rows: 0 });
  await streamActivations(
    model,
    data,
    [...hs.keys()],
    (name, t) => {
      const acc = hs.get(name)!;
      const x = t.toFloat32();
      const K = acc.K;
      const rows = x.length / K;
      for (let r = 0; r < rows; r++) {
        const off = r * K;
        for (let i = 0; i < K; i++) {
          const xi = x[off + i]!;
          if (xi === 0) continue;
          const hi = i * K;
          for (let j = i; j < K; j++) acc.H[hi + j] = acc.H[hi + j]! + xi * x[off + j]!;
        }
      }
      acc.rows += rows;
    },
    opts,
  );
  const out = new Map<string, Float64Array>();
  for (const [name, { K, H, rows }] of hs) {
    const f = rows ? 2 / rows : 0;
    for (let i = 0; i < K; i++) {
      for (let j = i; j < K; j++) {
        H[i * K + j] = H[i * K + j]! * f;
        H[j * K + i] = H[i * K + j]!;
      }
    }
    out.set(name, H);
  }
  return out;
}

export function gptqQuantize(weight: Float32Array, K: number, N: number, hessian: Float64Array, spec: BlockwiseSpec, dampening: number): BlockwiseWeight {
  const W = Float64Array.from(weight);
  const H = Float64Array.from(hessian);
  let mean = 0;
  for (let i = 0; i < K; i++) {
    if (H[i * K + i] === 0) {
      H[i * K + i] = 1; // an input that never fires: its weights cannot matter
      for (let n = 0; n < N; n++) W[i * N + n] = 0;
    }
    mean += H[i * K + i]! / K;
  }
  for (let i = 0; i < K; i++) H[i * K + i] = H[i * K + i]! + dampening * mean;
  const U = upperCholeskyOfInverse(H, K);
  const out = allocate(K, N, spec);
  const col = new Float64Array(K);
  const err = new Float64Array(N);
  for (let k = 0; k < K; k++) {
    if (k % spec.blockSize === 0) {
      // block parameters from the weights as updated so far
      const end = Math.min(K, k + spec.blockSize);
      for (let n = 0; n < N; n++) {
        for (let j = k; j < end; j++) col[j] = W[j * N + n]!;
        const p = blockParams(col, k, end, spec);
        setBlock(out, spec, n, k / spec.blockSize, p.scale, p.zp);
      }
    }
    const d = U[k * K + k]!;
    const b = Math.floor(k / spec.blockSize);
    for (let n = 0; n < N; n++) {
      const scale = out.scales[n * out.blocks + b]!;
      const zp = blockZeroPoint(out, spec, n, b);
      const w = W[k * N + n]!;
      const q = quantizeLevel(w, scale, zp, spec.bits);
      setLevel(out, spec, n, k, q);
      err[n] = (w - (q - zp) * scale) / d;
    }
    for (let j = k + 1; j < K; j++) {
      const u = U[k * K + j]!;
      if (u === 0) continue;
      const row = j * N;
      for (let n = 0; n < N; n++) W[row + n] = W[row + n]! - err[n]! * u;
    }
  }
  return out;
}

function blockZeroPoint(w: BlockwiseWeight, spec: BlockwiseSpec, n: number, b: number): number {
  if (!w.zeroPoints) return 2 ** (spec.bits - 1);
  const rowBytes = Math.ceil((w.blocks * spec.bits) / 8);
  return spec.bits === 8 ? w.zeroPoints[n * rowBytes + b]! : (w.zeroPoints[n * rowBytes + (b >> 1)]! >> (b & 1 ? 4 : 0)) & 15;
}

/** Lower Cholesky factor of a symmetric positive definite K×K matrix (row-major), in place. */
function choleskyLower(A: Float64Array, K: number): Float64Array {
  const L = new Float64Array(K * K);
  for (let i = 0; i < K; i++) {
    for (let j = 0; j <= i; j++) {
      let s = A[i * K + j]!;
      for (let k = 0; k < j; k++) s -= L[i * K + k]! * L[j * K + k]!;
      if (i === j) {
        if (s <= 0) throw new Error('GPTQ: the Hessian is not positive definite; raise the dampening');
        L[i * K + i] = Math.sqrt(s);
      } else L[i * K + j] = s / L[j * K + j]!;
    }
  }
  return L;
}

/** U upper triangular with UᵀU = H⁻¹ (what GPTQ's error propagation reads). */
function upperCholeskyOfInverse(H: Float64Array, K: number): Float64Array {
  const L = choleskyLower(H, K);
  // Linv = L⁻¹ (lower triangular), by forward substitution column by column
  const Linv = new Float64Array(K * K);
  for (let c = 0; c < K; c++) {
    Linv[c * K + c] = 1 / L[c * K + c]!;
    for (let i = c + 1; i < K; i++) {
      let s = 0;
      for (let k = c; k < i; k++) s -= L[i * K + k]! * Linv[k * K + c]!;
      Linv[i * K + c] = s / L[i * K + i]!;
    }
  }
  // H⁻¹ = Linvᵀ·Linv
  const Hinv = new Float64Array(K * K);
  for (let i = 0; i < K; i++) {
    for (let j = i; j < K; j++) {
      let s = 0;
      for (let k = j; k < K; k++) s += Linv[k * K + i]! * Linv[k * K + j]!;
      Hinv[i * K + j] = s;
      Hinv[j * K + i] = s;
    }
  }
  const L2 = choleskyLower(Hinv, K);
  const U = new Float64Array(K * K);
  for (let i = 0; i < K; i++) for (let j = 0; j <= i; j++) U[j * K + i] = L2[i * K + j]!;
  return U;
}
