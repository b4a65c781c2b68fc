import { inQuad, minAreaRect, quadBounds, rectCorners, type Point, type Quad, type Rect } from './geometry.js';

/** A detected text region in frame pixels: its rotated quad, the quad's bounds and a confidence. */
export interface Region {
  quad: Quad;
  box: Rect;
  score: number;
}

export interface DbOptions {
  /** Pixels whose probability exceeds this form the text mask (PaddleOCR det_db_thresh 0.3). */
  threshold?: number;
  /** Mean probability inside a region below this drops it (det_db_box_thresh 0.6). */
  boxThreshold?: number;
  /** Growth of the shrunk text kernel back to the text: D = area · ratio / perimeter (det_db_unclip_ratio 1.5). */
  unclipRatio?: number;
  /** Regions with a side under this many map pixels are dropped (3, as PaddleOCR). */
  minSize?: number;
  maxCandidates?: number;
}

export const DB_DEFAULTS: Required<DbOptions> = { threshold: 0.3, boxThreshold: 0.6, unclipRatio: 1.5, minSize: 3, maxCandidates: 1000 };

/**
 * DB (differentiable binarization) post-processing, as PaddleOCR's DBPostProcess: the probability map is
 * thresholded, each 8-connected component becomes its minimum-area rectangle, scored by the mean
 * probability inside it, grown by the unclip distance D = area · ratio / perimeter on every side (what
 * polygon offsetting does to a rectangle), and scaled from map to frame pixels.
 * `map` is [height, width] (from `offset`); `scaleX`/`scaleY` map pixels to frame pixels.
 */
export function dbPostprocess(
  map: Float32Array,
  height: number,
  width: number,
  o: DbOptions & { scaleX?: number; scaleY?: number; frameWidth?: number; frameHeight?: number; offset?: number } = {},
): Region[] {
  const opt = { ...DB_DEFAULTS, ...Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) } as Required<DbOptions>;
  const off = o.offset ?? 0;
  const sx = o.scaleX ?? 1;
  const sy = o.scaleY ?? 1;
  const fw = o.frameWidth ?? width * sx;
  const fh = o.frameHeight ?? height * sy;
  const seen = new Uint8Array(height * width);
  const stack: number[] = [];
  const out: Region[] = [];
  let candidates = 0;
  for (let start = 0; start < seen.length; start++) {
    if (seen[start] || !(map[off + start]! > opt.threshold)) continue;
    if (++candidates > opt.maxCandidates) break;
    // each row's leftmost and rightmost pixel: their hull is the component's hull
    const rowMin = new Map<number, number>();
    const rowMax = new Map<number, number>();
    seen[start] = 1;
    stack.push(start);
    while (stack.length) {
      const p = stack.pop()!;
      const x = p % width;
      const y = (p - x) / width;
      const lo = rowMin.get(y);
      if (lo === undefined || x < lo) rowMin.set(y, x);
      const hi = rowMax.get(y);
      if (hi === undefined || x > hi) rowMax.set(y, x);
      for (let dy = -1; dy <= 1; dy++) {
        const yy = y + dy;
        if (yy < 0 || yy >= height) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const xx = x + dx;
          if (xx < 0 || xx >= width || (dx === 0 && dy === 0)) continue;
          const q = yy * width + xx;
          if (!seen[q] && map[off + q]! > opt.threshold) {
            seen[q] = 1;
            stack.push(q);
          }
        }
      }
    }
    const pts: Point[] = [];
    for (const [y, x0] of rowMin) {
      pts.push([x0, y]);
      const x1 = rowMax.get(y)!;
      if (x1 !== x0) pts.push([x1, y]);
    }
    const rect = minAreaRect(pts);
    if (Math.min(rect.width, rect.height) < opt.minSize) continue;
    const score = meanInQuad(map, height, width, off, rectCorners(rect));
    if (score < opt.boxThreshold) continue;
    const d = (rect.width * rect.height * opt.unclipRatio) / (2 * (rect.width + rect.height));
    const grown = { ...rect, width: rect.width + 2 * d, height: rect.height + 2 * d };
    if (Math.min(grown.width, grown.height) < opt.minSize + 2) continue;
    const quad = rectCorners(grown).map(([x, y]) => [clamp(x * sx, 0, fw), clamp(y * sy, 0, fh)] as Point) as Quad;
    out.push({ quad, box: quadBounds(quad), score });
  }
  return out;
}

const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));

/** Mean of the map over pixels inside a quad (PaddleOCR's box_score_fast). */
function meanInQuad(map: Float32Array, height: number, width: number, off: number, q: Quad): number {
  const [x0, y0, x1, y1] = quadBounds(q);
  let sum = 0;
  let n = 0;
  for (let y = Math.max(0, Math.floor(y0)); y <= Math.min(height - 1, Math.ceil(y1)); y++) {
    for (let x = Math.max(0, Math.floor(x0)); x <= Math.min(width - 1, Math.ceil(x1)); x++) {
      if (!inQuad(q, x, y)) continue;
      sum += map[off + y * width + x]!;
      n++;
    }
  }
  return n ? sum / n : 0;
}
