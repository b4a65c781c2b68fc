import { iou } from '../eval/detboxes.js';

/** Points, quads and boxes for the pipeline's pre- and post-processing. Pixels, x right, y down. */

export type Point = [number, number];
/** Four corners, clockwise from the top-left: tl, tr, br, bl. */
export type Quad = [Point, Point, Point, Point];
/** Axis-aligned [x0, y0, x1, y1]. */
export type Rect = [number, number, number, number];

/** IoU of axis-aligned boxes (the one src/eval scores detections with). */
export const boxIou: (a: Rect, b: Rect) => number = iou;

/** Intersection over the area of `a` (how much of `a` lies in `b`). */
export function coverage(a: Rect, b: Rect): number {
  const iw = Math.min(a[2], b[2]) - Math.max(a[0], b[0]);
  const ih = Math.min(a[3], b[3]) - Math.max(a[1], b[1]);
  if (iw <= 0 || ih <= 0) return 0;
  return (iw * ih) / Math.max(1e-9, (a[2] - a[0]) * (a[3] - a[1]));
}

export function quadBounds(q: readonly Point[]): Rect {
  let [x0, y0, x1, y1] = [Infinity, Infinity, -Infinity, -Infinity];
  for (const [x, y] of q) {
    if (x < x0) x0 = x;
    if (y < y0) y0 = y;
    if (x > x1) x1 = x;
    if (y > y1) y1 = y;
  }
  return [x0, y0, x1, y1];
}

export function rectQuad([x0, y0, x1, y1]: Rect): Quad {
  return [[x0, y0], [x1, y0], [x1, y1], [x0, y1]];
}

const cross = (o: Point, a: Point, b: Point) => (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]);

/** Convex hull (Andrew's monotone chain), counter-clockwise in y-down pixels, no collinear points. */
export function convexHull(points: readonly Point[]): Point[] {
  const p = [...points].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  if (p.length <= 2) return p;
  const lower: Point[] = [];
  for (const q of p) {
    while (lower.length >= 2 && cross(lower[lower.length - 2]!, lower[lower.length - 1]!, q) <= 0) lower.pop();
    lower.push(q);
  }
  const upper: Point[] = [];
  for (let i = p.length - 1; i >= 0; i--) {
    const q = p[i]!;
    while (upper.length >= 2 && cross(upper[upper.length - 2]!, upper[upper.length - 1]!, q) <= 0) upper.pop();
    upper.push(q);
  }
  upper.pop();
  lower.pop();
  return lower.concat(upper);
}

/** A rotated rectangle: centre, side lengths (width along `angle`, radians), as OpenCV's minAreaRect. */
export interface RotatedRect {
  cx: number;
  cy: number;
  width: number;
  height: number;
  angle: number;
}

/**
 * The minimum-area rectangle around points (rotating calipers over the convex hull's edges). The side
 * closer to horizontal is the width, so a text line's rectangle has its angle in (−45°, 45°].
 */
export function minAreaRect(points: readonly Point[]): RotatedRect {
  const hull = convexHull(points);
  if (hull.length === 0) return { cx: 0, cy: 0, width: 0, height: 0, angle: 0 };
  if (hull.length === 1) return { cx: hull[0]![0], cy: hull[0]![1], width: 0, height: 0, angle: 0 };
  let best: RotatedRect | undefined;
  let bestArea = Infinity;
  for (let i = 0; i < hull.length; i++) {
    const a = hull[i]!;
    const b = hull[(i + 1) % hull.length]!;
    const len = Math.hypot(b[0] - a[0], b[1] - a[1]);
    if (len === 0) continue;
    const ux = (b[0] - a[0]) / len;
    const uy = (b[1] - a[1]) / len;
    let [u0, u1, v0, v1] = [Infinity, -Infinity, Infinity, -Infinity];
    for (const [x, y] of hull) {
      const u = x * ux + y * uy;
      const v = -x * uy + y * ux;
      if (u < u0) u0 = u;
      if (u > u1) u1 = u;
      if (v < v0) v0 = v;
      if (v > v1) v1 = v;
    }
    const area = (u1 - u0) * (v1 - v0);
    if (area < bestArea - 1e-9) {
      bestArea = area;
      const cu = (u0 + u1) / 2;
      const cv = (v0 + v1) / 2;
      best = { cx: cu * ux - cv * uy, cy: cu * uy + cv * ux, width: u1 - u0, height: v1 - v0, angle: Math.atan2(uy, ux) };
    }
  }
  return normalizeRect(best!);
}

/** Same rectangle, angle in (−π/4, π/4]: width is the side closer to horizontal. */
export function normalizeRect(r: RotatedRect): RotatedRect {
  let { width, height, angle } = r;
  const quarter = Math.PI / 2;
  while (angle > Math.PI / 4 + 1e-9) {
    angle -= quarter;
    [width, height] = [height, width];
  }
  while (angle <= -Math.PI / 4 + 1e-9) {
    angle += quarter;
    [width, height] = [height, width];
  }
  return { ...r, width, height, angle };
}

/** Corners tl, tr, br, bl of a rotated rectangle (angle in (−π/4, π/4]). */
export function rectCorners(r: RotatedRect): Quad {
  const c = Math.cos(r.angle);
  const s = Math.sin(r.angle);
  const hw = r.width / 2;
  const hh = r.height / 2;
  const at = (u: number, v: number): Point => [r.cx + u * c - v * s, r.cy + u * s + v * c];
  return [at(-hw, -hh), at(hw, -hh), at(hw, hh), at(-hw, hh)];
}

/** Point in a convex quad (either winding). */
export function inQuad(q: Quad, x: number, y: number): boolean {
  let sign = 0;
  for (let i = 0; i < 4; i++) {
    const c = cross(q[i]!, q[(i + 1) % 4]!, [x, y]);
    if (Math.abs(c) < 1e-6) continue;
    const s = c > 0 ? 1 : -1;
    if (sign === 0) sign = s;
    else if (s !== sign) return false;
  }
  return true;
}
