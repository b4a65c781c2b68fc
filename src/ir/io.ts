import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { InputError } from '../errors.js';
import { assertValidModel } from './check.js';
import { checkOutputFile, fsStep, makeFolders, markInput, Staging, writeFileSafe } from '../util/files.js';
import type { Graph, Model } from './graph.js';
import { PROTOBUF_LIMIT, decodeModelBytes, externalSlice } from './bytes.js';
import type { ExternalRef } from './proto/decode.js';
import { readSkeleton, SELF_LOCATION } from './proto/skeleton.js';
import { encodeModel } from './proto/encode.js';
import { concatChunks } from './proto/wire.js';
import type { Tensor } from './tensor.js';

export { PROTOBUF_LIMIT, modelFromBytes, modelToBytes } from './bytes.js';

export interface LoadOptions {
  /** Folder that external data locations are relative to (defaults to the model file's folder). */
  baseDir?: string;
  /** External data given in memory, by location (as in the browser or from a zip). */
  externalData?: Map<string, Uint8Array>;
  /**
   * Refuse graphs the checker finds invalid (cycles, undefined or twice-defined values, bad opsets, negative
   * dims): an InputError naming the first problems. Default true; `inspect` turns it off to list them all.
   */
  check?: boolean;
  /**
   * Record the model file and its external data as inputs that nothing in this process may write over
   * (default true; training checkpoints, which a run replaces as it goes, pass false).
   */
  markInput?: boolean;
  /**
   * Read the weights (default true). False reads the graph alone: tensors in external data, and the large
   * initializers of a big file (≥ 64 MiB, read through its skeleton), are not read; their bytes are zeros
   * (never touched, so not resident), and external data files need not exist. For a count of what a graph
   * holds, e.g. the kernels in a model ORT wrote.
   */
  weights?: boolean;
}

/** Loads a model from a path or from bytes. External data is read relative to the model's folder. */
export function loadModel(source: string | Uint8Array, opts: LoadOptions = {}): Model {
  let bytes: Uint8Array;
  let baseDir = opts.baseDir;
  let label = '<bytes>';
  const files = new Map<string, ExternalFile>();
  if (typeof source === 'string') {
    label = source;
    const read = readModelFile(source);
    bytes = read.bytes;
    // a big file's weights are read one tensor at a time, each into its own buffer (proto/skeleton.ts)
    if (read.self) files.set(SELF_LOCATION, read.self);
    if (opts.markInput !== false) markInput(source);
    baseDir ??= path.dirname(source);
  } else bytes = source;
  const externalData = (ref: ExternalRef, tensorName: string): Uint8Array => {
    const { offset, length = 0 } = ref;
    if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0) {
      throw new InputError(`${label}: tensor '${tensorName}': external data offset ${offset} / length ${length} must be whole numbers ≥ 0`);
    }
    if (opts.weights === false) return new Uint8Array(length);
    const given = opts.externalData?.get(ref.location);
    if (given) return externalSlice(label, given, ref, tensorName);
    let f = files.get(ref.location);
    if (!f) {
      if (baseDir === undefined) {
        throw new InputError(`${label}: tensor '${tensorName}' has external data '${ref.location}' but no folder to read it from`);
      }
      f = openExternal(resolveExternalPath(baseDir, ref.location, tensorName), ref.location, tensorName);
      files.set(ref.location, f);
      if (opts.markInput !== false) markInput(f.file);
    }
    if (offset + length > f.size) {
      throw new InputError(`${label}: external data '${ref.location}' is ${f.size} bytes; tensor '${tensorName}' needs bytes ${offset}..${offset + length}`);
    }
    return readRange(f, offset, length);
  };
  let model: Model;
  try {
    model = decodeModelBytes(bytes, label, externalData);
  } finally {
    for (const f of files.values()) fs.closeSync(f.fd);
  }
  if (opts.check !== false) assertValidModel(model, label);
  if (typeof source === 'string') model.file = source;
  return model;
}

interface ExternalFile {
  file: string;
  fd: number;
  size: number;
}

