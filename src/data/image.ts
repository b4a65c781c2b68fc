import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import sharp from 'sharp';
import { InputError } from '../errors.js';
import { markInput } from '../util/files.js';
import { checkGeneratedSize } from '../util/limits.js';
import { DataType } from '../ir/dtype.js';
import { Tensor } from '../ir/tensor.js';
import type { RawImage } from './types.js';

/**
 * How an image becomes a model input, declared as data so it can be saved beside a model as JSON.
 *
 * Resize modes (to `size` = [height, width]):
 * - `stretch`: to exactly height × width, aspect not kept;
 * - `letterbox`: keep aspect, fit inside, centre, pad the rest;
 * - `pad`: keep aspect, fit inside, top-left, pad right/bottom;
 * - `fit-height`: height fixed, width from the aspect up to `width`, pad right (PaddleOCR's recogniser);
 * - `center-crop`: resize the shorter side to `resizeShorter` (default: the larger of height/width), then crop the centre.
 * Padding is written after normalization, as `padValue` (default 0), as PaddleOCR and most letterbox code do.
 */
export interface ImagePreprocess {
  size?: [height: number, width: number];
  resize?: 'stretch' | 'letterbox' | 'pad' | 'fit-height' | 'center-crop';
  resizeShorter?: number;
  color?: 'rgb' | 'bgr' | 'gray';
  layout?: 'nchw' | 'nhwc';
  /** Shorthands: unit = v/255; symmetric = (v/255 − 0.5)/0.5; imagenet = (v/255 − mean)/std; none = raw 0–255. */
  normalize?: 'unit' | 'symmetric' | 'imagenet' | 'none';
  /** Explicit normalization (overrides `normalize`): (v · scale − mean[c]) / std[c]. */
  scale?: number;
  mean?: number[];
  std?: number[];
  dtype?: 'float32' | 'uint8';
  padValue?: number;
}

/** Where original image pixel (x, y) lands in the tensor: (x · scaleX + offsetX, y · scaleY + offsetY). */
export interface ImageTransform {
  scaleX: number;
  scaleY: number;
  offsetX: number;
  offsetY: number;
  /** Decoded image size. */
  sourceWidth: number;
  sourceHeight: number;
}

const NORMALIZE = {
  unit: { scale: 1 / 255, mean: [0], std: [1] },
  symmetric: { scale: 1 / 255, mean: [0.5], std: [0.5] },
  imagenet: { scale: 1 / 255, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] },
  none: { scale: 1, mean: [0], std: [1] },
} as const;

/** Checks a preprocessing spec read from JSON; returns it typed or throws an InputError naming the field. */
export function checkImagePreprocess(p: unknown, where = 'image preprocessing'): ImagePreprocess {
  if (!p || typeof p !== 'object') throw new InputError(`${where}: must be an object`);
  const s = p as Record<string, unknown>;
  const oneOf = (k: string, allowed: readonly string[]) => {
    if (s[k] !== undefined && !allowed.includes(s[k] as string)) throw new InputError(`${where}: ${k} must be one of ${allowed.join(', ')}`);
  };
  oneOf('resize', ['stretch', 'letterbox', 'pad', 'fit-height', 'center-crop']);
  oneOf('color', ['rgb', 'bgr', 'gray']);
  oneOf('layout', ['nchw', 'nhwc']);
  oneOf('normalize', Object.keys(NORMALIZE));
  oneOf('dtype', ['float32', 'uint8']);
  if (s.size !== undefined && !(Array.isArray(s.size) && s.size.length === 2 && s.size.every((d) => Number.isInteger(d) && d > 0))) {
    throw new InputError(`${where}: size must be [height, width] positive integers`);
  }
  // one image tensor (3 channels, float32, plus its 8-bit pixels) must fit the limit for generated data
  if (s.size !== undefined) checkGeneratedSize(`${where}: size [${(s.size as number[]).join(', ')}] per image`, (s.size as number[])[0]! * (s.size as number[])[1]! * 3, 5);
  if (s.resizeShorter !== undefined && !(Number.isInteger(s.resizeShorter) && (s.resizeShorter as number) > 0)) throw new InputError(`${where}: resizeShorter must be a positive integer`);
  if (typeof s.resizeShorter === 'number') checkGeneratedSize(`${where}: resizeShorter ${s.resizeShorter}`, s.resizeShorter * s.resizeShorter * 3, 5);
  for (const k of ['mean', 'std']) {
    if (s[k] !== undefined && !(Array.isArray(s[k]) && (s[k] as unknown[]).every((x) => typeof x === 'number'))) {
      throw new InputError(`${where}: ${k} must be a list of numbers`);
    }
  }
  return s as ImagePreprocess;
}

