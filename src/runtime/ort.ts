/**
 * Loads ONNX Runtime for a backend (Node.js). A browser bundle gets ./ort.browser.ts instead (package.json
 * `browser` field): only onnxruntime-web, imported statically so that bundlers include it.
 */
import { createRequire } from 'node:module';

export type Ort = typeof import('onnxruntime-node');
export type Backend = 'node' | 'wasm';

/** The backend used when none is named: the native binding in Node.js. */
export const DEFAULT_BACKEND: Backend = 'node';

const require = createRequire(import.meta.url);
let nodeOrt: Ort | undefined;
let webOrt: Ort | undefined;

export function loadOrt(backend: Backend): Ort {
  if (backend === 'node') return (nodeOrt ??= require('onnxruntime-node') as Ort);
  return (webOrt ??= require('onnxruntime-web') as unknown as Ort);
}

export function ortPackageVersion(backend: Backend): string {
  const pkg = backend === 'node' ? 'onnxruntime-node/package.json' : 'onnxruntime-web/package.json';
  return (require(pkg) as { version: string }).version;
}
