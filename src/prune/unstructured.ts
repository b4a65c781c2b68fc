import { InputError } from '../errors.js';
import type { Model, Node } from '../ir/graph.js';
import { Tensor } from '../ir/tensor.js';
import { analyzeChannels, type AnalyzeOptions } from './channels.js';

/**
 * Unstructured and N:M sparsity: single weights are zeroed (the model keeps its shapes). The weights are the
 * ones the pruning rules mark as computing units (Conv/ConvTranspose filters, Gemm/MatMul weight matrices);
 * their reduction axis is the other axis of a matrix, the input-channel axis of a convolution.
 *
 * - `global`: one threshold over all weights (|w|, or Wanda's |w|·‖x‖ when activation norms are given);
 * - `layer`: the same fraction in every weight;
 * - N:M: in every run of M consecutive weights along the reduction axis, the N largest stay (2:4 is what
 *   NVIDIA sparse tensor cores run; a weight whose reduction axis is not a multiple of M is left dense).
 */

export interface PrunableWeight {
  node: Node;
  input: number;
  name: string;
  dims: number[];
  /** The axis summed over by the op (input features / input channels). */
  reductionAxis: number;
}

export function prunableWeights(model: Model, opts: AnalyzeOptions = {}): PrunableWeight[] {
  const a = analyzeChannels(model, opts);
  const seen = new Set<string>();
  const out: PrunableWeight[] = [];
  for (const c of a.space.cuts) {
    if (c.role !== 'out') continue;
    const v = c.node.inputs[c.input]!;
    const t = v.constTensor();
    const key = `${c.node.name}#${c.input}`;
    if (!t || t.dims.length < 2 || seen.has(key)) continue;
    seen.add(key);
    out.push({ node: c.node, input: c.input, name: v.name, dims: [...t.dims], reductionAxis: c.axis === 0 ? 1 : 0 });
  }
  return out;
}

export interface MaskOptions {
  sparsity?: number;
  scope?: 'global' | 'layer';
  /** N:M pattern (N kept of every M). */
  nm?: { n: number; m: number };
  /**
   * Wanda: ‖x‖ of each input feature/channel per weight name (length = the reduction axis); scores become
   * |w|·‖x‖, compared within each output unit as the method prescribes.
   */
  activationNorms?: ReadonlyMap<string, Float32Array>;
}

export interface MaskReport {
  weights: number;
  zeroed: number;
  total: number;
  /** Weights left dense, with the reason. */
  skipped: { name: string; reason: string }[];
}

/** Index helpers for a weight: element i → (position along the reduction axis, output unit). */
function layout(dims: number[], axis: number) {
  const inner = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const n = dims[axis]!;
  return { inner, n, pos: (i: number) => Math.floor(i / inner) % n };
}

function scoresOf(w: PrunableWeight, data: Float32Array, norms?: Float32Array): Float32Array {
  const s = new Float32Array(data.length);
  const { pos } = layout(w.dims, w.reductionAxis);
  for (let i = 0; i < data.length; i++) s[i] = Math.abs(data[i]!) * (norms ? norms[pos(i)]! : 1);
  return s;
}