/**
 * Opens an external data file for range reads: a regular file only (a FIFO would block the open, a device
 * could be endless), checked before the open and again on the descriptor; never read whole.
 */
function openExternal(file: string, location: string, tensorName: string): ExternalFile {
  const refuse = (why: string) => new InputError(`tensor '${tensorName}': external data '${location}' ${why}; refusing to read it`);
  let st = fs.statSync(file);
  if (!st.isFile()) throw refuse('is not a regular file');
  const fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  st = fs.fstatSync(fd);
  if (!st.isFile()) {
    fs.closeSync(fd);
    throw refuse('is not a regular file');
  }
  return { file, fd, size: st.size };
}

/** Reads bytes offset..offset+length of an open file (offsets past 2 GiB are fine). */
function readRange(f: ExternalFile, offset: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  let done = 0;
  while (done < length) {
    const n = fs.readSync(f.fd, out, done, Math.min(length - done, 1 << 30), offset + done);
    if (n === 0) throw new InputError(`external data ${f.file} ended early (truncated while reading?)`);
    done += n;
  }
  return out;
}

/** Files this big are read as a skeleton plus one read per large initializer (see proto/skeleton.ts). */
const SKELETON_FROM = 64 << 20;

/**
 * The bytes of a model file: a regular file (not a FIFO or device), under the 2 GiB protobuf limit. A big
 * one comes back as its skeleton, with the file left open (`self`) for the tensors it refers to.
 */
function readModelFile(file: string): { bytes: Uint8Array; self?: ExternalFile } {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch {
    throw new InputError(`${file}: no such file`);
  }
  if (st.isDirectory()) throw new InputError(`${file}: is a folder, not an ONNX file`);
  if (!st.isFile()) throw new InputError(`${file}: not a regular file (a device, FIFO or socket); refusing to read it`);
  if (st.size > PROTOBUF_LIMIT) throw new InputError(`${file}: ${st.size} bytes, over the 2 GiB limit of an ONNX file (big weights belong in external data)`);
  return fsStep(`cannot read ${file}`, () => {
    const fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    let keepOpen = false;
    try {
      const size = fs.fstatSync(fd).size;
      if (!fs.fstatSync(fd).isFile()) throw new InputError(`${file}: not a regular file; refusing to read it`);
      if (size >= SKELETON_FROM) {
        const skeleton = readSkeleton(fd, size);
        if (skeleton) {
          keepOpen = true;
          return { bytes: skeleton, self: { file, fd, size } };
        }
      }
      const out = new Uint8Array(size);
      let done = 0;
      while (done < size) {
        const n = fs.readSync(fd, out, done, size - done, done);
        if (n === 0) break;
        done += n;
      }
      return { bytes: done === size ? out : out.subarray(0, done) };
    } finally {
      if (!keepOpen) fs.closeSync(fd);
    }
  });
}

/**
 * Resolves an external data location inside `baseDir`. Absolute paths, `..` escapes and symbolic links
 * that lead outside the model's folder are refused: a model file must not make us read arbitrary files.
 */
export function resolveExternalPath(baseDir: string, location: string, tensorName = ''): string {
  const what = tensorName ? `tensor '${tensorName}': ` : '';
  if (path.isAbsolute(location) || /^[a-zA-Z]:[\\/]/.test(location) || location.startsWith('\\')) {
    throw new InputError(`${what}external data location '${location}' is absolute; refusing to read it`);
  }
  const base = fs.realpathSync(baseDir);
  const joined = path.resolve(base, location);
  const inside = (p: string) => p === base || p.startsWith(base + path.sep);
  if (!inside(joined)) {
    throw new InputError(`${what}external data location '${location}' escapes the model's folder; refusing to read it`);
  }
  let real: string;
  try {
    real = fs.realpathSync(joined);
  } catch {
    throw new InputError(`${what}external data file '${location}' is missing (looked in ${base})`);
  }
  if (!inside(real)) {
    throw new InputError(`${what}external data location '${location}' links outside the model's folder; refusing to read it`);
  }
  return real;
}

