import type { Box } from '../data/types.js';
import { bootstrap, type ResampleOptions, type Estimate } from './bootstrap.js';

export interface PixelCounts {
  tp: number;
  fp: number;
  fn: number;
}

/**
 * Shrinks a box the way DB-style detectors (PaddleOCR's) shrink their training targets: each side moves in
 * by D = area · (1 − r²) / perimeter, so the map is compared with what the model was taught to output.
 */
export function shrinkBox([x0, y0, x1, y1]: Box, ratio: number): Box {
  const w = x1 - x0;
  const h = y1 - y0;
  if (ratio >= 1 || w <= 0 || h <= 0) return [x0, y0, x1, y1];
  const d = Math.min((w * h * (1 - ratio * ratio)) / (2 * (w + h)), w / 2 - 0.5, h / 2 - 0.5);
  return [x0 + d, y0 + d, x1 - d, y1 - d];
}

/**
 * Pixel agreement of a probability map [H, W] (at `threshold`) with the union of boxes: a pixel is text if
 * its centre lies in a box. Boxes are in map pixels, [x0, y0, x1, y1) .
 */
export function pixelCounts(map: Float32Array, height: number, width: number, boxes: readonly Box[], threshold: number, offset = 0): PixelCounts {
  const truth = new Uint8Array(height * width);
  for (const [x0, y0, x1, y1] of boxes) {
    const ys = Math.max(0, Math.round(y0));
    const ye = Math.min(height, Math.round(y1));
    const xs = Math.max(0, Math.round(x0));
    const xe = Math.min(width, Math.round(x1));
    for (let y = ys; y < ye; y++) truth.fill(1, y * width + xs, y * width + Math.max(xs, xe));
  }
  let tp = 0;
  let fp = 0;
  let fn = 0;
  for (let i = 0; i < truth.length; i++) {
    const pred = map[offset + i]! > threshold;
    if (pred && truth[i]) tp++;
    else if (pred) fp++;
    else if (truth[i]) fn++;
  }
  return { tp, fp, fn };
}

/** Per-image pixel counts; metrics pool the counts of the images in a (re)sample. */
export class DetMapScores {
  readonly counts: PixelCounts[] = [];

  add(c: PixelCounts): void {
    this.counts.push(c);
  }

  get n(): number {
    return this.counts.length;
  }

  estimates(opts: ResampleOptions = {}): Record<string, Estimate> {
    const pooled = (f: (c: PixelCounts) => number) => (idx: Uint32Array) => {
      const s: PixelCounts = { tp: 0, fp: 0, fn: 0 };
      for (const i of idx) {
        const c = this.counts[i]!;
        s.tp += c.tp;
        s.fp += c.fp;
        s.fn += c.fn;
      }
      return f(s);
    };
    return {
      pixelF1: bootstrap(this.n, pooled((c) => (2 * c.tp) / (2 * c.tp + c.fp + c.fn)), opts),
      pixelIoU: bootstrap(this.n, pooled((c) => c.tp / (c.tp + c.fp + c.fn)), opts),
      pixelPrecision: bootstrap(this.n, pooled((c) => c.tp / (c.tp + c.fp)), opts),
      pixelRecall: bootstrap(this.n, pooled((c) => c.tp / (c.tp + c.fn)), opts),
    };
  }
}
