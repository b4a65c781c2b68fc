/**
 * Summary statistics for measurements (latencies, sizes, scores) and a seeded bootstrap for confidence
 * intervals of a ratio of medians. Pure functions over plain number arrays; inputs are never modified.
 */
import { rng } from './random.js';

export function mean(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  let s = 0;
  for (const x of xs) s += x;
  return s / xs.length;
}

/** Sample standard deviation (n − 1 in the denominator); 0 for a single value. */
export function stdev(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  if (xs.length === 1) return 0;
  const m = mean(xs);
  let s = 0;
  for (const x of xs) s += (x - m) * (x - m);
  return Math.sqrt(s / (xs.length - 1));
}

/** Typed-array sort is numeric (a plain array's default sort compares strings). */
function sortedCopy(xs: readonly number[]): Float64Array {
  return Float64Array.from(xs).sort();
}

/** The q-quantile (0 ≤ q ≤ 1) of already sorted values, interpolating linearly (numpy's default). */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const pos = Math.min(Math.max(q, 0), 1) * (n - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, n - 1);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

/** The p-th percentile (0–100), linear interpolation between closest ranks. */
export function percentile(xs: readonly number[], p: number): number {
  return quantileSorted(sortedCopy(xs), p / 100);
}

export function median(xs: readonly number[]): number {
  return percentile(xs, 50);
}

export interface Summary {
  n: number;
  mean: number;
  stdev: number;
  min: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** Count, mean, spread and percentiles of a sample in one pass over a sorted copy. */
export function summarize(xs: readonly number[]): Summary {
  const s = sortedCopy(xs);
  return {
    n: xs.length,
    mean: mean(xs),
    stdev: stdev(xs),
    min: s.length ? s[0]! : NaN,
    p50: quantileSorted(s, 0.5),
    p90: quantileSorted(s, 0.9),
    p99: quantileSorted(s, 0.99),
    max: s.length ? s[s.length - 1]! : NaN,
  };
}

/** Bound on the values drawn by one bootstrap, to keep it under about a second. */
const MAX_RESAMPLED_VALUES = 2e8;

/** The k-th smallest value (0-based) by quickselect; reorders `xs`. */
function selectInPlace(xs: Float64Array, k: number): number {
  let lo = 0;
  let hi = xs.length - 1;
  while (lo < hi) {
    const pivot = xs[(lo + hi) >> 1]!;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (xs[i]! < pivot) i++;
      while (xs[j]! > pivot) j--;
      if (i <= j) {
        const t = xs[i]!;
        xs[i++] = xs[j]!;
        xs[j--] = t;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return xs[k]!;
  }
  return xs[k]!;
}

/** Median with the same interpolation as `median`, in O(n), for hot loops; reorders `xs`. */
export function medianInPlace(xs: Float64Array): number {
  const n = xs.length;
  const hi = selectInPlace(xs, n >> 1);
  if (n % 2 === 1) return hi;
  // the lower middle is the largest value left of the upper middle after selection
  let lo = -Infinity;
  for (let i = 0; i < n >> 1; i++) if (xs[i]! > lo) lo = xs[i]!;
  return (lo + hi) / 2;
}

export interface RatioInterval {
  /** median(b) / median(a) on the full samples. */
  ratio: number;
  low: number;
  high: number;
  confidence: number;
  iterations: number;
}

export interface BootstrapOptions {
  iterations?: number;
  confidence?: number;
  seed?: number;
  /**
   * Resample (a[i], b[i]) pairs together: right when a[i] and b[i] were measured in the same round of an
   * interleaved run, so that drift in machine load (which moves both) does not widen the interval.
   */
  paired?: boolean;
}

/**
 * Ratio of medians median(b) / median(a) with a percentile-bootstrap confidence interval (default 95%,
 * 2,000 resamples, seeded so that the same data gives the same interval).
 */
export function bootstrapMedianRatio(a: readonly number[], b: readonly number[], opts: BootstrapOptions = {}): RatioInterval {
  // long runs (tens of thousands of rounds) get fewer resamples: the interval is narrow there anyway
  const iterations = Math.max(200, Math.min(opts.iterations ?? 2000, Math.floor(MAX_RESAMPLED_VALUES / (a.length + b.length))));
  const confidence = opts.confidence ?? 0.95;
  if (a.length === 0 || b.length === 0) throw new Error('bootstrapMedianRatio: both samples need at least one value');
  if (opts.paired && a.length !== b.length) throw new Error('bootstrapMedianRatio: paired samples must have the same length');
  const rand = rng(opts.seed ?? 1);
  const ratios = new Float64Array(iterations);
  const ra = new Float64Array(a.length);
  const rb = new Float64Array(b.length);
  for (let it = 0; it < iterations; it++) {
    for (let i = 0; i < ra.length; i++) {
      const j = Math.floor(rand() * a.length);
      ra[i] = a[j]!;
      if (opts.paired) rb[i] = b[j]!;
    }
    if (!opts.paired) for (let i = 0; i < rb.length; i++) rb[i] = b[Math.floor(rand() * b.length)]!;
    ratios[it] = medianInPlace(rb) / medianInPlace(ra);
  }
  ratios.sort();
  const tail = (1 - confidence) / 2;
  return {
    ratio: median(b) / median(a),
    low: quantileSorted(ratios, tail),
    high: quantileSorted(ratios, 1 - tail),
    confidence,
    iterations,
  };
}
