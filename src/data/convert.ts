import { createWriteStream, mkdirSync, renameSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { InputError } from '../errors.js';
import { writeAtomic } from '../ir/io.js';
import { selectRecords } from './select.js';
import { idxBytes, idxSource } from './sources/idx.js';
import { spamAssassinSource } from './sources/spam-assassin.js';

/**
 * Writes the first `count` images of an idx dataset (after an optional seeded shuffle) as a gzipped idx
 * pair, keeping MNIST's file naming so the pair is found again.
 */
export async function writeIdxSubset(imagesFile: string, outDir: string, count: number, seed?: number): Promise<{ images: string; labels: string; count: number }> {
  const src = await idxSource(imagesFile);
  const pixels: Uint8Array[] = [];
  const labels: number[] = [];
  let size: [number, number] | undefined;
  for await (const r of selectRecords(src, { limit: count, shuffleSeed: seed })) {
    const img = r.image as { width: number; height: number; data: Uint8Array };
    size ??= [img.height, img.width];
    pixels.push(img.data);
    if (typeof r.label !== 'number') throw new InputError(`${imagesFile}: no labels file beside it`);
    labels.push(r.label);
  }
  if (!size) throw new InputError(`${imagesFile}: no images`);
  const data = new Uint8Array(pixels.length * size[0] * size[1]);
  pixels.forEach((p, i) => data.set(p, i * p.length));
  mkdirSync(outDir, { recursive: true });
  const stem = basename(imagesFile).replace(/-images-idx3-ubyte(\.gz)?$/, '') || 'data';
  const images = join(outDir, `${stem}-images-idx3-ubyte.gz`);
  const labelsFile = join(outDir, `${stem}-labels-idx1-ubyte.gz`);
  writeAtomic(images, [gzipSync(idxBytes([pixels.length, size[0], size[1]], data), { level: 9 })]);
  writeAtomic(labelsFile, [gzipSync(idxBytes([labels.length], Uint8Array.from(labels)), { level: 9 })]);
  return { images, labels: labelsFile, count: pixels.length };
}

/** The SpamAssassin corpus as JSONL lines `{"id", "text", "label": "ham"|"spam"}`, written as a stream. */
export async function writeSpamAssassinJsonl(outFile: string, opts: { bodyOnly?: boolean; limit?: number } = {}): Promise<number> {
  const src = spamAssassinSource(opts);
  mkdirSync(dirname(outFile), { recursive: true });
  const tmp = `${outFile}.tmp-${process.pid}`;
  const out = createWriteStream(tmp);
  let n = 0;
  for await (const r of selectRecords(src, { limit: opts.limit })) {
    const line = JSON.stringify({ id: r.id, text: r.text, label: r.label === 1 ? 'spam' : 'ham' }) + '\n';
    if (!out.write(line)) await new Promise<void>((res) => out.once('drain', () => res()));
    n++;
  }
  await new Promise<void>((res, rej) => out.end((e?: Error | null) => (e ? rej(e) : res())));
  renameSync(tmp, outFile);
  return n;
}