export interface SaveOptions {
  /**
   * Store tensors in one external data file: true, or an object with the file name (default
   * `<model>.data`) and size threshold in bytes (default 1024). Chosen automatically past 2 GiB.
   */
  externalData?: boolean | { location?: string; threshold?: number };
  /** How errors name the target (default "output"; the CLI says "-o"). */
  flag?: string;
}

/**
 * Saves a model to `file`: staged beside it, flushed, then renamed into place (external data first). Refuses
 * to write over an input — the file a model was loaded from, its external data — and over anything but a
 * regular file. Returns the sizes written.
 */
export function saveModel(model: Model, file: string, opts: SaveOptions = {}): { bytes: number; dataBytes: number } {
  const staged = stageModel(model, file, opts);
  try {
    staged.commit();
  } catch (e) {
    staged.abandon();
    throw e;
  }
  return { bytes: staged.bytes, dataBytes: staged.dataBytes };
}

/** A model written to a staging folder beside its target: check `path` (load it, run it), then commit or abandon. */
export interface StagedModel {
  /** The final path (absolute). */
  file: string;
  /** The staged model file; its external data file sits beside it under its final name. */
  path: string;
  bytes: number;
  dataBytes: number;
  /** The external data file's final path, if there is one. */
  dataFile?: string;
  commit(): void;
  abandon(): void;
}

/** Writes a model to a staging folder beside `file` (checked like saveModel); nothing is in place until commit. */
export function stageModel(model: Model, file: string, opts: SaveOptions = {}): StagedModel {
  const flag = opts.flag ?? 'output';
  const target = checkOutputFile(file, flag);
  const dir = path.dirname(target.file);
  const name = path.basename(target.file);
  let ext = opts.externalData;
  let chunks: Uint8Array[] | undefined;
  if (!ext) {
    chunks = encodeModel(model);
    if (chunks.reduce((s, c) => s + c.length, 0) > PROTOBUF_LIMIT) {
      chunks = undefined;
      ext = true; // too big for one protobuf message
    }
  }
  let placed: Uint8Array[] = [];
  let location: string | undefined;
  let dataBytes = 0;
  if (!chunks) {
    const cfg = typeof ext === 'object' ? ext : {};
    location = cfg.location ?? `${name}.data`;
    if (path.isAbsolute(location) || location.includes('/') || location.includes('\\') || location === '..' || location === '.') {
      throw new InputError(`external data location '${location}' must be a plain file name`);
    }
    const threshold = cfg.threshold ?? 1024;
    let offset = 0;
    const where = new Map<Tensor, number>();
    // Only initializers go to the data file: tensors in node attributes (Constant values) stay inline, since
    // ONNX Runtime's shape inference cannot read them from external data (a Constant feeding a Reshape's shape
    // would make the model fail to load).
    const initializers = initializerTensors(model.graph);
    const placement = (t: Tensor) => {
      if (t.bytes.length < threshold || !initializers.has(t)) return undefined;
      let off = where.get(t);
      if (off === undefined) {
        // align each tensor to 64 bytes so that it can be mapped and viewed directly
        const pad = (64 - (offset % 64)) % 64;
        if (pad) placed.push(new Uint8Array(pad));
        off = offset + pad;
        placed.push(t.bytes);
        offset = off + t.bytes.length;
        where.set(t, off);
      }
      return { location: location!, offset: off };
    };
    chunks = encodeModel(model, { placement });
    dataBytes = offset;
  }
  const dataTarget = location !== undefined ? checkOutputFile(path.join(dir, location), `${flag} ${file}: its external data`) : undefined;
  makeFolders(dir, `${flag} ${file}`);
  const staging = new Staging(dir, name);
  try {
    if (location !== undefined) staging.write(location, placed, dataTarget?.replacesMode);
    placed = [];
    staging.write(name, chunks, target.replacesMode);
  } catch (e) {
    staging.abandon();
    throw e;
  }
  const bytes = chunks.reduce((s, c) => s + c.length, 0);
  return {
    file: target.file,
    path: staging.path(name),
    bytes,
    dataBytes,
    ...(dataTarget ? { dataFile: dataTarget.file } : {}),
    commit: () => {
      // the inputs may have changed since the check (a long proof run): check again, data file first
      if (dataTarget) checkOutputFile(dataTarget.file, `${flag} ${file}: its external data`);
      checkOutputFile(target.file, flag);
      staging.commit([...(location !== undefined ? [[location, dataTarget!.file] as const] : []), [name, target.file] as const]);
    },
    abandon: () => staging.abandon(),
  };
}

