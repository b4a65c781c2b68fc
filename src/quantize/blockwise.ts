import { roundHalfEven } from './qparams.js';

/**
 * Block-wise quantization of a [K, N] weight into MatMulNBits' layout: the weight is transposed to [N, K]
 * and each run of `blockSize` values along K gets its own scale (and zero point). Values are unsigned
 * (0 … 2^bits − 1); symmetric blocks use the implicit zero point 2^(bits−1) and, like ONNX Runtime's
 * quantizer, map the value of largest magnitude to −2^(bits−1) so all 2^bits levels are used.
 */
export interface BlockwiseSpec {
  bits: 4 | 8;
  blockSize: number;
  symmetric: boolean;
}

export interface BlockwiseWeight {
  K: number;
  N: number;
  blocks: number;
  /** [N, blocks, blockSize·bits/8] packed (4-bit: low nibble first). */
  packed: Uint8Array;
  /** [N, blocks] */
  scales: Float32Array;
  /** [N, ceil(blocks·bits/8)] packed like the data; absent when symmetric. */
  zeroPoints?: Uint8Array;
}

/** Scale and zero point for one block of values. */
export function blockParams(vals: ArrayLike<number>, from: number, to: number, spec: BlockwiseSpec): { scale: number; zp: number } {
  const levels = 2 ** spec.bits - 1;
  const mid = 2 ** (spec.bits - 1);
  let lo = 0;
  let hi = 0;
  for (let i = from; i < to; i++) {
    const v = vals[i]!;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (spec.symmetric) {
    const extreme = -lo > hi ? lo : hi;
    const scale = extreme === 0 ? 1 : extreme / -mid;
    return { scale, zp: mid };
  }
  const scale = hi === lo ? 1 : (hi - lo) / levels;
  return { scale, zp: Math.min(levels, Math.max(0, roundHalfEven(-lo / scale))) };
}

export function quantizeLevel(v: number, scale: number, zp: number, bits: number): number {
  const q = roundHalfEven(v / scale) + zp;
  const max = 2 ** bits - 1;
  return q < 0 ? 0 : q > max ? max : q;
}

/** Round-to-nearest block-wise quantization of `w` ([K, N] row-major). */
export function quantizeBlockwise(w: Float32Array, K: number, N: number, spec: BlockwiseSpec): BlockwiseWeight {
  const out = allocate(K, N, spec);
  const col = new Float32Array(out.blocks * spec.blockSize);
  for (let n = 0; n < N; n++) {
    col.fill(0);
    for (let k = 0; k < K; k++) col[k] = w[k * N + n]!;
    for (let b = 0; b < out.blocks; b++) {
      const from = b * spec.blockSize;
      const p = blockParams(col, from, Math.min(from + spec.blockSize, K), spec);
      setBlock(out, spec, n, b, p.scale, p.zp);
      for (let j = 0; j < spec.blockSize; j++) setLevel(out, spec, n, from + j, quantizeLevel(col[from + j]!, p.scale, p.zp, spec.bits));
    }
  }
  return out;
}

export function allocate(K: number, N: number, spec: BlockwiseSpec): BlockwiseWeight {
  const blocks = Math.ceil(K / spec.blockSize);
  const blob = (spec.blockSize * spec.bits) / 8;
  return {
    K,
    N,
    blocks,
    packed: new Uint8Array(N * blocks * blob),
    scales: new Float32Array(N * blocks),
    zeroPoints: spec.symmetric ? undefined : new Uint8Array(N * Math.ceil((blocks * spec.bits) / 8)),
  };
}

export function setBlock(w: BlockwiseWeight, spec: BlockwiseSpec, n: number, b: number, scale: number, zp: number): void {
  w.scales[n * w.blocks + b] = scale;
  if (!w.zeroPoints) return;
  const rowBytes = Math.ceil((w.blocks * spec.bits) / 8);
  if (spec.bits === 8) w.zeroPoints[n * rowBytes + b] = zp;
  else w.zeroPoints[n * rowBytes + (b >> 1)]! |= zp << (b & 1 ? 4 : 0);
}

/** Stores the level of element k (along K) of output column n. */
export function setLevel(w: BlockwiseWeight, spec: BlockwiseSpec, n: number, k: number, q: number): void {
  const rowBytes = (w.blocks * spec.blockSize * spec.bits) / 8;
  if (spec.bits === 8) w.packed[n * rowBytes + k] = q;
  else w.packed[n * rowBytes + (k >> 1)]! |= q << (k & 1 ? 4 : 0);
}

/** The float weight ([K, N]) a block-wise weight stands for. */
export function dequantizeBlockwise(w: BlockwiseWeight, spec: BlockwiseSpec): Float32Array {
  const out = new Float32Array(w.K * w.N);
  const rowBytes = (w.blocks * spec.blockSize * spec.bits) / 8;
  const zpBytes = Math.ceil((w.blocks * spec.bits) / 8);
  for (let n = 0; n < w.N; n++) {
    for (let k = 0; k < w.K; k++) {
      const b = Math.floor(k / spec.blockSize);
      const q = spec.bits === 8 ? w.packed[n * rowBytes + k]! : (w.packed[n * rowBytes + (k >> 1)]! >> (k & 1 ? 4 : 0)) & 15;
      let zp = 2 ** (spec.bits - 1);
      if (w.zeroPoints) zp = spec.bits === 8 ? w.zeroPoints[n * zpBytes + b]! : (w.zeroPoints[n * zpBytes + (b >> 1)]! >> (b & 1 ? 4 : 0)) & 15;
      out[k * w.N + n] = (q - zp) * w.scales[n * w.blocks + b]!;
    }
  }
  return out;
}
