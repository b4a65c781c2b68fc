import { DataType } from '../ir/dtype.js';
import type { Tensor } from '../ir/tensor.js';
import { bytesEqual } from '../util/hash.js';

/**
 * The one place that says how far a candidate's output is from a reference's (verify, quantization tests,
 * sensitivity, eval fidelity and the search's proxy all use it). NaN-aware throughout: NaN on one side only is
 * an infinite error, NaN on both sides (and equal infinities) agree; a candidate that turned an output into
 * NaN never reports a small error, a cosine of 1 or a high SQNR.
 */

/** How far a candidate's values are from the reference's (same length). */
export interface ArrayDiff {
  /** Largest |cand − ref| (Infinity when NaN/±Infinity appears on one side only). */
  maxAbs: number;
  /** Largest |cand − ref| / |ref| over elements where |ref| > atol (0 when there are none). */
  maxRel: number;
  /** Mean |cand − ref| (Infinity when any element differs infinitely). */
  meanAbs: number;
  /** Largest finite |ref|: the output's own scale. */
  scale: number;
  /** maxAbs / scale (maxAbs itself when the reference is all zeros): error against the output's own scale. */
  relMaxDiff: number;
  /** Signal-to-noise ratio in dB (Infinity when identical, −Infinity when any element differs infinitely). */
  sqnr: number;
  /** Cosine similarity (1 for two all-zero outputs; 0 when NaN/Infinity appears on one side only). */
  cosine: number;
  /** Class outputs (rows of `classes` values): share of rows whose arg-max agrees. */
  top1?: number;
  /** Class outputs: share of rows whose reference arg-max is among the candidate's top 5. */
  top5?: number;
  /** Class outputs: KL(reference ‖ candidate) over rows, averaged (softmax first unless already probabilities). */
  kl?: number;
  /** Elements outside |cand − ref| ≤ atol + rtol·|ref| (NaN-aware). */
  mismatches: number;
  /** NaN elements on each side. */
  nanRef: number;
  nanCand: number;
  count: number;
  /** Σref², Σ(cand − ref)², Σref·cand, Σcand² over pairs finite on both sides: SQNR and cosine of merged runs. */
  sums: { signal: number; noise: number; dot: number; cand: number };
}

export interface Tolerance {
  atol: number;
  rtol: number;
}

export interface CompareOptions {
  tol?: Tolerance;
  /** Row length of class scores (last axis); top-1/top-5/KL are computed when ≥ 2. */
  classes?: number;
  /** Rows are probabilities already (else logits: softmax before KL); default: detected. */
  probabilities?: boolean;
}

const DEFAULT_TOL: Tolerance = { atol: 1e-4, rtol: 1e-3 };

/** |cand − ref|, NaN-aware: NaN on both sides and equal infinities are 0; NaN or ±Infinity on one side is Infinity. */
export function elementError(x: number, y: number): number {
  if (Number.isNaN(x) || Number.isNaN(y)) return Number.isNaN(x) && Number.isNaN(y) ? 0 : Infinity;
  if (x === y) return 0;
  return Math.abs(x - y);
}

/** Compares two arrays of the same length element by element (and row by row for class scores). */
export function compareArrays(ref: ArrayLike<number>, cand: ArrayLike<number>, opts: CompareOptions = {}): ArrayDiff {
  const tol = opts.tol ?? DEFAULT_TOL;
  const n = ref.length;
  if (cand.length !== n) throw new Error(`compareArrays: lengths differ (${n} vs ${cand.length})`);
  let maxAbs = 0;
  let maxRel = 0;
  let sumAbs = 0;
  let scale = 0;
  let signal = 0;
  let noise = 0;
  let dot = 0;
  let nb = 0;
  let mismatches = 0;
  let nanRef = 0;
  let nanCand = 0;
  let oneSided = false;
  for (let i = 0; i < n; i++) {
    const x = ref[i]!;
    const y = cand[i]!;
    if (Number.isNaN(x)) nanRef++;
    if (Number.isNaN(y)) nanCand++;
    const d = elementError(x, y);
    if (d > maxAbs) maxAbs = d;
    sumAbs += d;
    const ax = Math.abs(x);
    if (Number.isFinite(x)) {
      if (ax > scale) scale = ax;
      if (ax > tol.atol) maxRel = Math.max(maxRel, d / ax);
    }
    if (!(d <= tol.atol + tol.rtol * (Number.isFinite(ax) ? ax : 0)) && d !== 0) mismatches++;
    if (d === Infinity) oneSided = true;
    else if (Number.isFinite(x) && Number.isFinite(y)) {
      signal += x * x;
      noise += d * d;
      dot += x * y;
      nb += y * y;
    }
  }
  const sums = { signal, noise, dot, cand: nb };
  const diff: ArrayDiff = {
    maxAbs,
    maxRel,
    meanAbs: n ? sumAbs / n : 0,
    scale,
    relMaxDiff: scale > 0 ? maxAbs / scale : maxAbs,
    ...fromSums(sums, oneSided),
    mismatches,
    nanRef,
    nanCand,
    count: n,
    sums,
  };
  const classes = opts.classes ?? 0;
  if (classes >= 2 && n % classes === 0 && n > 0) Object.assign(diff, classScores(ref, cand, classes, opts.probabilities ?? isDistribution(ref, classes)));
  return diff;
}

