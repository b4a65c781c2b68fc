import { describe, expect, it } from 'vitest';
import { bootstrap, bootstrapMean } from './bootstrap.js';
import { ClassificationScores, confusionMatrix, macro, macroFromCounts, perClass, topK } from './classification.js';
import { DetBoxScores, iou, mapBoxes, matchBoxes } from './detboxes.js';
import { DetMapScores, pixelCounts, shrinkBox } from './detmap.js';
import { FidelityScores, sampleFidelity } from './fidelity.js';
import { OcrScores, chars, ctcGreedy, editDistance } from './ocr.js';

describe('classification metrics', () => {
  it('top-k picks the largest scores in order', () => {
    const s = Float32Array.from([0.1, 0.9, 0.3, 0.7, /* row 2 */ 5, 1, 4, 2]);
    expect(topK(s, 4, 0, 2)).toEqual([1, 3]);
    expect(topK(s, 4, 1, 3)).toEqual([0, 2, 3]);
  });

  it('confusion matrix, per-class precision/recall/F1 and macro averages match hand-computed values', () => {
    // labels 0 0 0 1 1 2 ; preds 0 0 1 1 2 2
    const labels = [0, 0, 0, 1, 1, 2];
    const preds = [0, 0, 1, 1, 2, 2];
    const m = confusionMatrix(preds, labels, 3);
    expect(m).toEqual([
      [2, 1, 0],
      [0, 1, 1],
      [0, 0, 1],
    ]);
    const pc = perClass(m);
    // class 0: P=2/2 R=2/3 F1=0.8; class 1: P=1/2 R=1/2 F1=0.5; class 2: P=1/2 R=1 F1=2/3
    expect(pc.map((c) => c.precision)).toEqual([1, 0.5, 0.5]);
    expect(pc[0]!.recall).toBeCloseTo(2 / 3, 12);
    expect(pc.map((c) => c.f1)[0]).toBeCloseTo(0.8, 12);
    expect(macro(m, 'f1')).toBeCloseTo((0.8 + 0.5 + 2 / 3) / 3, 12);
    expect(macro(m, 'precision')).toBeCloseTo(2 / 3, 12);
    for (const f of ['precision', 'recall', 'f1'] as const) expect(macroFromCounts(preds, labels, 3, [0, 1, 2, 3, 4, 5], f)).toBeCloseTo(macro(m, f), 12);
  });

  it('accumulates scores and reports top-1/top-5 with intervals around them', () => {
    const c = new ClassificationScores(6);
    // 4 samples, 6 classes: argmax = index of the 9
    const rows = [
      [9, 0, 0, 0, 0, 0],
      [0, 9, 8, 7, 6, 5],
      [0, 0, 9, 0, 0, 0],
      [1, 2, 3, 4, 9, 0.5],
    ];
    c.add(Float32Array.from(rows.flat()), 6, [0, 2, 2, 5]);
    const e = c.estimates({ iterations: 200 });
    expect(e.top1!.value).toBe(0.5); // samples 0 and 2
    expect(e.top5!.value).toBe(0.75); // sample 3: class 5 is the smallest of six, outside the top 5
    expect(e.top1!.low).toBeLessThanOrEqual(0.5);
    expect(e.top1!.high).toBeGreaterThanOrEqual(0.5);
  });
});

describe('OCR metrics', () => {
  it('greedy CTC merges repeats and drops blanks', () => {
    // T=6, C=3: arg-max path 1 1 0 1 2 2 → [1, 1, 2]
    const path = [1, 1, 0, 1, 2, 2];
    const probs = new Float32Array(6 * 3);
    path.forEach((c, t) => (probs[t * 3 + c] = 1));
    expect(ctcGreedy(probs, 6, 3)).toEqual([1, 1, 2]);
  });

  it('edit distance and CER against hand counts, CJK as one character each', () => {
    expect(editDistance(chars('kitten'), chars('sitting'))).toBe(3);
    expect(editDistance(chars(''), chars('abc'))).toBe(3);
    expect(editDistance(chars('中文字'), chars('中字'))).toBe(1);
    const s = new OcrScores();
    s.add('a', 'kitten', 'sitting'); // 3 edits / 6
    s.add('b', 'abcd', 'abcd'); // 0 / 4
    const e = s.estimates({ iterations: 100 });
    expect(e.cer!.value).toBeCloseTo(3 / 10, 12);
    expect(e.exactMatch!.value).toBe(0.5);
    expect(s.misses).toEqual([{ id: 'a', expected: 'kitten', got: 'sitting' }]);
  });
});

