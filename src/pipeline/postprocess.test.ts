import { describe, expect, it } from 'vitest';
import { dbPostprocess } from './db.js';
import { minAreaRect, type Point } from './geometry.js';
import { assign } from './hungarian.js';
import { ctcDecode, decodeLine, nms } from './stages.js';
import { rng } from '../util/random.js';

/** A W×H map with value v in the axis-aligned pixel block [x0, x1) × [y0, y1). */
function map(W: number, H: number, blocks: [number, number, number, number, number][]): Float32Array {
  const m = new Float32Array(W * H);
  for (const [x0, y0, x1, y1, v] of blocks) for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) m[y * W + x] = v;
  return m;
}

describe('DB post-processing', () => {
  it('turns a text kernel into its rectangle grown by the unclip distance area·r/perimeter', () => {
    // kernel pixels x 10..39, y 8..17: the rectangle through their centres is 29 × 9
    const boxes = dbPostprocess(map(64, 32, [[10, 8, 40, 18, 0.9]]), 32, 64, { unclipRatio: 1.5 });
    expect(boxes).toHaveLength(1);
    const d = (29 * 9 * 1.5) / (2 * (29 + 9));
    const [x0, y0, x1, y1] = boxes[0]!.box;
    expect(x0).toBeCloseTo(10 - d, 5);
    expect(y0).toBeCloseTo(8 - d, 5);
    expect(x1).toBeCloseTo(39 + d, 5);
    expect(y1).toBeCloseTo(17 + d, 5);
    expect(boxes[0]!.score).toBeCloseTo(0.9, 5);
  });

  it('scales boxes from map to frame pixels and clips them to the frame', () => {
    const [b] = dbPostprocess(map(64, 32, [[0, 10, 20, 16, 0.8]]), 32, 64, { unclipRatio: 2, scaleX: 2, scaleY: 3, frameWidth: 128, frameHeight: 96 });
    const d = (19 * 5 * 2) / (2 * 24);
    expect(b!.box[0]).toBe(0);
    expect(b!.box[2]).toBeCloseTo((19 + d) * 2, 5);
    expect(b!.box[1]).toBeCloseTo((10 - d) * 3, 5);
    expect(b!.box[3]).toBeCloseTo((15 + d) * 3, 5);
  });

  it('keeps separate kernels apart, and drops weak and tiny ones', () => {
    const m = map(80, 40, [
      [2, 2, 30, 10, 0.95], // text
      [40, 2, 70, 10, 0.45], // above the pixel threshold, below the box threshold: dropped
      [2, 20, 30, 30, 0.7], // text
      [50, 25, 52, 27, 0.99], // 2×2: too small
    ]);
    const boxes = dbPostprocess(m, 40, 80, { threshold: 0.3, boxThreshold: 0.6 });
    expect(boxes.map((b) => Math.round(b.score * 100))).toEqual([95, 70]);
    const low = dbPostprocess(m, 40, 80, { threshold: 0.3, boxThreshold: 0.4 });
    expect(low).toHaveLength(3);
    // one diagonal touch joins two blocks (8-connected, as OpenCV's contours)
    const touching = map(40, 20, [[2, 2, 10, 8, 0.9], [10, 8, 18, 14, 0.9]]);
    expect(dbPostprocess(touching, 20, 40, { boxThreshold: 0.3 })).toHaveLength(1);
    // …and its rectangle, half empty, scores about half: the box threshold drops it
    expect(dbPostprocess(touching, 20, 40, { boxThreshold: 0.6 })).toHaveLength(0);
  });

  it('follows a rotated kernel: the quad is turned by the text angle', () => {
    const W = 120;
    const H = 80;
    const m = new Float32Array(W * H);
    const a = (15 * Math.PI) / 180;
    // a 60 × 10 bar around (60, 40), turned 15°
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) {
      const u = (x - 60) * Math.cos(a) + (y - 40) * Math.sin(a);
      const v = -(x - 60) * Math.sin(a) + (y - 40) * Math.cos(a);
      if (Math.abs(u) <= 30 && Math.abs(v) <= 5) m[y * W + x] = 0.9;
    }
    const [b] = dbPostprocess(m, H, W, { unclipRatio: 1.5 });
    const [tl, tr, , bl] = b!.quad;
    const angle = Math.atan2(tr[1] - tl[1], tr[0] - tl[0]);
    expect((angle * 180) / Math.PI).toBeGreaterThan(13);
    expect((angle * 180) / Math.PI).toBeLessThan(17);
    const width = Math.hypot(tr[0] - tl[0], tr[1] - tl[1]);
    const height = Math.hypot(bl[0] - tl[0], bl[1] - tl[1]);
    const d = (60 * 10 * 1.5) / (2 * 70);
    expect(width).toBeGreaterThan(60 + 2 * d - 3);
    expect(width).toBeLessThan(60 + 2 * d + 2);
    expect(height).toBeGreaterThan(10 + 2 * d - 3);
    expect(height).toBeLessThan(10 + 2 * d + 2);
  });

  it('finds the minimum-area rectangle of a rotated point set', () => {
    const a = 0.3;
    const pts: Point[] = [];
    for (const [u, v] of [[-20, -5], [20, -5], [20, 5], [-20, 5], [0, 0], [10, 2]]) pts.push([u! * Math.cos(a) - v! * Math.sin(a), u! * Math.sin(a) + v! * Math.cos(a)]);
    const r = minAreaRect(pts);
    expect(r.width).toBeCloseTo(40, 6);
    expect(r.height).toBeCloseTo(10, 6);
    expect(r.angle).toBeCloseTo(0.3, 6);
  });
});

