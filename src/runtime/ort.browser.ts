/** ONNX Runtime in a browser bundle: onnxruntime-web only (replaces ./ort.ts through package.json `browser`). */
import * as web from 'onnxruntime-web';
import { InputError } from '../errors.js';

export type Ort = typeof import('onnxruntime-node');
export type Backend = 'node' | 'wasm';

/** The backend used when none is named: onnxruntime-web's wasm build in a browser. */
export const DEFAULT_BACKEND: Backend = 'wasm';

export function loadOrt(backend: Backend): Ort {
  if (backend === 'node') throw new InputError("backend 'node' (onnxruntime-node) does not run in a browser; use 'wasm'");
  return web as unknown as Ort;
}

export function ortPackageVersion(backend: Backend): string {
  if (backend === 'node') throw new InputError('onnxruntime-node is not part of a browser bundle');
  return web.env.versions.web ?? 'unknown';
}
