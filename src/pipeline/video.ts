import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { InputError } from '../errors.js';
import { chooseFonts, randomLine } from '../data/ocr-text.js';
import { paddleKeysFile } from '../data/render-ocr.js';
import { gaussian, rng } from '../util/random.js';
import type { FrameTruth, TruthItem } from './frames.js';
import type { Rect } from './geometry.js';

export interface RenderVideoOptions {
  outDir: string;
  frames: number;
  width?: number;
  height?: number;
  seed?: number;
  /** Character list the texts come from (default: PaddleOCR's). */
  keys?: string;
  onProgress?: (done: number, total: number) => void;
}

export interface RenderVideoResult {
  frames: number;
  width: number;
  height: number;
  tracks: number;
  /** Scored text appearances (not ignored) over all frames. */
  appearances: number;
  truthFile: string;
}

interface Glyph {
  width: number;
  height: number;
  rgba: Uint8Array;
}

const escapeXml = (s: string) => s.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);

/** A text drawn at a size, trimmed to its ink: the exact box the ground truth uses. */
async function drawText(text: string, font: string, size: number, fg: [number, number, number], bold: boolean): Promise<Glyph> {
  const w = Math.ceil(size * (0.75 * [...text].length + 2));
  const h = Math.ceil(size * 2);
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}">` +
    `<text x="${size / 2}" y="${Math.round(size * 1.35)}" font-family="${font}" font-size="${size}" font-weight="${bold ? 'bold' : 'normal'}" fill="rgb(${fg.join(',')})" xml:space="preserve">${escapeXml(text)}</text></svg>`;
  const { data, info } = await sharp(Buffer.from(svg)).ensureAlpha().trim({ threshold: 10 }).raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, rgba: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

interface SceneText {
  id: number;
  text: string;
  font: string;
  bold: boolean;
  /** Font size at camera scale 1. */
  size: number;
  fg: [number, number, number];
  plate: [number, number, number];
  /** Scene position of the text's top-left at scale 1, and its size then. */
  x: number;
  y: number;
  w: number;
  h: number;
}

interface OverlayText {
  id: number;
  text: string;
  font: string;
  size: number;
  glyph: Glyph;
  /** Screen x at its first frame, speed (px/frame, ticker) and frames shown. */
  x0: number;
  y: number;
  speed: number;
  from: number;
  to: number;
}

/**
 * Renders a synthetic video of moving text with ground truth per frame: a camera pans and zooms over a
 * scene of signs (texts enter and leave the frame, grow and shrink), a news ticker scrolls words along
 * the bottom band, and captions pop up and vanish in the top band. Every frame's truth lists each visible
 * text with its ink box, transcription and a stable track id; texts cut by the frame edge or covered by a
 * band are marked `ignore` (ICDAR "don't care"). Writes frame PNGs, truth.jsonl and video.json.
 */
