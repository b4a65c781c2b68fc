/**
 * A streaming histogram over [-R, R] with a fixed number of bins, R always a power of two. When a batch
 * holds a value beyond R, R doubles (as often as needed) and neighbouring bins merge exactly, so memory is
 * constant and the final histogram is the one a single pass over all the data would build: R ends as the
 * smallest power of two ≥ max |x| whatever the batches were, and merged counts equal direct counts.
 */
export const HISTOGRAM_BINS = 2048;

export interface HistogramState {
  min: number;
  max: number;
  /** Half-width of the histogram's range: the smallest power of two ≥ max |x| seen. */
  R: number;
  count: number;
  bins: number[];
}

export class StreamingHistogram {
  min = Infinity;
  max = -Infinity;
  R = 0;
  count = 0;
  bins: Float64Array;

  constructor(readonly size = HISTOGRAM_BINS) {
    if (size % 2) throw new Error('histogram size must be even');
    this.bins = new Float64Array(size);
  }

  update(x: ArrayLike<number>): void {
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = 0; i < x.length; i++) {
      const v = x[i]!;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    if (!(lo <= hi)) return; // empty, or NaN everywhere
    this.min = Math.min(this.min, lo);
    this.max = Math.max(this.max, hi);
    const absMax = Math.max(-lo, hi);
    if (this.R === 0) this.R = absMax > 0 ? 2 ** Math.ceil(Math.log2(absMax)) : 0;
    else if (absMax > this.R) this.grow(Math.ceil(Math.log2(absMax / this.R) - 1e-12));
    const half = this.size / 2;
    if (this.R === 0) {
      this.bins[half] = this.bins[half]! + x.length; // all zeros so far: they live in the bin just above 0
      this.count += x.length;
      return;
    }
    const inv = half / this.R;
    const last = this.size - 1;
    const bins = this.bins;
    for (let i = 0; i < x.length; i++) {
      const b = Math.floor((x[i]! + this.R) * inv);
      const k = b < 0 ? 0 : b > last ? last : b;
      bins[k] = bins[k]! + 1;
    }
    this.count += x.length;
  }

  /** Multiplies R by 2^k, merging 2^k neighbouring bins into one (exact). */
  private grow(k: number): void {
    if (k <= 0) return;
    const f = 2 ** k;
    const half = this.size / 2;
    const merged = new Float64Array(this.size);
    for (let i = 0; i < this.size; i++) {
      if (!this.bins[i]) continue;
      const j = Math.floor((i + half * (f - 1)) / f);
      const k = Math.min(this.size - 1, j);
      merged[k] = merged[k]! + this.bins[i]!;
    }
    this.bins = merged;
    this.R *= f;
  }

  get binWidth(): number {
    return (2 * this.R) / this.size;
  }

  /** Counts of |x|: bin k covers [k·w, (k+1)·w). */
  folded(): Float64Array {
    const half = this.size / 2;
    const out = new Float64Array(half);
    for (let k = 0; k < half; k++) out[k] = this.bins[half + k]! + this.bins[half - 1 - k]!;
    return out;
  }

  toJSON(): HistogramState {
    return { min: this.min, max: this.max, R: this.R, count: this.count, bins: Array.from(this.bins) };
  }

  static fromJSON(s: HistogramState): StreamingHistogram {
    const h = new StreamingHistogram(s.bins.length);
    h.min = s.min;
    h.max = s.max;
    h.R = s.R;
    h.count = s.count;
    h.bins = Float64Array.from(s.bins);
    return h;
  }
}
