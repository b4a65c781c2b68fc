import type { Point, Quad } from './geometry.js';

/** A decoded video frame: interleaved 8-bit RGB. */
export interface Frame {
  width: number;
  height: number;
  data: Uint8Array;
}

export type Normalize = 'imagenet' | 'symmetric' | 'unit';

const NORM: Record<Normalize, { mean: number[]; std: number[] }> = {
  imagenet: { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] },
  symmetric: { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] },
  unit: { mean: [0, 0, 0], std: [1, 1, 1] },
};

/** Per output channel: source channel, scale a and offset b so that value = pixel · a + b. */
function channelMaps(normalize: Normalize, color: 'rgb' | 'bgr'): { src: number[]; a: number[]; b: number[] } {
  const n = NORM[normalize];
  const src = color === 'bgr' ? [2, 1, 0] : [0, 1, 2];
  // the mean/std lists apply in the model's channel order (PaddleOCR normalises its BGR array with them)
  return { src, a: n.std.map((s) => 1 / (255 * s)), b: n.mean.map((m, i) => -m / n.std[i]!) };
}

/**
 * Bilinear resize of a frame to width × height into `out` (NCHW float, normalised), at `offset`.
 * Pixel centres are aligned (OpenCV's INTER_LINEAR convention).
 */
export function resizeToTensor(f: Frame, width: number, height: number, normalize: Normalize, color: 'rgb' | 'bgr', out = new Float32Array(3 * width * height), offset = 0): Float32Array {
  const { src, a, b } = channelMaps(normalize, color);
  const sx = f.width / width;
  const sy = f.height / height;
  const x0s = new Int32Array(width);
  const x1s = new Int32Array(width);
  const wx = new Float32Array(width);
  for (let x = 0; x < width; x++) {
    const fx = Math.min(f.width - 1, Math.max(0, (x + 0.5) * sx - 0.5));
    x0s[x] = Math.floor(fx);
    x1s[x] = Math.min(f.width - 1, x0s[x]! + 1);
    wx[x] = fx - x0s[x]!;
  }
  const plane = width * height;
  const d = f.data;
  const stride = f.width * 3;
  for (let y = 0; y < height; y++) {
    const fy = Math.min(f.height - 1, Math.max(0, (y + 0.5) * sy - 0.5));
    const y0 = Math.floor(fy);
    const y1 = Math.min(f.height - 1, y0 + 1);
    const wy = fy - y0;
    const r0 = y0 * stride;
    const r1 = y1 * stride;
    for (let c = 0; c < 3; c++) {
      const sc = src[c]!;
      const ac = a[c]!;
      const bc = b[c]!;
      const base = offset + c * plane + y * width;
      for (let x = 0; x < width; x++) {
        const i0 = x0s[x]! * 3 + sc;
        const i1 = x1s[x]! * 3 + sc;
        const w = wx[x]!;
        const top = d[r0 + i0]! + (d[r0 + i1]! - d[r0 + i0]!) * w;
        const bot = d[r1 + i0]! + (d[r1 + i1]! - d[r1 + i0]!) * w;
        out[base + x] = (top + (bot - top) * wy) * ac + bc;
      }
    }
  }
  return out;
}

/** Side lengths of a quad's crop (PaddleOCR get_rotate_crop_image): the longer of each pair of sides. */
export function cropSize(q: Quad): { width: number; height: number } {
  const d = (p: Point, r: Point) => Math.hypot(p[0] - r[0], p[1] - r[1]);
  return { width: Math.max(d(q[0], q[1]), d(q[3], q[2])), height: Math.max(d(q[0], q[3]), d(q[1], q[2])) };
}

/**
 * The crop a recogniser sees: the quad's parallelogram (tl, tr, bl) sampled bilinearly onto a
 * `height`-row grid `width` columns wide, written into `out` ([3, height, stride] at `offset`, columns
 * beyond `width` left as they are: the padding). Vertical regions (height ≥ 1.5 × width) are turned 90°
 * counter-clockwise, as PaddleOCR does; `flip` turns the crop 180° (the angle classifier's verdict).
 */
export function cropToTensor(
  f: Frame,
  q: Quad,
  width: number,
  height: number,
  stride: number,
  normalize: Normalize,
  color: 'rgb' | 'bgr',
  flip: boolean,
  out: Float32Array,
  offset = 0,
): void {
  let [tl, tr, br, bl] = q;
  const sz = cropSize(q);
  if (sz.height >= 1.5 * sz.width) [tl, tr, br, bl] = [tr, br, bl, tl];
  if (flip) [tl, tr, br, bl] = [br, bl, tl, tr];
  const { src, a, b } = channelMaps(normalize, color);
  const ux = (tr[0] - tl[0]) / width;
  const uy = (tr[1] - tl[1]) / width;
  const vx = (bl[0] - tl[0]) / height;
  const vy = (bl[1] - tl[1]) / height;
  const plane = height * stride;
  const d = f.data;
  const fw = f.width;
  const fh = f.height;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const px = Math.min(fw - 1, Math.max(0, tl[0] + (x + 0.5) * ux + (y + 0.5) * vx - 0.5));
      const py = Math.min(fh - 1, Math.max(0, tl[1] + (x + 0.5) * uy + (y + 0.5) * vy - 0.5));
      const x0 = Math.floor(px);
      const y0 = Math.floor(py);
      const x1 = Math.min(fw - 1, x0 + 1);
      const y1 = Math.min(fh - 1, y0 + 1);
      const wx = px - x0;
      const wy = py - y0;
      const i00 = (y0 * fw + x0) * 3;
      const i01 = (y0 * fw + x1) * 3;
      const i10 = (y1 * fw + x0) * 3;
      const i11 = (y1 * fw + x1) * 3;
      for (let c = 0; c < 3; c++) {
        const s = src[c]!;
        const top = d[i00 + s]! + (d[i01 + s]! - d[i00 + s]!) * wx;
        const bot = d[i10 + s]! + (d[i11 + s]! - d[i10 + s]!) * wx;
        out[offset + c * plane + y * stride + x] = (top + (bot - top) * wy) * a[c]! + b[c]!;
      }
    }
  }
}