/** Decoded pixels, interleaved (HWC) 8-bit, before resize. */
async function contentPixels(
  src: string | Uint8Array | RawImage,
  target: { width: number; height: number } | undefined,
  channels: 1 | 3,
): Promise<{ data: Uint8Array; width: number; height: number; channels: number }> {
  const raw = typeof src === 'object' && 'data' in src && 'channels' in src ? (src as RawImage) : undefined;
  if (raw && (!target || (target.width === raw.width && target.height === raw.height))) {
    return { data: raw.data, width: raw.width, height: raw.height, channels: raw.channels };
  }
  let img = raw
    ? sharp(raw.data, { raw: { width: raw.width, height: raw.height, channels: raw.channels } })
    : sharp(src as string | Uint8Array);
  if (target) img = img.resize(target.width, target.height, { fit: 'fill' });
  img = channels === 1 ? img.toColourspace('b-w') : img.removeAlpha().toColourspace('srgb');
  const { data, info } = await img.raw().toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height, channels: info.channels };
}

/** Size of the decoded image, reading only its header. */
async function sourceSize(src: string | Uint8Array | RawImage): Promise<{ width: number; height: number }> {
  if (typeof src === 'object' && 'channels' in src) return { width: src.width, height: src.height };
  const m = await sharp(src as string | Uint8Array).metadata();
  if (!m.width || !m.height) throw new Error('no image size in the header');
  return { width: m.width, height: m.height };
}

interface Placement {
  content: { width: number; height: number };
  out: { width: number; height: number };
  offsetX: number;
  offsetY: number;
}

function place(p: ImagePreprocess, w: number, h: number): Placement {
  if (!p.size) return { content: { width: w, height: h }, out: { width: w, height: h }, offsetX: 0, offsetY: 0 };
  const [H, W] = p.size;
  const fit = Math.min(W / w, H / h);
  const scaled = (s: number) => ({ width: Math.max(1, Math.round(w * s)), height: Math.max(1, Math.round(h * s)) });
  switch (p.resize ?? 'stretch') {
    case 'stretch':
      return { content: { width: W, height: H }, out: { width: W, height: H }, offsetX: 0, offsetY: 0 };
    case 'letterbox': {
      const c = scaled(fit);
      return { content: c, out: { width: W, height: H }, offsetX: Math.floor((W - c.width) / 2), offsetY: Math.floor((H - c.height) / 2) };
    }
    case 'pad':
      return { content: scaled(fit), out: { width: W, height: H }, offsetX: 0, offsetY: 0 };
    case 'fit-height':
      return { content: { width: Math.min(W, Math.ceil((H * w) / h)), height: H }, out: { width: W, height: H }, offsetX: 0, offsetY: 0 };
    case 'center-crop': {
      const c = scaled((p.resizeShorter ?? Math.max(H, W)) / Math.min(w, h));
      return { content: c, out: { width: W, height: H }, offsetX: -Math.floor((c.width - W) / 2), offsetY: -Math.floor((c.height - H) / 2) };
    }
  }
}

/**
 * Decodes and preprocesses one image into a [1, C, H, W] (or [1, H, W, C]) tensor, with the transform that
 * maps source pixels to tensor pixels (to carry boxes along). Undecodable images are input errors.
 */
