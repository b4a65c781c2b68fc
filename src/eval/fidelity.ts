import { bootstrapMean, type ResampleOptions, type Estimate } from './bootstrap.js';

/** Softmax of x[off .. off+n) into out[0 .. n). */
function softmaxInto(x: Float32Array, off: number, n: number, out: Float64Array): void {
  let max = -Infinity;
  for (let i = 0; i < n; i++) max = Math.max(max, x[off + i]!);
  let sum = 0;
  for (let i = 0; i < n; i++) sum += out[i] = Math.exp(x[off + i]! - max);
  for (let i = 0; i < n; i++) out[i]! /= sum;
}

/** True when every row along the last axis is already a distribution (non-negative, sums to 1). */
export function isDistribution(x: Float32Array, classes: number): boolean {
  for (let r = 0; r < x.length / classes; r++) {
    let s = 0;
    for (let c = 0; c < classes; c++) {
      const v = x[r * classes + c]!;
      if (v < 0) return false;
      s += v;
    }
    if (Math.abs(s - 1) > 1e-3) return false;
  }
  return true;
}

/** How one sample's output differs from the reference's. */
export interface SampleFidelity {
  /** Share of rows (last axis = classes) whose arg-max agrees. */
  top1Agreement: number;
  /** KL(reference ‖ candidate) over the last axis, averaged over rows (softmax first unless already probabilities). */
  kl: number;
  cosine: number;
  maxAbsError: number;
  meanAbsError: number;
}

/**
 * Compares one sample's candidate output with the reference's (same length; rows of `classes` values).
 * `probabilities` says whether rows are distributions already (else logits: softmax is applied for KL).
 */
export function sampleFidelity(cand: Float32Array, ref: Float32Array, classes: number, probabilities: boolean): SampleFidelity {
  const n = ref.length;
  let dot = 0;
  let nc = 0;
  let nr = 0;
  let maxAbs = 0;
  let sumAbs = 0;
  for (let i = 0; i < n; i++) {
    const a = cand[i]!;
    const b = ref[i]!;
    dot += a * b;
    nc += a * a;
    nr += b * b;
    const d = Math.abs(a - b);
    if (d > maxAbs || Number.isNaN(d)) maxAbs = d;
    sumAbs += d;
  }
  const rows = Math.max(1, Math.floor(n / classes));
  let agree = 0;
  let kl = 0;
  const p = new Float64Array(classes);
  const q = new Float64Array(classes);
  for (let r = 0; r < rows; r++) {
    const off = r * classes;
    let ba = 0;
    let bb = 0;
    for (let c = 1; c < classes; c++) {
      if (cand[off + c]! > cand[off + ba]!) ba = c;
      if (ref[off + c]! > ref[off + bb]!) bb = c;
    }
    if (ba === bb) agree++;
    if (probabilities) {
      for (let c = 0; c < classes; c++) {
        p[c] = ref[off + c]!;
        q[c] = cand[off + c]!;
      }
    } else {
      softmaxInto(ref, off, classes, p);
      softmaxInto(cand, off, classes, q);
    }
    for (let c = 0; c < classes; c++) if (p[c]! > 0) kl += p[c]! * Math.log(p[c]! / Math.max(q[c]!, 1e-12));
  }
  const denom = Math.sqrt(nc) * Math.sqrt(nr);
  return {
    top1Agreement: agree / rows,
    // probabilities that do not sum to exactly 1 (float rounding) can push KL a hair below 0
    kl: Math.max(0, kl / rows),
    cosine: denom > 0 ? dot / denom : nc === nr ? 1 : 0,
    maxAbsError: maxAbs,
    meanAbsError: n ? sumAbs / n : 0,
  };
}

/** Per-sample fidelity, accumulated; every metric is a mean over samples with its interval. */
export class FidelityScores {
  readonly samples: SampleFidelity[] = [];

  add(f: SampleFidelity): void {
    this.samples.push(f);
  }

  get n(): number {
    return this.samples.length;
  }

  estimates(opts: ResampleOptions = {}): Record<string, Estimate> {
    const of = (k: keyof SampleFidelity) => bootstrapMean(this.samples.map((s) => s[k]), opts);
    const worst = this.samples.reduce((m, s) => Math.max(m, s.maxAbsError), 0);
    return {
      top1Agreement: of('top1Agreement'),
      kl: of('kl'),
      cosine: of('cosine'),
      meanAbsError: of('meanAbsError'),
      /** Mean of per-sample maxima; the single worst element is reported as `maxAbsErrorWorst`. */
      maxAbsError: of('maxAbsError'),
      maxAbsErrorWorst: { value: worst, low: worst, high: worst, confidence: 1, n: this.n },
    };
  }
}
