/**
 * Model I/O in a browser bundle (replaces ./io.ts through package.json `browser`): bytes only. There is no
 * file system: fetch the bytes, then `modelFromBytes` (or `loadModel(bytes)`); `modelToBytes` to download.
 */
import { InputError } from '../errors.js';
import { modelFromBytes, modelToBytes } from './bytes.js';
import type { Model } from './graph.js';

export { PROTOBUF_LIMIT, modelFromBytes, modelToBytes } from './bytes.js';

export interface LoadOptions {
  baseDir?: string;
  externalData?: Map<string, Uint8Array>;
  check?: boolean;
  weights?: boolean;
}

export interface SaveOptions {
  externalData?: boolean | { location?: string; threshold?: number };
}

const noFiles = (what: string): never => {
  throw new InputError(`${what} needs a file system, which a browser does not have; use modelFromBytes / modelToBytes`);
};

export function loadModel(source: string | Uint8Array, opts: LoadOptions = {}): Model {
  if (typeof source === 'string') return noFiles(`loadModel('${source}')`);
  return modelFromBytes(source, opts.externalData, { check: opts.check });
}

/** A browser has no files: a reader gets the model's bytes. */
export function modelFileOrBytes(model: Model): { source: string | Uint8Array; done(): void } {
  return { source: modelToBytes(model), done: () => {} };
}

export function resolveExternalPath(_baseDir: string, location: string, _tensorName = ''): string {
  return noFiles(`external data '${location}'`);
}

export function saveModel(_model: Model, file: string, _opts: SaveOptions = {}): { bytes: number; dataBytes: number } {
  return noFiles(`saveModel(…, '${file}')`);
}

export function writeAtomic(file: string, _chunks: readonly Uint8Array[]): void {
  noFiles(`writing ${file}`);
}

export function modelSizeOnDisk(file: string): number {
  return noFiles(`the size of ${file}`);
}

/** A browser has no files: `--input name=file.pb` is a CLI (Node) feature. */
export function readInputFile(file: string): Uint8Array | undefined {
  return noFiles(`reading '${file}'`);
}