export async function renderVideo(o: RenderVideoOptions): Promise<RenderVideoResult> {
  if (!(Number.isInteger(o.frames) && o.frames >= 1)) throw new InputError('--frames must be an integer ≥ 1');
  const W = o.width ?? 640;
  const H = o.height ?? 360;
  if (existsSync(o.outDir) && readdirSync(o.outDir).length > 0 && !existsSync(join(o.outDir, 'video.json'))) {
    throw new InputError(`-o ${o.outDir}: the folder exists and is not an earlier render-video output; give a new folder`);
  }
  mkdirSync(o.outDir, { recursive: true });
  const keysFile = o.keys ?? paddleKeysFile();
  if (!existsSync(keysFile)) throw new InputError(`character list not found: ${keysFile}`);
  const alphabet = new Set(readFileSync(keysFile, 'utf8').split(/\r?\n/).filter(Boolean));
  const fonts = chooseFonts().latin;
  const rand = rng(o.seed ?? 0);
  const uni = (a: number, b: number) => a + rand() * (b - a);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)]!;
  const line = () => randomLine(rand, alphabet, false).text;
  let nextId = 1;

  // the scene: signs on a large plane, placed without overlap
  const SW = W * 3;
  const SH = H * 3;
  const scene: SceneText[] = [];
  for (let k = 0; k < 1500 && scene.length < 90; k++) {
    const text = line();
    const font = pick(fonts);
    const size = Math.round(uni(20, 34));
    const bold = rand() < 0.3;
    // a cheap size estimate first (most tries collide), the drawn size to decide
    const m = 22;
    const x = uni(0, SW - 0.7 * size * text.length - size);
    const y = uni(0, SH - 1.4 * size);
    const hits = (w: number, h: number) => scene.some((s) => x < s.x + s.w + m && s.x < x + w + m && y < s.y + s.h + m && s.y < y + h + m);
    if (hits(0.5 * size * text.length, size)) continue;
    const g = await drawText(text, font, size, [0, 0, 0], bold);
    if (x + g.width > SW || hits(g.width, g.height)) continue;
    const dark = Math.round(uni(0, 70));
    const light = Math.round(uni(200, 250));
    scene.push({ id: 0, text, font, bold, size, fg: [dark, dark, Math.round(dark * 0.8)], plate: [light, Math.round(light * 0.97), Math.round(light * 0.9)], x, y, w: g.width, h: g.height });
  }
  scene.forEach((s) => (s.id = nextId++));

  // camera: piecewise-constant pan velocity, slow sinusoidal zoom
  const cams: { x: number; y: number; s: number }[] = [];
  let cx = SW / 2;
  let cy = SH / 2;
  let vx = 0;
  let vy = 0;
  const zoomPeriod = uni(180, 260);
  const zoomPhase = uni(0, 2 * Math.PI);
  for (let f = 0; f < o.frames; f++) {
    if (f % 75 === 0) {
      vx = uni(-4, 4);
      vy = uni(-2, 2);
    }
    cx = Math.min(SW - W, Math.max(W, cx + vx));
    cy = Math.min(SH - H, Math.max(H, cy + vy));
    cams.push({ x: cx, y: cy, s: 1 + 0.25 * Math.sin((2 * Math.PI * f) / zoomPeriod + zoomPhase) });
  }

  // overlays: a ticker scrolling along the bottom band, captions popping up in the top band
  const TICK = { y0: H - 40, y1: H - 6 };
  const CAP = { y0: 6, y1: 44 };
  const overlays: OverlayText[] = [];
  const speed = 3;
  let tx = W; // where the next ticker word enters (screen x at frame 0; may be beyond the edge)
  while (tx < W + speed * o.frames) {
    const text = line();
    const size = 22;
    const font = pick(fonts);
    const glyph = await drawText(text, font, size, [20, 20, 60], true);
    overlays.push({ id: nextId++, text, font, size, glyph, x0: tx, y: Math.round((TICK.y0 + TICK.y1 - glyph.height) / 2), speed, from: 0, to: o.frames - 1 });
    tx += glyph.width + 40;
  }
  for (let f = Math.floor(uni(5, 30)); f < o.frames; f += Math.floor(uni(40, 90))) {
    const text = line();
    const font = pick(fonts);
    const glyph = await drawText(text, font, 24, [250, 250, 250], false);
    if (glyph.width > W - 20) continue;
    const len = Math.floor(uni(25, 70));
    overlays.push({ id: nextId++, text, font, size: 24, glyph, x0: Math.round(uni(10, W - 10 - glyph.width)), y: Math.round((CAP.y0 + CAP.y1 - glyph.height) / 2), speed: 0, from: f, to: Math.min(o.frames - 1, f + len) });
  }

  const glyphCache = new Map<string, Glyph>();
  const sceneGlyph = async (s: SceneText, scale: number): Promise<Glyph> => {
    const size = Math.round(s.size * scale * 4) / 4;
    const key = `${s.id}@${size}`;
    let g = glyphCache.get(key);
    if (!g) {
      if (glyphCache.size > 4000) glyphCache.clear();
      g = await drawText(s.text, s.font, size, s.fg, s.bold);
      glyphCache.set(key, g);
    }
    return g;
  };

  const truthLines: string[] = [];
  const seenTracks = new Set<number>();
  let appearances = 0;
  const frame = new Uint8Array(W * H * 3);
  for (let f = 0; f < o.frames; f++) {
    const cam = cams[f]!;
    const bg = [214, 222, 206];
    for (let i = 0; i < W * H; i++) {
      const y = Math.floor(i / W);
      frame[3 * i] = bg[0]! - (y >> 4);
      frame[3 * i + 1] = bg[1]! - (y >> 4);
      frame[3 * i + 2] = bg[2]! - (y >> 5);
    }
    const items: TruthItem[] = [];
    const toScreen = (x: number, y: number) => [(x - cam.x) * cam.s + W / 2, (y - cam.y) * cam.s + H / 2] as const;
    for (const s of scene) {
      const [x0, y0] = toScreen(s.x, s.y);
      const [x1, y1] = toScreen(s.x + s.w, s.y + s.h);
      if (x1 < -20 || y1 < -20 || x0 > W + 20 || y0 > H + 20) continue;
      const g = await sceneGlyph(s, cam.s);
      const pad = Math.round(8 * cam.s);
      const gx = Math.round(x0);
      const gy = Math.round(y0);
      fillRect(frame, W, H, gx - pad, gy - pad, gx + g.width + pad, gy + g.height + pad, s.plate);
      blit(frame, W, H, g, gx, gy);
      items.push(truthItem(s.id, s.text, [gx, gy, gx + g.width, gy + g.height], W, H, [CAP, TICK]));
    }
    // bands over the scene, then their texts
    fillRect(frame, W, H, 0, TICK.y0, W, TICK.y1, [238, 206, 80]);
    const caps = overlays.filter((t) => t.speed === 0 && f >= t.from && f <= t.to);
    if (caps.length) fillRect(frame, W, H, 0, CAP.y0, W, CAP.y1, [40, 60, 110]);
    for (const t of overlays) {
      if (f < t.from || f > t.to) continue;
      const x = Math.round(t.x0 - t.speed * f);
      if (x > W || x + t.glyph.width < 0) continue;
      blit(frame, W, H, t.glyph, x, t.y);
      items.push(truthItem(t.id, t.text, [x, t.y, x + t.glyph.width, t.y + t.glyph.height], W, H, []));
    }
    // scene texts under a band are covered: drop those wholly hidden
    const visible = items.filter((it) => it.box[2] > it.box[0] && it.box[3] > it.box[1]);
    noise(frame, rng((o.seed ?? 0) * 100003 + f), 3);
    const file = `${String(f).padStart(5, '0')}.png`;
    await sharp(frame, { raw: { width: W, height: H, channels: 3 } }).png({ compressionLevel: 1 }).toFile(join(o.outDir, file));
    for (const it of visible) {
      if (!it.ignore) {
        appearances++;
        seenTracks.add(it.id);
      }
    }
    const t: FrameTruth = { frame: f, file, items: visible };
    truthLines.push(JSON.stringify(t));
    o.onProgress?.(f + 1, o.frames);
  }
  const truthFile = join(o.outDir, 'truth.jsonl');
  writeFileSync(truthFile, truthLines.join('\n') + '\n');
  writeFileSync(join(o.outDir, 'video.json'), JSON.stringify({ format: 'inferopt-video', frames: o.frames, width: W, height: H, seed: o.seed ?? 0, fonts, truth: 'truth.jsonl' }, null, 2) + '\n');
  return { frames: o.frames, width: W, height: H, tracks: seenTracks.size, appearances, truthFile };
}

