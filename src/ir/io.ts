import * as fs from 'node:fs';
import * as path from 'node:path';
import { InputError } from '../errors.js';
import { assertValidModel } from './check.js';
import type { Graph, Model } from './graph.js';
import { PROTOBUF_LIMIT, decodeModelBytes, externalSlice } from './bytes.js';
import type { ExternalRef } from './proto/decode.js';
import { encodeModel } from './proto/encode.js';
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
}

/** Loads a model from a path or from bytes. External data is read relative to the model's folder. */
export function loadModel(source: string | Uint8Array, opts: LoadOptions = {}): Model {
  let bytes: Uint8Array;
  let baseDir = opts.baseDir;
  let label = '<bytes>';
  if (typeof source === 'string') {
    label = source;
    let st: fs.Stats;
    try {
      st = fs.statSync(source);
    } catch {
      throw new InputError(`${source}: no such file`);
    }
    if (st.isDirectory()) throw new InputError(`${source}: is a folder, not an ONNX file`);
    bytes = fs.readFileSync(source);
    baseDir ??= path.dirname(source);
  } else bytes = source;
  const files = new Map<string, Uint8Array>();
  const externalData = (ref: ExternalRef, tensorName: string): Uint8Array => {
    let data = opts.externalData?.get(ref.location) ?? files.get(ref.location);
    if (!data) {
      if (baseDir === undefined) {
        throw new InputError(`${label}: tensor '${tensorName}' has external data '${ref.location}' but no folder to read it from`);
      }
      const file = resolveExternalPath(baseDir, ref.location, tensorName);
      data = fs.readFileSync(file);
      files.set(ref.location, data);
    }
    return externalSlice(label, data, ref, tensorName);
  };
  const model = decodeModelBytes(bytes, label, externalData);
  if (opts.check !== false) assertValidModel(model, label);
  return model;
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
}

/**
 * Saves a model to `file` atomically (temp file + rename). Never writes over the data a model was
 * loaded from while it is still being read: the new files are complete before they replace anything.
 */
export function saveModel(model: Model, file: string, opts: SaveOptions = {}): { bytes: number; dataBytes: number } {
  const dir = path.dirname(path.resolve(file));
  fs.mkdirSync(dir, { recursive: true });
  let ext = opts.externalData;
  if (!ext) {
    const chunks = encodeModel(model);
    const total = chunks.reduce((s, c) => s + c.length, 0);
    if (total <= PROTOBUF_LIMIT) {
      writeAtomic(file, chunks);
      return { bytes: total, dataBytes: 0 };
    }
    ext = true; // too big for one protobuf message
  }
  const cfg = typeof ext === 'object' ? ext : {};
  const location = cfg.location ?? `${path.basename(file)}.data`;
  if (path.isAbsolute(location) || location.includes('..')) throw new InputError(`external data location '${location}' must be a plain file name`);
  const threshold = cfg.threshold ?? 1024;
  const placed: Uint8Array[] = [];
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
    return { location, offset: off };
  };
  const chunks = encodeModel(model, { placement });
  const dataFile = path.join(dir, location);
  writeAtomic(dataFile, placed);
  writeAtomic(file, chunks);
  return { bytes: chunks.reduce((s, c) => s + c.length, 0), dataBytes: offset };
}

/** The initializer tensors of a graph and of its subgraphs. */
function initializerTensors(g: Graph, out = new Set<Tensor>()): Set<Tensor> {
  for (const v of g.initializers.values()) out.add(v.initializer!);
  for (const n of g.nodes) for (const sub of n.subgraphs()) initializerTensors(sub, out);
  return out;
}

/** Writes chunks to a temp file beside `file`, then renames it into place. */
export function writeAtomic(file: string, chunks: readonly Uint8Array[]): void {
  const tmp = `${file}.${process.pid}.${Date.now().toString(36)}.tmp`;
  const fd = fs.openSync(tmp, 'w');
  try {
    for (const c of chunks) {
      let rest = c;
      while (rest.length) rest = rest.subarray(fs.writeSync(fd, rest));
    }
    fs.closeSync(fd);
    fs.renameSync(tmp, file);
  } catch (e) {
    try {
      fs.closeSync(fd);
    } catch {
      /* already closed */
    }
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}

/** Size on disk of a model file plus the external data files it references. */
export function modelSizeOnDisk(file: string): number {
  let total = fs.statSync(file).size;
  const dir = path.dirname(file);
  const seen = new Set<string>();
  const scan = (bytes: Uint8Array) => {
    // cheap scan: external data locations are listed as "location" entries
    const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
    const re = /\x0a\x08location\x12([\x00-\x7f])/g;
    let m: RegExpExecArray | null;
    while ((m = re.exec(text))) {
      const len = m[1]!.charCodeAt(0);
      const loc = text.substr(m.index + m[0].length, len);
      if (!seen.has(loc)) {
        seen.add(loc);
        try {
          total += fs.statSync(resolveExternalPath(dir, loc)).size;
        } catch {
          /* missing or refused: counted as zero */
        }
      }
    }
  };
  scan(fs.readFileSync(file));
  return total;
}
