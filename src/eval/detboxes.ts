import type { Box } from '../data/types.js';
import { bootstrap, type ResampleOptions, type Estimate } from './bootstrap.js';

/**
 * Text boxes read from a probability map the way DB post-processing does it, simplified to axis-aligned
 * boxes: pixels above `threshold`, 4-connected components, each component's bounding box grown by
 * D = area · unclipRatio / perimeter (PaddleOCR: 1.5). Components with a side under `minSize` are dropped.
 */
export function mapBoxes(map: Float32Array, height: number, width: number, threshold: number, opts: { unclipRatio?: number; minSize?: number; offset?: number } = {}): Box[] {
  const off = opts.offset ?? 0;
  const seen = new Uint8Array(height * width);
  const stack: number[] = [];
  const boxes: Box[] = [];
  for (let start = 0; start < seen.length; start++) {
    if (seen[start] || !(map[off + start]! > threshold)) continue;
    let [x0, y0, x1, y1] = [width, height, -1, -1];
    seen[start] = 1;
    stack.push(start);
    while (stack.length) {
      const p = stack.pop()!;
      const x = p % width;
      const y = (p - x) / width;
      if (x < x0) x0 = x;
      if (x > x1) x1 = x;
      if (y < y0) y0 = y;
      if (y > y1) y1 = y;
      const next = [x > 0 ? p - 1 : -1, x < width - 1 ? p + 1 : -1, y > 0 ? p - width : -1, y < height - 1 ? p + width : -1];
      for (const q of next) {
        if (q >= 0 && !seen[q] && map[off + q]! > threshold) {
          seen[q] = 1;
          stack.push(q);
        }
      }
    }
    const w = x1 - x0 + 1;
    const h = y1 - y0 + 1;
    if (Math.min(w, h) < (opts.minSize ?? 3)) continue;
    const d = (w * h * (opts.unclipRatio ?? 1.5)) / (2 * (w + h));
    boxes.push([Math.max(0, x0 - d), Math.max(0, y0 - d), Math.min(width, x1 + 1 + d), Math.min(height, y1 + 1 + d)]);
  }
  return boxes;
}

export function iou(a: Box, b: Box): number {
  const iw = Math.min(a[2], b[2]) - Math.max(a[0], b[0]);
  const ih = Math.min(a[3], b[3]) - Math.max(a[1], b[1]);
  if (iw <= 0 || ih <= 0) return 0;
  const inter = iw * ih;
  const area = (x: Box) => (x[2] - x[0]) * (x[3] - x[1]);
  return inter / (area(a) + area(b) - inter);
}

export interface BoxCounts {
  matched: number;
  predicted: number;
  truth: number;
}

/** One-to-one matching at IoU ≥ `minIou`, best pairs first (the ICDAR-style detection protocol, axis-aligned). */
export function matchBoxes(pred: readonly Box[], truth: readonly Box[], minIou = 0.5): BoxCounts {
  const pairs: [number, number, number][] = [];
  pred.forEach((p, i) => truth.forEach((t, j) => {
    const v = iou(p, t);
    if (v >= minIou) pairs.push([v, i, j]);
  }));
  pairs.sort((a, b) => b[0] - a[0]);
  const usedP = new Set<number>();
  const usedT = new Set<number>();
  for (const [, i, j] of pairs) {
    if (usedP.has(i) || usedT.has(j)) continue;
    usedP.add(i);
    usedT.add(j);
  }
  return { matched: usedP.size, predicted: pred.length, truth: truth.length };
}

/** Per-image box counts; precision, recall and their harmonic mean pool the images of a (re)sample. */
export class DetBoxScores {
  readonly counts: BoxCounts[] = [];

  add(c: BoxCounts): void {
    this.counts.push(c);
  }

  estimates(opts: ResampleOptions = {}): Record<string, Estimate> {
    const pooled = (f: (m: number, p: number, t: number) => number) => (idx: Uint32Array) => {
      let m = 0;
      let p = 0;
      let t = 0;
      for (const i of idx) {
        const c = this.counts[i]!;
        m += c.matched;
        p += c.predicted;
        t += c.truth;
      }
      return f(m, p, t);
    };
    const n = this.counts.length;
    return {
      boxPrecision: bootstrap(n, pooled((m, p) => m / p), opts),
      boxRecall: bootstrap(n, pooled((m, _p, t) => m / t), opts),
      boxHmean: bootstrap(n, pooled((m, p, t) => (2 * m) / (p + t)), opts),
    };
  }
}
