import { compareArrays } from '../verify/compare.js';
import { bootstrap, bootstrapMean, type ResampleOptions, type Estimate } from './bootstrap.js';

export { isDistribution } from '../verify/compare.js';

/** How one sample's output differs from the reference's (computed by src/verify/compare). */
export interface SampleFidelity {
  /** Class outputs only: share of rows (last axis = classes) whose arg-max agrees. */
  top1Agreement?: number;
  /** Class outputs only: KL(reference ‖ candidate) over the last axis, averaged over rows. */
  kl?: number;
  cosine: number;
  maxAbsError: number;
  meanAbsError: number;
  /** Smallest and largest finite reference value: with the other samples', the output's own scale. */
  refMin: number;
  refMax: number;
}

/**
 * Compares one sample's candidate output with the reference's (same length; rows of `classes` values; class
 * metrics only when classes ≥ 2). `probabilities` says whether rows are distributions already (else logits).
 */
export function sampleFidelity(cand: Float32Array, ref: Float32Array, classes: number, probabilities: boolean): SampleFidelity {
  const d = compareArrays(ref, cand, { classes, probabilities });
  let refMin = Infinity;
  let refMax = -Infinity;
  for (const x of ref) {
    if (!Number.isFinite(x)) continue;
    if (x < refMin) refMin = x;
    if (x > refMax) refMax = x;
  }
  return {
    ...(d.top1 !== undefined ? { top1Agreement: d.top1, kl: d.kl! } : {}),
    cosine: d.cosine,
    maxAbsError: d.maxAbs,
    meanAbsError: d.meanAbs,
    refMin,
    refMax,
  };
}

/**
 * Per-sample fidelity, accumulated; every metric is a mean over samples with its interval, except the error
 * against the output's own scale, which is the worst case (bootstrapped as a maximum).
 */
export class FidelityScores {
  readonly samples: SampleFidelity[] = [];

  add(f: SampleFidelity): void {
    this.samples.push(f);
  }

  get n(): number {
    return this.samples.length;
  }

  /**
   * The reference output's own scale over all samples: its range (max − min), else its largest magnitude,
   * else 1. A probability that stays in 0..1 has scale ~1; a regression output its spread.
   */
  scale(): number {
    let lo = Infinity;
    let hi = -Infinity;
    for (const s of this.samples) {
      lo = Math.min(lo, s.refMin);
      hi = Math.max(hi, s.refMax);
    }
    if (!(hi >= lo)) return 1;
    return hi > lo ? hi - lo : Math.abs(hi) || 1;
  }

  estimates(opts: ResampleOptions = {}): Record<string, Estimate> {
    const of = (k: 'cosine' | 'maxAbsError' | 'meanAbsError' | 'top1Agreement' | 'kl') => bootstrapMean(this.samples.map((s) => s[k] ?? NaN), opts);
    const worst = this.samples.reduce((m, s) => (s.maxAbsError > m || Number.isNaN(s.maxAbsError) ? s.maxAbsError : m), 0);
    const scale = this.scale();
    const errors = this.samples.map((s) => (Number.isNaN(s.maxAbsError) ? Infinity : s.maxAbsError / scale));
    const classes = this.samples.length > 0 && this.samples.every((s) => s.top1Agreement !== undefined);
    return {
      ...(classes ? { top1Agreement: of('top1Agreement'), kl: of('kl') } : {}),
      cosine: of('cosine'),
      meanAbsError: of('meanAbsError'),
      /** Mean of per-sample maxima; the single worst element is reported as `maxAbsErrorWorst`. */
      maxAbsError: of('maxAbsError'),
      maxAbsErrorWorst: { value: worst, low: worst, high: worst, confidence: 1, n: this.n },
      /** Worst |candidate − reference| over every element of every sample, as a fraction of the output's scale. */
      maxRelError: bootstrap(errors.length, (idx) => idx.reduce((m, i) => Math.max(m, errors[i]!), 0), opts),
    };
  }
}
