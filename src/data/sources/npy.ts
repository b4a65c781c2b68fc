import { closeSync, existsSync, openSync, readSync, fstatSync } from 'node:fs';
import { basename } from 'node:path';
import { inflateRawSync } from 'node:zlib';
import { InputError } from '../../errors.js';
import { DataType, byteSize } from '../../ir/dtype.js';
import { Tensor } from '../../ir/tensor.js';
import type { DataRecord, RecordSource } from '../types.js';

/** numpy dtype strings (without byte order) → ONNX types. */
const NPY_TYPES: Record<string, DataType> = {
  f4: DataType.FLOAT, f8: DataType.DOUBLE, f2: DataType.FLOAT16,
  i1: DataType.INT8, u1: DataType.UINT8, i2: DataType.INT16, u2: DataType.UINT16,
  i4: DataType.INT32, u4: DataType.UINT32, i8: DataType.INT64, u8: DataType.UINT64, b1: DataType.BOOL,
};

/** An array stored in a file (or in memory), read one row (first-axis slice) at a time. */
export interface StoredArray {
  dtype: DataType;
  shape: number[];
  row(i: number): Uint8Array;
}

/** Parses an .npy header at `buf` (which must hold at least the header). */
export function parseNpyHeader(buf: Uint8Array, where: string): { dtype: DataType; shape: number[]; dataOffset: number } {
  const magic = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];
  if (!magic.every((b, i) => buf[i] === b)) throw new InputError(`${where}: not an .npy array (bad magic)`);
  const major = buf[6]!;
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const [hlen, start] = major === 1 ? [dv.getUint16(8, true), 10] : [dv.getUint32(8, true), 12];
  const header = new TextDecoder().decode(buf.subarray(start, start + hlen));
  const descr = /'descr':\s*'([<>|=]?)(\w+)'/.exec(header);
  const fortran = /'fortran_order':\s*(True|False)/.exec(header);
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header);
  if (!descr || !fortran || !shape) throw new InputError(`${where}: unreadable .npy header`);
  if (descr[1] === '>') throw new InputError(`${where}: big-endian arrays are not supported`);
  const dtype = NPY_TYPES[descr[2]!];
  if (dtype === undefined) throw new InputError(`${where}: numpy dtype '${descr[2]}' is not supported`);
  if (fortran[1] === 'True') throw new InputError(`${where}: Fortran-order arrays are not supported`);
  const dims = shape[1]!.split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  return { dtype, shape: dims, dataOffset: start + hlen };
}

function rowBytes(a: { dtype: DataType; shape: number[] }): number {
  return byteSize(a.dtype, a.shape.slice(1).reduce((x, y) => x * y, 1));
}

/** An .npy file read by offset: only the header and the requested rows are read. */
export function npyFile(file: string): StoredArray {
  if (!existsSync(file)) throw new InputError(`file not found: ${file}`);
  const fd = openSync(file, 'r');
  try {
    const head = new Uint8Array(4096);
    readSync(fd, head, 0, head.length, 0);
    const h = parseNpyHeader(head, file);
    if (h.shape.length === 0) throw new InputError(`${file}: a scalar array has no rows`);
    const bytes = rowBytes(h);
    if (fstatSync(fd).size < h.dataOffset + bytes * h.shape[0]!) throw new InputError(`${file}: truncated array data`);
    return { dtype: h.dtype, shape: h.shape, row: (i) => readAt(file, h.dataOffset + i * bytes, bytes) };
  } finally {
    closeSync(fd);
  }
}

function readAt(file: string, pos: number, n: number): Uint8Array {
  const fd = openSync(file, 'r');
  try {
    const out = new Uint8Array(n);
    if (readSync(fd, out, 0, n, pos) !== n) throw new InputError(`${file}: truncated`);
    return out;
  } finally {
    closeSync(fd);
  }
}

/**
 * The arrays of an .npz (a zip of .npy files). Stored entries are read by offset like .npy files;
 * compressed ones (np.savez_compressed) are inflated into memory when opened.
 */