describe('NMS and assignment', () => {
  it('NMS keeps the best of overlapping boxes and every separate one', () => {
    const kept = nms([
      { box: [0, 0, 10, 10], score: 0.8 },
      { box: [1, 1, 11, 11], score: 0.9 },
      { box: [20, 20, 30, 30], score: 0.5 },
    ], 0.5);
    expect(kept.map((k) => k.score)).toEqual([0.9, 0.5]);
  });

  it('the Hungarian assignment matches brute force on random matrices', () => {
    const rand = rng(3);
    const perms = (n: number, m: number): number[][] => {
      // every injective map of n rows into m columns
      if (n === 0) return [[]];
      return perms(n - 1, m).flatMap((p) => Array.from({ length: m }, (_, j) => j).filter((j) => !p.includes(j)).map((j) => [...p, j]));
    };
    for (let t = 0; t < 40; t++) {
      const n = 1 + Math.floor(rand() * 4);
      const m = 1 + Math.floor(rand() * 4);
      const c = Array.from({ length: n }, () => Array.from({ length: m }, () => Math.round(rand() * 20)));
      const rows = assign(c);
      const cost = (a: number[]) => a.reduce((s, j, i) => s + (j >= 0 ? c[i]![j]! : 0), 0);
      const k = Math.min(n, m);
      expect(rows.filter((j) => j >= 0)).toHaveLength(k);
      expect(new Set(rows.filter((j) => j >= 0)).size).toBe(k);
      let best = Infinity;
      if (n <= m) for (const p of perms(n, m)) best = Math.min(best, cost(p));
      else for (const p of perms(m, n)) best = Math.min(best, p.reduce((s, i, j) => s + c[i]![j]!, 0));
      expect(cost(rows)).toBe(best);
    }
  });
});

describe('CTC decoding of a text line', () => {
  // classes: 0 blank, 1 ' ', 2 'a', 3 'b'; steps read: ' ', blank, 'a', 'a', blank, 'b', ' ' (probabilities 0.9 … 0.6)
  const alphabet = ['', ' ', 'a', 'b'];
  const best = [1, 0, 2, 2, 0, 3, 1];
  const p = [0.9, 0.99, 0.8, 0.7, 0.99, 0.6, 0.5];
  const probs = new Float32Array(best.length * 4);
  best.forEach((c, t) => {
    for (let k = 0; k < 4; k++) probs[t * 4 + k] = k === c ? p[t]! : (1 - p[t]!) / 3;
  });
  it('collapses repeats and blanks, scores by the kept characters (PaddleOCR), and drops spaces at either end of the line', () => {
    const raw = ctcDecode(probs, best.length, 4, alphabet);
    expect(raw.text).toBe(' ab ');
    expect(raw.score).toBeCloseTo((0.9 + 0.8 + 0.6 + 0.5) / 4, 6);
    expect(decodeLine(probs, best.length, 4, alphabet)).toEqual({ text: 'ab', score: raw.score });
  });
});