/** Zero masks (1 = keep) per weight name. */
export function computeMasks(model: Model, weights: readonly PrunableWeight[], opts: MaskOptions): { masks: Map<string, Uint8Array>; report: MaskReport } {
  const masks = new Map<string, Uint8Array>();
  const skipped: MaskReport['skipped'] = [];
  const data = new Map(weights.map((w) => [w.name, w.node.inputs[w.input]!.constTensor()!.toFloat32()]));
  const scores = new Map(weights.map((w) => [w.name, scoresOf(w, data.get(w.name)!, opts.activationNorms?.get(w.name))]));
  if (opts.nm) {
    const { n, m } = opts.nm;
    if (!(Number.isInteger(n) && Number.isInteger(m) && n >= 1 && m > n)) throw new InputError(`an N:M pattern needs integers 1 ≤ N < M, not ${n}:${m}`);
    for (const w of weights) {
      const { inner, n: len } = layout(w.dims, w.reductionAxis);
      if (len % m !== 0) {
        skipped.push({ name: w.name, reason: `its reduction axis (${len}) is not a multiple of ${m}` });
        continue;
      }
      const s = scores.get(w.name)!;
      const mask = new Uint8Array(s.length);
      const outer = s.length / (len * inner);
      for (let o = 0; o < outer; o++) {
        for (let j = 0; j < inner; j++) {
          for (let g = 0; g < len; g += m) {
            const idx = Array.from({ length: m }, (_, k) => (o * len + g + k) * inner + j);
            idx.sort((a, b) => s[b]! - s[a]! || a - b);
            for (const i of idx.slice(0, n)) mask[i] = 1;
          }
        }
      }
      masks.set(w.name, mask);
    }
  } else {
    const sparsity = opts.sparsity ?? 0;
    if (!(sparsity >= 0 && sparsity < 1)) throw new InputError(`--sparsity must be in [0, 1), not ${sparsity}`);
    const threshold = (vals: Float32Array) => {
      const sorted = Float32Array.from(vals).sort();
      return sorted[Math.min(sorted.length - 1, Math.floor(sparsity * sorted.length))]!;
    };
    const maskBelow = (s: Float32Array, t: number) => {
      const mask = new Uint8Array(s.length).fill(1);
      for (let i = 0; i < s.length; i++) if (s[i]! < t) mask[i] = 0;
      return mask;
    };
    if ((opts.scope ?? 'global') === 'global' && !opts.activationNorms) {
      const all = new Float32Array(weights.reduce((n, w) => n + scores.get(w.name)!.length, 0));
      let o = 0;
      for (const w of weights) {
        all.set(scores.get(w.name)!, o);
        o += scores.get(w.name)!.length;
      }
      const t = threshold(all);
      for (const w of weights) masks.set(w.name, maskBelow(scores.get(w.name)!, t));
    } else if (opts.activationNorms) {
      // Wanda compares weights within each output unit (row of the weight, all of its inputs)
      for (const w of weights) {
        const s = scores.get(w.name)!;
        const outAxis = w.reductionAxis === 0 ? 1 : 0;
        const mask = new Uint8Array(s.length).fill(1);
        const { inner: innerO, n: nOut } = layout(w.dims, outAxis);
        const rows: number[][] = Array.from({ length: nOut }, () => []);
        for (let i = 0; i < s.length; i++) rows[Math.floor(i / innerO) % nOut]!.push(i);
        for (const r of rows) {
          r.sort((a, b) => s[a]! - s[b]! || a - b);
          for (const i of r.slice(0, Math.floor(sparsity * r.length))) mask[i] = 0;
        }
        masks.set(w.name, mask);
      }
    } else {
      for (const w of weights) masks.set(w.name, maskBelow(scores.get(w.name)!, threshold(scores.get(w.name)!)));
    }
  }
  let zeroed = 0;
  let total = 0;
  for (const w of weights) {
    const mask = masks.get(w.name);
    total += w.dims.reduce((a, b) => a * b, 1);
    if (mask) for (const k of mask) zeroed += 1 - k;
  }
  return { masks, report: { weights: masks.size, zeroed, total, skipped } };
}

/** Multiplies each masked weight by its mask, in place (the initializer is replaced). */
export function applyMasks(model: Model, masks: ReadonlyMap<string, Uint8Array>): void {
  for (const [name, mask] of masks) {
    const v = model.graph.initializers.get(name);
    if (!v) continue;
    const data = v.initializer!.toFloat32().slice();
    for (let i = 0; i < data.length; i++) if (!mask[i]) data[i] = 0;
    v.initializer = Tensor.float([...v.initializer!.dims], data, name);
  }
}

/** Fraction of exact zeros over the given weights (a check of what was written). */
export function zeroFraction(model: Model, names: Iterable<string>): number {
  let z = 0;
  let n = 0;
  for (const name of names) {
    const t = model.graph.initializers.get(name)?.initializer;
    if (!t) continue;
    const d = t.toFloat32();
    for (const x of d) z += x === 0 ? 1 : 0;
    n += d.length;
  }
  return n ? z / n : 0;
}