/** Truth for a text at `box`: ignored when the frame edge cuts it or a band covers part of it. */
function truthItem(id: number, text: string, box: Rect, W: number, H: number, bands: { y0: number; y1: number }[]): TruthItem {
  const clipped: Rect = [Math.max(0, box[0]), Math.max(0, box[1]), Math.min(W, box[2]), Math.min(H, box[3])];
  const cut = clipped[0] !== box[0] || clipped[1] !== box[1] || clipped[2] !== box[2] || clipped[3] !== box[3];
  const covered = bands.some((b) => clipped[1] < b.y1 && clipped[3] > b.y0);
  return { id, text, box: clipped, ...(cut || covered ? { ignore: true } : {}) };
}

function fillRect(frame: Uint8Array, W: number, H: number, x0: number, y0: number, x1: number, y1: number, c: readonly number[]): void {
  for (let y = Math.max(0, y0); y < Math.min(H, y1); y++) {
    for (let x = Math.max(0, x0); x < Math.min(W, x1); x++) {
      const i = 3 * (y * W + x);
      frame[i] = c[0]!;
      frame[i + 1] = c[1]!;
      frame[i + 2] = c[2]!;
    }
  }
}

function blit(frame: Uint8Array, W: number, H: number, g: Glyph, gx: number, gy: number): void {
  for (let y = Math.max(0, -gy); y < g.height && gy + y < H; y++) {
    for (let x = Math.max(0, -gx); x < g.width && gx + x < W; x++) {
      const s = 4 * (y * g.width + x);
      const a = g.rgba[s + 3]! / 255;
      if (a === 0) continue;
      const d = 3 * ((gy + y) * W + gx + x);
      for (let c = 0; c < 3; c++) frame[d + c] = Math.round(frame[d + c]! * (1 - a) + g.rgba[s + c]! * a);
    }
  }
}

function noise(frame: Uint8Array, rand: () => number, sigma: number): void {
  const g = gaussian(rand);
  for (let i = 0; i < frame.length; i++) frame[i] = Math.max(0, Math.min(255, Math.round(frame[i]! + g() * sigma)));
}
