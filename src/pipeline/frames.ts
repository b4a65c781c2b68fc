import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { InputError } from '../errors.js';
import type { Rect } from './geometry.js';
import type { Frame } from './image.js';

/** Ground truth of one frame: each text item with its box, transcription and track id. */
export interface TruthItem {
  id: number;
  text: string;
  box: Rect;
  /** Partly outside the frame: neither a hit nor a miss (ICDAR's "don't care"). */
  ignore?: boolean;
}

export interface FrameTruth {
  frame: number;
  file: string;
  items: TruthItem[];
}

const IMAGE = /\.(png|jpe?g|webp|bmp|tiff?)$/i;

/** Frame files of a folder in name order, and `truth.jsonl` beside them when present. */
export function listFrames(dir: string): { files: string[]; truth?: FrameTruth[] } {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new InputError(`--frames ${dir}: not a folder`);
  const files = readdirSync(dir).filter((f) => IMAGE.test(f)).sort().map((f) => join(dir, f));
  if (files.length === 0) throw new InputError(`--frames ${dir}: no image files (png, jpg, webp) in it`);
  const truthFile = join(dir, 'truth.jsonl');
  if (!existsSync(truthFile)) return { files };
  const truth: FrameTruth[] = [];
  for (const [i, line] of readFileSync(truthFile, 'utf8').split('\n').entries()) {
    if (!line.trim()) continue;
    try {
      truth.push(JSON.parse(line) as FrameTruth);
    } catch {
      throw new InputError(`${truthFile}:${i + 1}: not JSON`);
    }
  }
  if (truth.length !== files.length) throw new InputError(`${truthFile}: ${truth.length} frames of truth for ${files.length} frame images`);
  return { files, truth };
}

/** Decodes frames to RGB (before timing starts: decoding is the video source's work, not the pipeline's). */
export async function decodeFrames(files: readonly string[], limit = files.length): Promise<Frame[]> {
  const out: Frame[] = [];
  for (const f of files.slice(0, limit)) {
    try {
      const { data, info } = await sharp(f).removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
      out.push({ width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) });
    } catch (e) {
      throw new InputError(`${f}: cannot decode (${(e as Error).message.split('\n')[0]})`);
    }
  }
  return out;
}