export function npzFile(file: string): Record<string, StoredArray> {
  if (!existsSync(file)) throw new InputError(`file not found: ${file}`);
  const size = fstatSyncPath(file);
  const tailLen = Math.min(size, 65557);
  const tail = readAt(file, size - tailLen, tailLen);
  let eocd = -1;
  for (let i = tail.length - 22; i >= 0; i--) if (tail[i] === 0x50 && tail[i + 1] === 0x4b && tail[i + 2] === 5 && tail[i + 3] === 6) { eocd = i; break; }
  if (eocd < 0) throw new InputError(`${file}: not an .npz (zip) file`);
  const dv = new DataView(tail.buffer, tail.byteOffset + eocd);
  const entries = dv.getUint16(10, true);
  const cdSize = dv.getUint32(12, true);
  const cdOffset = dv.getUint32(16, true);
  if (cdOffset === 0xffffffff) throw new InputError(`${file}: zip64 archives are not supported`);
  const cd = readAt(file, cdOffset, cdSize);
  const cdv = new DataView(cd.buffer, cd.byteOffset, cd.byteLength);
  const out: Record<string, StoredArray> = {};
  let p = 0;
  for (let e = 0; e < entries; e++) {
    if (cdv.getUint32(p, true) !== 0x02014b50) throw new InputError(`${file}: corrupt zip directory`);
    const method = cdv.getUint16(p + 10, true);
    const csize = cdv.getUint32(p + 20, true);
    const nameLen = cdv.getUint16(p + 28, true);
    const extraLen = cdv.getUint16(p + 30, true);
    const commentLen = cdv.getUint16(p + 32, true);
    const local = cdv.getUint32(p + 42, true);
    const name = new TextDecoder().decode(cd.subarray(p + 46, p + 46 + nameLen));
    p += 46 + nameLen + extraLen + commentLen;
    const lh = readAt(file, local, 30);
    const ldv = new DataView(lh.buffer);
    const dataStart = local + 30 + ldv.getUint16(26, true) + ldv.getUint16(28, true);
    const key = name.replace(/\.npy$/, '');
    out[key] = method === 0 ? storedNpy(file, dataStart, `${file}:${name}`) : inflatedNpy(readAt(file, dataStart, csize), method, `${file}:${name}`);
  }
  return out;
}

function fstatSyncPath(file: string): number {
  const fd = openSync(file, 'r');
  try {
    return fstatSync(fd).size;
  } finally {
    closeSync(fd);
  }
}

function storedNpy(file: string, start: number, where: string): StoredArray {
  const h = parseNpyHeader(readAt(file, start, Math.min(4096, fstatSyncPath(file) - start)), where);
  const bytes = rowBytes(h);
  return { dtype: h.dtype, shape: h.shape, row: (i) => readAt(file, start + h.dataOffset + i * bytes, bytes) };
}

function inflatedNpy(compressed: Uint8Array, method: number, where: string): StoredArray {
  if (method !== 8) throw new InputError(`${where}: zip compression method ${method} is not supported`);
  const raw = new Uint8Array(inflateRawSync(compressed));
  const h = parseNpyHeader(raw, where);
  const bytes = rowBytes(h);
  return { dtype: h.dtype, shape: h.shape, row: (i) => raw.slice(h.dataOffset + i * bytes, h.dataOffset + (i + 1) * bytes) };
}

const LABEL_KEYS = ['label', 'labels', 'y'];

/**
 * Samples from .npy/.npz arrays: record i is row i of every array, kept with a leading dim of 1. Arrays
 * named label/labels/y hold class labels; the others are model inputs by name (an .npy is the model's only
 * input, named '' until bound to the model).
 */
export function npySource(file: string, labelsFile?: string): RecordSource {
  const arrays: Record<string, StoredArray> = file.endsWith('.npz') ? npzFile(file) : { '': npyFile(file) };
  if (labelsFile) arrays.label = npyFile(labelsFile);
  const labelKey = LABEL_KEYS.find((k) => arrays[k]);
  const inputs = Object.keys(arrays).filter((k) => !LABEL_KEYS.includes(k));
  if (inputs.length === 0) throw new InputError(`${file}: no input arrays`);
  const count = arrays[inputs[0]!]!.shape[0]!;
  for (const [k, a] of Object.entries(arrays)) {
    if (a.shape[0] !== count) throw new InputError(`${file}: array '${k}' has ${a.shape[0]} rows, '${inputs[0]}' has ${count}`);
  }
  const base = basename(file);
  const idAt = (i: number) => `${base}#${i}`;
  const at = (i: number): DataRecord => {
    const tensors: Record<string, Tensor> = {};
    for (const k of inputs) {
      const a = arrays[k]!;
      tensors[k] = new Tensor(a.dtype, [1, ...a.shape.slice(1)], a.row(i), k);
    }
    const rec: DataRecord = { id: idAt(i), tensors };
    if (labelKey) {
      const l = arrays[labelKey]!;
      rec.label = new Tensor(l.dtype, l.shape.slice(1), l.row(i)).toNumbers()[0]!;
    }
    return rec;
  };
  return {
    description: `arrays ${base} (${count} rows: ${inputs.map((k) => k || '<input>').join(', ')}${labelKey ? ', labelled' : ''})`,
    indexed: { length: count, idAt, at: async (i) => at(i) },
    async *stream() {
      for (let i = 0; i < count; i++) yield at(i);
    },
  };
}