describe('detection-map metrics', () => {
  it('counts pixels inside boxes above the threshold', () => {
    // 4×4 map, box covers the left 2 columns; predicted text = top two rows
    const map = new Float32Array(16);
    map.fill(0.9, 0, 8);
    const c = pixelCounts(map, 4, 4, [[0, 0, 2, 4]], 0.5);
    expect(c).toEqual({ tp: 4, fp: 4, fn: 4 });
    const s = new DetMapScores();
    s.add(c);
    s.add({ tp: 8, fp: 0, fn: 0 });
    const e = s.estimates({ iterations: 50 });
    expect(e.pixelF1!.value).toBeCloseTo((2 * 12) / (2 * 12 + 4 + 4), 12);
    expect(e.pixelIoU!.value).toBeCloseTo(12 / 20, 12);
  });

  it('shrinks boxes by D = area·(1 − r²)/perimeter', () => {
    // 100×20 box, r = 0.4: D = 2000 · 0.84 / 240 = 7
    expect(shrinkBox([0, 0, 100, 20], 0.4)).toEqual([7, 7, 93, 13]);
  });
});

describe('detection boxes from a map', () => {
  it('finds connected components, grows them by D = area·r/perimeter, matches one-to-one at IoU 0.5', () => {
    // 10×20 map with two blobs: 4×10 at (2..11, 1..4) and a 2×2 speck (dropped: side < 3)
    const W = 20;
    const map = new Float32Array(10 * W);
    for (let y = 1; y < 5; y++) for (let x = 2; x < 12; x++) map[y * W + x] = 0.9;
    map[8 * W + 17] = map[8 * W + 18] = map[9 * W + 17] = map[9 * W + 18] = 0.9;
    const boxes = mapBoxes(map, 10, W, 0.3, { unclipRatio: 1.5 });
    const d = (40 * 1.5) / 28; // area 40, perimeter 28
    expect(boxes).toHaveLength(1);
    // d ≈ 2.14: x0 and y0 are clipped at the map's edge
    expect(boxes[0]![0]).toBe(0);
    expect(boxes[0]![1]).toBe(0);
    expect(boxes[0]![2]).toBeCloseTo(12 + d, 9);
    expect(boxes[0]![3]).toBeCloseTo(5 + d, 9);
    expect(iou([0, 0, 2, 2], [1, 0, 3, 2])).toBeCloseTo(1 / 3, 12);
    // two predictions overlapping the same truth: only one may match
    expect(matchBoxes([[0, 0, 10, 10], [1, 0, 10, 10], [50, 50, 60, 60]], [[0, 0, 10, 10], [100, 100, 110, 110]])).toEqual({ matched: 1, predicted: 3, truth: 2 });
    const s = new DetBoxScores();
    s.add({ matched: 1, predicted: 3, truth: 2 });
    s.add({ matched: 2, predicted: 2, truth: 2 });
    const e = s.estimates({ iterations: 20 });
    expect(e.boxPrecision!.value).toBeCloseTo(3 / 5, 12);
    expect(e.boxRecall!.value).toBeCloseTo(3 / 4, 12);
    expect(e.boxHmean!.value).toBeCloseTo(6 / 9, 12);
  });
});

