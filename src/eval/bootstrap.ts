import { quantileSorted } from '../util/stats.js';
import { rng } from '../util/random.js';

/** A metric over a set of samples, with its percentile-bootstrap confidence interval. */
export interface Estimate {
  value: number;
  low: number;
  high: number;
  confidence: number;
  /** Samples the value was computed from. */
  n: number;
}

export interface ResampleOptions {
  /** Resamples (default 1000). */
  iterations?: number;
  /** Interval coverage (default 0.95). */
  confidence?: number;
  /** Same seed, same interval (default 1). */
  seed?: number;
}

/**
 * Percentile bootstrap over samples: `stat` gets the indices of a resample (drawn with replacement, same
 * size as the data) and returns the metric on it. Seeded, so the same data gives the same interval.
 */
export function bootstrap(n: number, stat: (idx: Uint32Array) => number, opts: ResampleOptions = {}): Estimate {
  const confidence = opts.confidence ?? 0.95;
  const all = new Uint32Array(n);
  for (let i = 0; i < n; i++) all[i] = i;
  const value = stat(all);
  if (n === 0) return { value: NaN, low: NaN, high: NaN, confidence, n };
  const iterations = opts.iterations ?? 1000;
  const rand = rng(opts.seed ?? 1);
  const stats = new Float64Array(iterations);
  const idx = new Uint32Array(n);
  for (let it = 0; it < iterations; it++) {
    for (let i = 0; i < n; i++) idx[i] = Math.floor(rand() * n);
    stats[it] = stat(idx);
  }
  // NaN (e.g. a class absent from a resample) sorts last in a typed array: keep the finite part
  stats.sort();
  let finite = iterations;
  while (finite > 0 && Number.isNaN(stats[finite - 1]!)) finite--;
  const tail = (1 - confidence) / 2;
  const kept = stats.subarray(0, finite);
  return { value, low: quantileSorted(kept, tail), high: quantileSorted(kept, 1 - tail), confidence, n };
}

/** Mean of per-sample values, with its bootstrap interval. */
export function bootstrapMean(xs: ArrayLike<number>, opts: ResampleOptions = {}): Estimate {
  return bootstrap(
    xs.length,
    (idx) => {
      let s = 0;
      for (const i of idx) s += xs[i]!;
      return s / idx.length;
    },
    opts,
  );
}

/** Ratio of sums Σnum/Σden over samples (corpus-level rates such as CER), with its bootstrap interval. */
export function bootstrapRatio(num: ArrayLike<number>, den: ArrayLike<number>, opts: ResampleOptions = {}): Estimate {
  return bootstrap(
    num.length,
    (idx) => {
      let a = 0;
      let b = 0;
      for (const i of idx) {
        a += num[i]!;
        b += den[i]!;
      }
      return a / b;
    },
    opts,
  );
}