/** The initializer tensors of a graph and of its subgraphs. */
function initializerTensors(g: Graph, out = new Set<Tensor>()): Set<Tensor> {
  for (const v of g.initializers.values()) out.add(v.initializer!);
  for (const n of g.nodes) for (const sub of n.subgraphs()) initializerTensors(sub, out);
  return out;
}

/**
 * A model as a reader that takes a path or bytes (ONNX Runtime) gets it: a small model as bytes; a big one
 * (64 MiB and more) written to a fresh temp folder chunk by chunk from its tensors' own bytes, never joined
 * into one buffer (for a 438 MB model, 438 MB less in memory). Call `done` once the reader has read it: it
 * removes the folder.
 */
export function modelFileOrBytes(model: Model): { source: string | Uint8Array; done(): void } {
  const chunks = encodeModel(model);
  const total = chunks.reduce((s, c) => s + c.length, 0);
  if (total > PROTOBUF_LIMIT) throw new Error(`model is ${total} bytes, over the 2 GiB protobuf limit; save it to a path with external data`);
  if (total < SKELETON_FROM) return { source: concatChunks(chunks), done: () => {} };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'inferopt-session-'));
  const done = () => fs.rmSync(dir, { recursive: true, force: true });
  const file = path.join(dir, 'model.onnx');
  try {
    const fd = fs.openSync(file, 'wx', 0o600);
    try {
      for (const c of chunks) for (let at = 0; at < c.length; ) at += fs.writeSync(fd, c, at, c.length - at);
    } finally {
      fs.closeSync(fd);
    }
  } catch (e) {
    done();
    throw e;
  }
  return { source: file, done };
}

/** Writes chunks to `file` safely (checked, staged, flushed, renamed into place); see util/files. */
export function writeAtomic(file: string, chunks: readonly Uint8Array[], flag = 'output'): void {
  writeFileSafe(file, chunks, flag);
}

/** Size on disk of a model file plus the external data files it references. */
export function modelSizeOnDisk(file: string): number {
  const size = fs.statSync(file).size;
  let total = size;
  const dir = path.dirname(file);
  const seen = new Set<string>();
  // cheap scan, a chunk at a time (never the whole file in memory): external data locations are
  // StringStringEntry messages { key: "location", value: <len> <path> } with a one-byte length
  const marker = Buffer.from('\x0a\x08location\x12', 'latin1');
  const chunk = 16 << 20;
  const overlap = marker.length + 128;
  const buf = Buffer.allocUnsafe(chunk + overlap);
  const fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  try {
    for (let pos = 0; pos < size; pos += chunk) {
      const n = fs.readSync(fd, buf, 0, chunk + overlap, pos);
      if (n <= 0) break;
      const view = buf.subarray(0, n);
      for (let at = view.indexOf(marker); at >= 0 && at < chunk; at = view.indexOf(marker, at + 1)) {
        const lenAt = at + marker.length;
        const len = view[lenAt];
        if (len === undefined || len >= 0x80 || lenAt + 1 + len > n) continue;
        const loc = view.toString('latin1', lenAt + 1, lenAt + 1 + len);
        if (seen.has(loc)) continue;
        seen.add(loc);
        try {
          total += fs.statSync(resolveExternalPath(dir, loc)).size;
        } catch {
          /* missing or refused: counted as zero */
        }
      }
    }
  } finally {
    fs.closeSync(fd);
  }
  return total;
}

/** The bytes of a small input file (an `--input name=file.pb` tensor), or undefined when there is no such file. */
export function readInputFile(file: string): Uint8Array | undefined {
  return fs.existsSync(file) ? fs.readFileSync(file) : undefined;
}