describe('fidelity metrics', () => {
  it('identical outputs: full agreement, zero KL and error, cosine 1', () => {
    const a = Float32Array.from([1, 2, 3, -1, 0, 1]);
    const f = sampleFidelity(a, a, 3, false);
    expect(f).toMatchObject({ top1Agreement: 1, kl: 0, cosine: 1, maxAbsError: 0, meanAbsError: 0 });
  });

  it('an all-NaN candidate is infinitely wrong by every measure, never error 0 or cosine 1', () => {
    const ref = Float32Array.from([0.2, 0.8, 0.6, 0.4]);
    const nan = Float32Array.from([NaN, NaN, NaN, NaN]);
    const f = sampleFidelity(nan, ref, 2, true);
    expect(f.maxAbsError).toBe(Infinity);
    expect(f.meanAbsError).toBe(Infinity);
    expect(f.cosine).toBe(0);
    expect(f.kl).toBe(Infinity);
    expect(f.top1Agreement).toBe(0);
    const scores = new FidelityScores();
    scores.add(f);
    expect(scores.estimates().maxRelError!.value).toBe(Infinity);
    // NaN where the reference has NaN too is agreement
    expect(sampleFidelity(Float32Array.from([NaN, 1]), Float32Array.from([NaN, 1]), 1, false).maxAbsError).toBe(0);
  });

  it('scalar outputs: no class metrics (top-1 of one value always agrees), error against the outputs\' range', () => {
    const scores = new FidelityScores();
    const pairs = [[0.001, 0.01], [1.0, 0.98], [0.5, 0.6]];
    for (const [r, c] of pairs) scores.add(sampleFidelity(Float32Array.of(c!), Float32Array.of(r!), 1, false));
    const e = scores.estimates();
    expect(e.top1Agreement).toBeUndefined();
    expect(e.cosine!.value).toBe(1); // why cosine cannot be the proxy for a single number
    expect(e.maxRelError!.value).toBeCloseTo(0.1 / 0.999, 6); // worst error 0.1 over the reference range 0.001..1
  });

  it('KL of probabilities, agreement and errors against hand values', () => {
    const ref = Float32Array.from([0.5, 0.5, /* row 2 */ 0.9, 0.1]);
    const cand = Float32Array.from([0.25, 0.75, 0.1, 0.9]);
    const f = sampleFidelity(cand, ref, 2, true);
    const kl1 = 0.5 * Math.log(0.5 / 0.25) + 0.5 * Math.log(0.5 / 0.75);
    const kl2 = 0.9 * Math.log(0.9 / 0.1) + 0.1 * Math.log(0.1 / 0.9);
    expect(f.kl).toBeCloseTo((kl1 + kl2) / 2, 6);
    // row 1: ties in the reference pick class 0, candidate picks 1; row 2 disagrees too
    expect(f.top1Agreement).toBe(0);
    expect(f.maxAbsError).toBeCloseTo(0.8, 6);
    expect(f.meanAbsError).toBeCloseTo((0.25 + 0.25 + 0.8 + 0.8) / 4, 6);
  });
});

describe('bootstrap', () => {
  it('is seeded, brackets the estimate, and narrows with more samples', () => {
    const coin = (n: number) => Array.from({ length: n }, (_, i) => (i % 10 < 3 ? 1 : 0)); // rate 0.3
    const small = bootstrapMean(coin(100), { seed: 5 });
    const again = bootstrapMean(coin(100), { seed: 5 });
    const big = bootstrapMean(coin(10000), { seed: 5 });
    expect(small).toEqual(again);
    expect(small.value).toBeCloseTo(0.3, 12);
    expect(small.low).toBeLessThan(0.3);
    expect(small.high).toBeGreaterThan(0.3);
    // binomial standard error √(0.3·0.7/n): the 95% interval is about ±1.96 of it
    expect(small.high - small.low).toBeGreaterThan(2 * 1.96 * Math.sqrt(0.21 / 100) * 0.8);
    expect(small.high - small.low).toBeLessThan(2 * 1.96 * Math.sqrt(0.21 / 100) * 1.2);
    expect(big.high - big.low).toBeLessThan((small.high - small.low) / 5);
  });

  it('covers the true rate about 95% of the time', () => {
    // 200 experiments of 200 Bernoulli(0.2) draws from a fixed generator
    let state = 12345;
    const rand = () => ((state = (Math.imul(state, 1103515245) + 12345) >>> 0) / 4294967296);
    let covered = 0;
    for (let k = 0; k < 200; k++) {
      const xs = Array.from({ length: 200 }, () => (rand() < 0.2 ? 1 : 0));
      const e = bootstrapMean(xs, { seed: k, iterations: 400 });
      if (e.low <= 0.2 && 0.2 <= e.high) covered++;
    }
    expect(covered / 200).toBeGreaterThan(0.88);
    expect(covered / 200).toBeLessThan(0.99);
  });

  it('an empty set gives NaN rather than a made-up interval', () => {
    expect(Number.isNaN(bootstrap(0, () => 0).value)).toBe(true);
  });
});