function fromSums(s: ArrayDiff['sums'], oneSided: boolean): { sqnr: number; cosine: number } {
  if (oneSided) return { sqnr: -Infinity, cosine: 0 };
  const cosine = s.signal === 0 && s.cand === 0 ? 1 : s.signal === 0 || s.cand === 0 ? 0 : s.dot / Math.sqrt(s.signal * s.cand);
  return { sqnr: s.noise === 0 ? Infinity : 10 * Math.log10(s.signal / s.noise), cosine };
}

/** True when every row along the last axis is already a distribution (non-negative, sums to 1). */
export function isDistribution(x: ArrayLike<number>, classes: number): boolean {
  for (let r = 0; r < x.length / classes; r++) {
    let s = 0;
    for (let c = 0; c < classes; c++) {
      const v = x[r * classes + c]!;
      if (!(v >= 0)) return false;
      s += v;
    }
    if (!(Math.abs(s - 1) <= 1e-3)) return false;
  }
  return true;
}

/** Arg-max of a row; NaN beats everything (a NaN row never agrees with a finite one by accident). */
function argmax(x: ArrayLike<number>, off: number, n: number): number {
  let best = 0;
  for (let i = 0; i < n; i++) {
    const v = x[off + i]!;
    if (Number.isNaN(v)) return -1 - i;
    if (i > 0 && v > x[off + best]!) best = i;
  }
  return best;
}

function rankOf(x: ArrayLike<number>, off: number, n: number, k: number): number {
  const v = x[off + k]!;
  let above = 0;
  for (let i = 0; i < n; i++) if (x[off + i]! > v) above++;
  return above;
}

/** Softmax of x[off .. off+n) into out (NaN in, NaN out). */
function softmaxInto(x: ArrayLike<number>, off: number, n: number, out: Float64Array): void {
  let max = -Infinity;
  for (let i = 0; i < n; i++) max = Math.max(max, x[off + i]!);
  let sum = 0;
  for (let i = 0; i < n; i++) sum += out[i] = Math.exp(x[off + i]! - max);
  for (let i = 0; i < n; i++) out[i]! /= sum;
}

function classScores(ref: ArrayLike<number>, cand: ArrayLike<number>, classes: number, probabilities: boolean): { top1: number; top5: number; kl: number } {
  const rows = ref.length / classes;
  let agree = 0;
  let inTop5 = 0;
  let kl = 0;
  const p = new Float64Array(classes);
  const q = new Float64Array(classes);
  for (let r = 0; r < rows; r++) {
    const off = r * classes;
    const a = argmax(ref, off, classes);
    const b = argmax(cand, off, classes);
    if (a === b && a >= 0) agree++;
    if (a >= 0 && b >= 0 && rankOf(cand, off, classes, a) < 5) inTop5++;
    if (probabilities) {
      for (let c = 0; c < classes; c++) {
        p[c] = ref[off + c]!;
        q[c] = cand[off + c]!;
      }
    } else {
      softmaxInto(ref, off, classes, p);
      softmaxInto(cand, off, classes, q);
    }
    let rowKl = 0;
    for (let c = 0; c < classes; c++) {
      const pc = p[c]!;
      const qc = q[c]!;
      if (Number.isNaN(pc) || Number.isNaN(qc)) rowKl = Number.isNaN(pc) && Number.isNaN(qc) ? rowKl : Infinity;
      else if (pc > 0) rowKl += pc * Math.log(pc / Math.max(qc, 1e-12));
    }
    kl += rowKl;
  }
  // probabilities that do not sum to exactly 1 (float rounding) can push KL a hair below 0
  return { top1: agree / rows, top5: inTop5 / rows, kl: Math.max(0, kl / rows) };
}

/** How far a candidate output is from the reference one: an ArrayDiff with its name and shape. */
export interface OutputDiff extends ArrayDiff {
  name: string;
  dims: number[];
  /** Why the outputs cannot be compared element-wise, if so. */
  problem?: string;
}

const isFloatType = (t: DataType) => t === DataType.FLOAT || t === DataType.FLOAT16 || t === DataType.DOUBLE || t === DataType.BFLOAT16;

