import { closeSync, existsSync, openSync, readFileSync, readSync } from 'node:fs';
import { createReadStream } from 'node:fs';
import { gunzipSync, createGunzip } from 'node:zlib';
import { InputError } from '../../errors.js';
import type { DataRecord, RawImage, RecordSource } from '../types.js';

/** The header of an idx file (MNIST's format): unsigned-byte data, big-endian dims. */
interface IdxHeader {
  dims: number[];
  /** Byte offset of the data. */
  offset: number;
}

const UBYTE = 0x08;

function parseHeader(head: Uint8Array, file: string): IdxHeader {
  if (head.length < 4 || head[0] !== 0 || head[1] !== 0) throw new InputError(`${file}: not an idx file (bad magic)`);
  if (head[2] !== UBYTE) throw new InputError(`${file}: idx element type 0x${head[2]!.toString(16)} is not supported (only unsigned bytes)`);
  const rank = head[3]!;
  if (head.length < 4 + 4 * rank) throw new InputError(`${file}: truncated idx header`);
  const dv = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const dims = Array.from({ length: rank }, (_, i) => dv.getUint32(4 + 4 * i, false));
  return { dims, offset: 4 + 4 * rank };
}

const isGzip = (file: string) => file.endsWith('.gz');

/** Reads the first `n` decompressed bytes of a (possibly gzipped) file without reading all of it. */
async function readPrefix(file: string, n: number): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  let got = 0;
  const stream = isGzip(file) ? createReadStream(file).pipe(createGunzip()) : createReadStream(file);
  for await (const c of stream as AsyncIterable<Buffer>) {
    chunks.push(c);
    got += c.length;
    if (got >= n) break;
  }
  stream.destroy();
  return new Uint8Array(Buffer.concat(chunks)).subarray(0, n);
}

/** Labels file (idx1): small, read whole. */
function readLabels(file: string): Uint8Array {
  if (!existsSync(file)) throw new InputError(`idx labels file not found: ${file}`);
  const raw = new Uint8Array(isGzip(file) ? gunzipSync(readFileSync(file)) : readFileSync(file));
  const h = parseHeader(raw, file);
  if (h.dims.length !== 1) throw new InputError(`${file}: a labels file has 1 dimension, this one has ${h.dims.length}`);
  const labels = raw.subarray(h.offset);
  if (labels.length !== h.dims[0]) throw new InputError(`${file}: header says ${h.dims[0]} labels, file holds ${labels.length}`);
  return labels;
}

/** The labels file that goes with an images file by MNIST's naming (`…-images-idx3-ubyte` → `…-labels-idx1-ubyte`). */
export function idxLabelsFor(imagesFile: string): string | undefined {
  const guess = imagesFile.replace(/images-idx3-ubyte/, 'labels-idx1-ubyte').replace(/images\.idx3/, 'labels.idx1');
  return guess !== imagesFile && existsSync(guess) ? guess : undefined;
}

/**
 * Images from an idx3 file (N×H×W unsigned bytes, gzipped or not) with labels from an idx1 file. Gzipped
 * files stream record by record; plain files also allow random access (exact shuffle) by offset.
 */
export async function idxSource(imagesFile: string, labelsFile = idxLabelsFor(imagesFile)): Promise<RecordSource> {
  if (!existsSync(imagesFile)) throw new InputError(`idx file not found: ${imagesFile}`);
  const head = await readPrefix(imagesFile, 16);
  const h = parseHeader(head, imagesFile);
  if (h.dims.length !== 3) throw new InputError(`${imagesFile}: expected N×H×W images (idx3), got ${h.dims.length} dims`);
  const [count, height, width] = h.dims as [number, number, number];
  const labels = labelsFile ? readLabels(labelsFile) : undefined;
  if (labels && labels.length !== count) {
    throw new InputError(`${labelsFile}: ${labels.length} labels for ${count} images in ${imagesFile}`);
  }
  const recordBytes = height * width;
  const base = imagesFile.replace(/.*\//, '');
  const idAt = (i: number) => `${base}#${i}`;
  const record = (i: number, data: Uint8Array): DataRecord => {
    const image: RawImage = { width, height, channels: 1, data };
    return labels ? { id: idAt(i), image, label: labels[i]! } : { id: idAt(i), image };
  };

  async function* stream(): AsyncIterable<DataRecord> {
    const src = isGzip(imagesFile) ? createReadStream(imagesFile).pipe(createGunzip()) : createReadStream(imagesFile);
    let pending: Buffer = Buffer.alloc(0);
    let skip = h.offset;
    let i = 0;
    try {
      for await (const chunk of src as AsyncIterable<Buffer>) {
        pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
        if (skip) {
          const s = Math.min(skip, pending.length);
          pending = pending.subarray(s);
          skip -= s;
        }
        let at = 0;
        while (pending.length - at >= recordBytes && i < count) {
          yield record(i++, new Uint8Array(pending.subarray(at, at + recordBytes)));
          at += recordBytes;
        }
        pending = pending.subarray(at);
      }
    } finally {
      src.destroy();
    }
    if (i < count) throw new InputError(`${imagesFile}: truncated: header says ${count} images, file holds ${i}`);
  }

  const source: RecordSource = {
    description: `idx ${base} (${count} × ${height}×${width}${labels ? ', labelled' : ''})`,
    stream,
  };
  if (!isGzip(imagesFile)) {
    source.indexed = {
      length: count,
      idAt,
      async at(i) {
        const fd = openSync(imagesFile, 'r');
        try {
          const data = new Uint8Array(recordBytes);
          const n = readSync(fd, data, 0, recordBytes, h.offset + i * recordBytes);
          if (n !== recordBytes) throw new InputError(`${imagesFile}: truncated at image ${i}`);
          return record(i, data);
        } finally {
          closeSync(fd);
        }
      },
    };
  }
  return source;
}

/** Bytes of an idx file: the header for unsigned-byte data of these dims, then the data. */
export function idxBytes(dims: readonly number[], data: Uint8Array): Uint8Array {
  const head = new Uint8Array(4 + 4 * dims.length);
  const dv = new DataView(head.buffer);
  head[2] = UBYTE;
  head[3] = dims.length;
  dims.forEach((d, i) => dv.setUint32(4 + 4 * i, d, false));
  const out = new Uint8Array(head.length + data.length);
  out.set(head);
  out.set(data, head.length);
  return out;
}
