/** Small data files written by tests (and the benchmark) into a temp folder: idx, npy/npz, TensorProto, images. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { crc32, deflateRawSync, gzipSync } from 'node:zlib';
import sharp from 'sharp';
import { idxBytes } from './sources/idx.js';

const made: string[] = [];

/** A fresh temp folder, removed after the test file (under vitest) or when the process exits. */
export function tempDir(prefix = 'inferopt-data-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

function removeTempDirs(): void {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
}

process.on('exit', removeTempDirs);
if (process.env['VITEST']) {
  const { afterAll } = await import('vitest');
  afterAll(removeTempDirs);
}

function write(file: string, bytes: Uint8Array): string {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, bytes);
  return file;
}

/** An idx pair of n images h×w whose pixel values are (i + y·w + x) mod 256, labels i mod classes. */
export function writeIdxPair(dir: string, n: number, h: number, w: number, classes: number, gzip: boolean): { images: string; labels: string } {
  const px = new Uint8Array(n * h * w);
  for (let i = 0; i < n; i++) for (let k = 0; k < h * w; k++) px[i * h * w + k] = (i + k) % 256;
  const labels = Uint8Array.from({ length: n }, (_, i) => i % classes);
  const z = (b: Uint8Array) => (gzip ? gzipSync(b) : b);
  const ext = gzip ? '.gz' : '';
  return {
    images: write(join(dir, `toy-images-idx3-ubyte${ext}`), z(idxBytes([n, h, w], px))),
    labels: write(join(dir, `toy-labels-idx1-ubyte${ext}`), z(idxBytes([n], labels))),
  };
}

/** .npy bytes (format 1.0) for a little-endian float32 or int64 array. */
export function npyBytes(descr: '<f4' | '<i8', shape: number[], data: Float32Array | BigInt64Array): Uint8Array {
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  const pad = 64 - ((10 + header.length + 1) % 64);
  header += ' '.repeat(pad % 64) + '\n';
  const out = new Uint8Array(10 + header.length + data.byteLength);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(new TextEncoder().encode(header), 10);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), 10 + header.length);
  return out;
}

/** A zip (what np.savez writes) of named .npy entries, stored or deflated. */
export function zipBytes(entries: Record<string, Uint8Array>, deflate: boolean): Uint8Array {
  const locals: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  for (const [name, raw] of Object.entries(entries)) {
    const nameBytes = new TextEncoder().encode(name);
    const body = deflate ? new Uint8Array(deflateRawSync(raw)) : raw;
    const crc = crc32(raw);
    const local = new Uint8Array(30 + nameBytes.length);
    const lv = new DataView(local.buffer);
    lv.setUint32(0, 0x04034b50, true);
    lv.setUint16(8, deflate ? 8 : 0, true);
    lv.setUint32(14, crc, true);
    lv.setUint32(18, body.length, true);
    lv.setUint32(22, raw.length, true);
    lv.setUint16(26, nameBytes.length, true);
    local.set(nameBytes, 30);
    const cd = new Uint8Array(46 + nameBytes.length);
    const cv = new DataView(cd.buffer);
    cv.setUint32(0, 0x02014b50, true);
    cv.setUint16(10, deflate ? 8 : 0, true);
    cv.setUint32(16, crc, true);
    cv.setUint32(20, body.length, true);
    cv.setUint32(24, raw.length, true);
    cv.setUint16(28, nameBytes.length, true);
    cv.setUint32(42, offset, true);
    cd.set(nameBytes, 46);
    locals.push(local, body);
    central.push(cd);
    offset += local.length + body.length;
  }
  const cdSize = central.reduce((s, c) => s + c.length, 0);
  const end = new Uint8Array(22);
  const ev = new DataView(end.buffer);
  ev.setUint32(0, 0x06054b50, true);
  ev.setUint16(8, central.length, true);
  ev.setUint16(10, central.length, true);
  ev.setUint32(12, cdSize, true);
  ev.setUint32(16, offset, true);
  return Buffer.concat([...locals, ...central, end]);
}

function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 127) {
    out.push((n & 127) | 128);
    n >>>= 7;
  }
  out.push(n);
  return out;
}

/** A float32 TensorProto (dims, data_type, name, raw_data), as ONNX test sets store them. */
export function tensorProtoBytes(name: string, dims: number[], data: Float32Array): Uint8Array {
  const bytes: number[] = [];
  for (const d of dims) bytes.push(0x08, ...varint(d));
  bytes.push(0x10, 1);
  const nb = new TextEncoder().encode(name);
  bytes.push(0x42, ...varint(nb.length), ...nb);
  const raw = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  bytes.push(0x4a, ...varint(raw.length), ...raw);
  return Uint8Array.from(bytes);
}

/** A w×h PNG of one RGB colour. */
export async function writeSolidPng(file: string, w: number, h: number, rgb: [number, number, number]): Promise<string> {
  mkdirSync(dirname(file), { recursive: true });
  await sharp({ create: { width: w, height: h, channels: 3, background: { r: rgb[0], g: rgb[1], b: rgb[2] } } }).png().toFile(file);
  return file;
}

export { write as writeFile };