export async function imageToTensor(
  src: string | Uint8Array | RawImage,
  p: ImagePreprocess,
  name = '',
): Promise<{ tensor: Tensor; transform: ImageTransform }> {
  const where = typeof src === 'string' ? src : 'image';
  if (typeof src === 'string') markInput(src); // an image read is an input: no output of this run goes over it
  // Without a colour setting, single-channel pixel arrays (idx, npy) stay single-channel.
  const rawGray = typeof src === 'object' && 'channels' in src && src.channels === 1;
  const channels = p.color === 'gray' || (p.color === undefined && rawGray) ? 1 : 3;
  let size: { width: number; height: number };
  let px: Awaited<ReturnType<typeof contentPixels>>;
  let at: Placement;
  try {
    size = await sourceSize(src);
    at = place(p, size.width, size.height);
    const resized = at.content.width !== size.width || at.content.height !== size.height;
    px = await contentPixels(src, resized ? at.content : undefined, channels);
  } catch (e) {
    throw new InputError(`${where}: cannot decode image (${(e as Error).message.split('\n')[0]})`);
  }
  const norm = p.normalize ? NORMALIZE[p.normalize] : NORMALIZE.unit;
  const scale = p.scale ?? norm.scale;
  const mean = p.mean ?? norm.mean;
  const std = p.std ?? norm.std;
  const { width: W, height: H } = at.out;
  const nchw = (p.layout ?? 'nchw') === 'nchw';
  const uint8 = p.dtype === 'uint8';
  const out = uint8 ? new Uint8Array(channels * H * W) : new Float32Array(channels * H * W);
  out.fill(p.padValue ?? 0);
  const bgr = p.color === 'bgr';
  for (let y = 0; y < px.height; y++) {
    const ty = y + at.offsetY;
    if (ty < 0 || ty >= H) continue;
    for (let x = 0; x < px.width; x++) {
      const tx = x + at.offsetX;
      if (tx < 0 || tx >= W) continue;
      const s = (y * px.width + x) * px.channels;
      for (let c = 0; c < channels; c++) {
        // Source channel: gray sources feed every channel; BGR reverses the RGB order.
        const sc = px.channels < 3 ? 0 : bgr ? 2 - c : c;
        const v = px.data[s + sc]!;
        const o = nchw ? (c * H + ty) * W + tx : (ty * W + tx) * channels + c;
        out[o] = uint8 ? v : (v * scale - mean[c % mean.length]!) / std[c % std.length]!;
      }
    }
  }
  const dims = nchw ? [1, channels, H, W] : [1, H, W, channels];
  const bytes = new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  const tensor = new Tensor(uint8 ? DataType.UINT8 : DataType.FLOAT, dims, bytes, name);
  const transform: ImageTransform = {
    scaleX: at.content.width / size.width,
    scaleY: at.content.height / size.height,
    offsetX: at.offsetX,
    offsetY: at.offsetY,
    sourceWidth: size.width,
    sourceHeight: size.height,
  };
  return { tensor, transform };
}

/** Where a model's image preprocessing is kept: `model.onnx` → `model.preprocess.json`, beside it. */
export const preprocessFileFor = (modelPath: string) => `${modelPath.replace(/\.onnx$/i, '')}.preprocess.json`;

/** Saves image preprocessing beside a model, so that later evaluations of it (and its optimized copies) reuse it. */
export function savePreprocessBeside(modelPath: string, p: ImagePreprocess): string {
  const file = preprocessFileFor(modelPath);
  writeFileSync(file, JSON.stringify(checkImagePreprocess(p), null, 2) + '\n');
  return file;
}

/** The preprocessing saved beside a model, if any. */
export function loadPreprocessBeside(modelPath: string): ImagePreprocess | undefined {
  const file = preprocessFileFor(modelPath);
  if (!existsSync(file)) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    throw new InputError(`${file}: not valid JSON`);
  }
  return checkImagePreprocess(v, file);
}
