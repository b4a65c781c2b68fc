import { DataType } from '../ir/dtype.js';
import type { Tensor } from '../ir/tensor.js';
import { bytesEqual } from '../util/hash.js';

/** How far a candidate output is from the reference one. */
export interface OutputDiff {
  name: string;
  dims: number[];
  /** Largest |cand − ref| (Infinity when shapes differ or NaN appears on one side only). */
  maxAbs: number;
  /** Largest |cand − ref| / |ref| over elements where |ref| > atol (0 when there are none). */
  maxRel: number;
  meanAbs: number;
  /** Cosine similarity of the flattened outputs (1 for two all-zero outputs). */
  cosine: number;
  /** For class-like outputs (float, rank ≥ 2, last dim ≥ 2): fraction of rows with the same argmax. */
  top1?: number;
  /** Elements outside |cand − ref| ≤ atol + rtol·|ref|. */
  mismatches: number;
  count: number;
  /** Why the outputs cannot be compared element-wise, if so. */
  problem?: string;
}

export interface Tolerance {
  atol: number;
  rtol: number;
}

const isFloatType = (t: DataType) => t === DataType.FLOAT || t === DataType.FLOAT16 || t === DataType.DOUBLE || t === DataType.BFLOAT16;

function stringsEqual(a: Tensor, b: Tensor): number {
  const sa = a.strings ?? [];
  const sb = b.strings ?? [];
  let bad = 0;
  for (let i = 0; i < sa.length; i++) if (!bytesEqual(sa[i]!, sb[i] ?? new Uint8Array())) bad++;
  return bad;
}

/** Compares one output of the candidate against the reference. */
export function compareTensors(name: string, ref: Tensor, cand: Tensor, tol: Tolerance): OutputDiff {
  const base: OutputDiff = { name, dims: [...ref.dims], maxAbs: 0, maxRel: 0, meanAbs: 0, cosine: 1, mismatches: 0, count: ref.size };
  if (ref.dims.length !== cand.dims.length || ref.dims.some((d, i) => d !== cand.dims[i])) {
    return { ...base, maxAbs: Infinity, cosine: 0, mismatches: ref.size, problem: `shape [${cand.dims}] ≠ reference [${ref.dims}]` };
  }
  if (ref.dtype !== cand.dtype) {
    return { ...base, maxAbs: Infinity, cosine: 0, mismatches: ref.size, problem: `type ${cand.dtype} ≠ reference ${ref.dtype}` };
  }
  if (ref.dtype === DataType.STRING) {
    const bad = stringsEqual(ref, cand);
    return { ...base, mismatches: bad, maxAbs: bad ? Infinity : 0 };
  }
  const a = ref.toFloat32();
  const b = cand.toFloat32();
  let maxAbs = 0;
  let maxRel = 0;
  let sumAbs = 0;
  let dot = 0;
  let na = 0;
  let nb = 0;
  let mismatches = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    let d: number;
    if (Number.isNaN(x) || Number.isNaN(y)) d = Number.isNaN(x) && Number.isNaN(y) ? 0 : Infinity;
    else if (x === y) d = 0; // equal infinities included
    else d = Math.abs(x - y);
    if (d > maxAbs) maxAbs = d;
    if (Number.isFinite(d)) sumAbs += d;
    if (Math.abs(x) > tol.atol && Number.isFinite(x)) maxRel = Math.max(maxRel, d / Math.abs(x));
    if (!(d <= tol.atol + tol.rtol * Math.abs(x))) mismatches++;
    if (Number.isFinite(x) && Number.isFinite(y)) {
      dot += x * y;
      na += x * x;
      nb += y * y;
    }
  }
  const cosine = na === 0 && nb === 0 ? 1 : na === 0 || nb === 0 ? 0 : dot / Math.sqrt(na * nb);
  const diff: OutputDiff = { ...base, maxAbs, maxRel, meanAbs: a.length ? sumAbs / a.length : 0, cosine, mismatches };
  const classes = ref.dims[ref.dims.length - 1] ?? 0;
  if (isFloatType(ref.dtype) && ref.dims.length >= 2 && classes >= 2) diff.top1 = top1Agreement(a, b, classes);
  return diff;
}

/** Fraction of rows (along the last axis) whose argmax agrees. */
export function top1Agreement(a: Float32Array, b: Float32Array, classes: number): number {
  const rows = a.length / classes;
  if (rows === 0) return 1;
  let same = 0;
  for (let r = 0; r < rows; r++) {
    let ia = 0;
    let ib = 0;
    for (let c = 1; c < classes; c++) {
      if (a[r * classes + c]! > a[r * classes + ia]!) ia = c;
      if (b[r * classes + c]! > b[r * classes + ib]!) ib = c;
    }
    if (ia === ib) same++;
  }
  return same / rows;
}

/** Folds the diff of one more sample into the running summary of an output. */
export function mergeDiff(acc: OutputDiff | undefined, d: OutputDiff): OutputDiff {
  if (!acc) return { ...d };
  const n = acc.count + d.count;
  const rowsA = acc.top1 !== undefined ? acc.count : 0;
  const rowsD = d.top1 !== undefined ? d.count : 0;
  return {
    name: d.name,
    dims: d.dims,
    maxAbs: Math.max(acc.maxAbs, d.maxAbs),
    maxRel: Math.max(acc.maxRel, d.maxRel),
    meanAbs: n ? (acc.meanAbs * acc.count + d.meanAbs * d.count) / n : 0,
    cosine: Math.min(acc.cosine, d.cosine),
    top1: acc.top1 !== undefined && d.top1 !== undefined ? (acc.top1 * rowsA + d.top1 * rowsD) / (rowsA + rowsD) : acc.top1 ?? d.top1,
    mismatches: acc.mismatches + d.mismatches,
    count: n,
    problem: acc.problem ?? d.problem,
  };
}
