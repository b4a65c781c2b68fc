import { describe, expect, it } from 'vitest';
import { gaussian, rng } from './random.js';
import { bootstrapMedianRatio, mean, median, medianInPlace, percentile, stdev, summarize } from './stats.js';

describe('summary statistics', () => {
  const xs = [7, 1, 3, 10, 4]; // sorted: 1 3 4 7 10

  it('matches hand-computed values', () => {
    expect(mean(xs)).toBe(5);
    // squared deviations 16+4+1+4+25 = 50; sample variance 50/4
    expect(stdev(xs)).toBeCloseTo(Math.sqrt(12.5), 12);
    expect(median(xs)).toBe(4);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    // numpy-style linear interpolation: p90 at position 0.9*4 = 3.6 → 7 + 0.6*(10-7)
    expect(percentile(xs, 90)).toBeCloseTo(8.8, 12);
    expect(percentile(xs, 0)).toBe(1);
    expect(percentile(xs, 100)).toBe(10);
    expect(percentile(xs, 25)).toBe(3);
  });

  it('summarizes in one call and leaves the input alone', () => {
    const copy = [...xs];
    const s = summarize(xs);
    expect(s).toEqual({ n: 5, mean: 5, stdev: Math.sqrt(12.5), min: 1, p50: 4, p90: 8.8, p99: 7 + 0.96 * 3, max: 10 });
    expect(xs).toEqual(copy);
    expect(summarize([2]).stdev).toBe(0);
    expect(Number.isNaN(summarize([]).mean)).toBe(true);
  });

  it('sorts numerically (not as strings)', () => {
    expect(median([100, 9, 20])).toBe(20);
  });

  it('medianInPlace agrees with median on random data, odd and even lengths, with ties', () => {
    const r = rng(3);
    for (let n = 1; n < 60; n++) {
      const data = Array.from({ length: n }, () => Math.floor(r() * 10));
      expect(medianInPlace(Float64Array.from(data))).toBe(median(data));
    }
  });
});

describe('bootstrapMedianRatio', () => {
  /** Latency-like samples: a base time times lognormal noise. */
  function samples(base: number, n: number, seed: number): number[] {
    const normal = gaussian(rng(seed));
    return Array.from({ length: n }, () => base * Math.exp(0.1 * normal()));
  }

  it('covers the true ratio of medians for synthetic data, and the interval is reproducible', () => {
    let covered = 0;
    const trials = 40;
    for (let t = 0; t < trials; t++) {
      const a = samples(10, 60, 100 + t);
      const b = samples(7, 60, 500 + t); // true ratio 0.7 (the noise's median is 1)
      const ci = bootstrapMedianRatio(a, b, { seed: t, iterations: 500 });
      expect(ci.low).toBeLessThanOrEqual(ci.ratio);
      expect(ci.high).toBeGreaterThanOrEqual(ci.ratio);
      if (ci.low <= 0.7 && 0.7 <= ci.high) covered++;
    }
    // a 95% interval should miss rarely; percentile bootstrap of medians is a bit liberal on small samples
    expect(covered).toBeGreaterThanOrEqual(33);
    const a = samples(10, 30, 1);
    const b = samples(12, 30, 2);
    expect(bootstrapMedianRatio(a, b, { seed: 9 })).toEqual(bootstrapMedianRatio(a, b, { seed: 9 }));
  });

  it('excludes 1 when B is clearly slower, and pairing removes shared drift', () => {
    const drift = Array.from({ length: 50 }, (_, i) => 1 + i / 10); // load rises during the run
    const noise = gaussian(rng(4));
    const a = drift.map((d) => 10 * d * (1 + 0.01 * noise()));
    const b = drift.map((d) => 11 * d * (1 + 0.01 * noise()));
    const paired = bootstrapMedianRatio(a, b, { paired: true, seed: 1 });
    const unpaired = bootstrapMedianRatio(a, b, { seed: 1 });
    expect(paired.low).toBeGreaterThan(1.05);
    expect(paired.high).toBeLessThan(1.15);
    expect(paired.high - paired.low).toBeLessThan(unpaired.high - unpaired.low);
    expect(() => bootstrapMedianRatio(a, b.slice(1), { paired: true })).toThrow(/same length/);
  });
});