/**
 * Row length when an output holds class scores: float, rank ≥ 2, last dim ≥ 2. Recurrent state and feature
 * maps also have such shapes; their top-1 is reported but no proxy picks it unless the caller says so.
 */
export function classCount(dims: readonly number[], dtype: DataType): number | undefined {
  const c = dims[dims.length - 1] ?? 0;
  return isFloatType(dtype) && dims.length >= 2 && c >= 2 ? c : undefined;
}

function failed(name: string, dims: number[], count: number, problem: string): OutputDiff {
  return { name, dims, maxAbs: Infinity, maxRel: Infinity, meanAbs: Infinity, scale: 0, relMaxDiff: Infinity, sqnr: -Infinity, cosine: 0, mismatches: count, nanRef: 0, nanCand: 0, count, sums: { signal: 0, noise: 0, dot: 0, cand: 0 }, problem };
}

/** Compares one output of the candidate against the reference. */
export function compareTensors(name: string, ref: Tensor, cand: Tensor, tol: Tolerance = DEFAULT_TOL): OutputDiff {
  const dims = [...ref.dims];
  if (ref.dims.length !== cand.dims.length || ref.dims.some((d, i) => d !== cand.dims[i])) return failed(name, dims, ref.size, `shape [${cand.dims}] ≠ reference [${ref.dims}]`);
  if (ref.dtype !== cand.dtype) return failed(name, dims, ref.size, `type ${cand.dtype} ≠ reference ${ref.dtype}`);
  if (ref.dtype === DataType.STRING) {
    const sa = ref.strings ?? [];
    const sb = cand.strings ?? [];
    let bad = 0;
    for (let i = 0; i < sa.length; i++) if (!bytesEqual(sa[i]!, sb[i] ?? new Uint8Array())) bad++;
    const d = compareArrays([], []);
    return { ...d, name, dims, count: ref.size, mismatches: bad, maxAbs: bad ? Infinity : 0 };
  }
  const classes = classCount(ref.dims, ref.dtype);
  return { name, dims, ...compareArrays(ref.toFloat32(), cand.toFloat32(), { tol, ...(classes ? { classes } : {}) }) };
}

/** Compares one output over several runs (lists of per-run results, same order), as one long output. */
export function compareRuns(name: string, ref: readonly Tensor[], cand: readonly Tensor[], tol: Tolerance = DEFAULT_TOL): OutputDiff {
  return ref.map((r, i) => (cand[i] ? compareTensors(name, r, cand[i], tol) : failed(name, [...r.dims], r.size, 'missing from the candidate'))).reduce<OutputDiff | undefined>((acc, d) => mergeDiff(acc, d), undefined)!;
}

/** Folds the diff of one more sample into the running summary of an output. */
export function mergeDiff(acc: OutputDiff | undefined, d: OutputDiff): OutputDiff {
  if (!acc) return { ...d };
  const n = acc.count + d.count;
  const weighted = (a: number | undefined, b: number | undefined) =>
    a !== undefined && b !== undefined ? (a * acc.count + b * d.count) / n : (a ?? b);
  // SQNR and cosine of the concatenation, from each part's sums
  const sums = { signal: acc.sums.signal + d.sums.signal, noise: acc.sums.noise + d.sums.noise, dot: acc.sums.dot + d.sums.dot, cand: acc.sums.cand + d.sums.cand };
  const oneSided = acc.maxAbs === Infinity || d.maxAbs === Infinity;
  const scale = Math.max(acc.scale, d.scale);
  const maxAbs = Math.max(acc.maxAbs, d.maxAbs);
  return {
    name: d.name,
    dims: d.dims,
    maxAbs,
    maxRel: Math.max(acc.maxRel, d.maxRel),
    meanAbs: n ? (acc.meanAbs * acc.count + d.meanAbs * d.count) / n : 0,
    scale,
    relMaxDiff: scale > 0 ? maxAbs / scale : maxAbs,
    ...fromSums(sums, oneSided),
    ...(acc.top1 !== undefined || d.top1 !== undefined ? { top1: weighted(acc.top1, d.top1)!, top5: weighted(acc.top5, d.top5)!, kl: weighted(acc.kl, d.kl)! } : {}),
    mismatches: acc.mismatches + d.mismatches,
    nanRef: acc.nanRef + d.nanRef,
    nanCand: acc.nanCand + d.nanCand,
    count: n,
    sums,
    ...((acc.problem ?? d.problem) ? { problem: acc.problem ?? d.problem } : {}),
  };
}

/** Fraction of rows (along the last axis) whose argmax agrees. */
export function top1Agreement(a: ArrayLike<number>, b: ArrayLike<number>, classes: number): number {
  return classScores(a, b, classes, false).top1;
}
