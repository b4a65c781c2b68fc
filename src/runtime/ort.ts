/**
 * Loads ONNX Runtime for a backend (Node.js). A browser bundle gets ./ort.browser.ts instead (package.json
 * `browser` field): only onnxruntime-web, imported statically so that bundlers include it.
 */
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';

export type Ort = typeof import('onnxruntime-node');
export type Backend = 'node' | 'wasm';

/** The backend used when none is named: the native binding in Node.js. */
export const DEFAULT_BACKEND: Backend = 'node';

const require = createRequire(import.meta.url);
let nodeOrt: Ort | undefined;
let webOrt: Ort | undefined;

export function loadOrt(backend: Backend): Ort {
  if (backend === 'node') {
    // onnxruntime-node 1.30's Linux binding starts Microsoft's 1DS telemetry when it loads: it tries HTTPS
    // uploads and leaves `.ses` and `mat-debug-<pid>.log` in the temp folder, one log per process (thousands
    // piled up in /tmp here). Off, unless the user set ORT_DISABLE_TELEMETRY themselves.
    process.env['ORT_DISABLE_TELEMETRY'] ??= '1';
    return (nodeOrt ??= require('onnxruntime-node') as Ort);
  }
  return (webOrt ??= require('onnxruntime-web') as unknown as Ort);
}

/** The installed package's version (onnxruntime-web does not export its package.json: found beside its entry). */
export function ortPackageVersion(backend: Backend): string {
  const name = backend === 'node' ? 'onnxruntime-node' : 'onnxruntime-web';
  for (let dir = path.dirname(require.resolve(name)); dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const file = path.join(dir, 'package.json');
    if (!fs.existsSync(file)) continue;
    const pkg = JSON.parse(fs.readFileSync(file, 'utf8')) as { name?: string; version: string };
    if (pkg.name === name) return pkg.version;
  }
  throw new Error(`${name}: package.json not found`);
}

/**
 * Runs `f` (synchronous) and hands `take` what onnxruntime-web printed to stdout meanwhile instead of
 * printing it. Its wasm module prints with `fs.writeSync(1, …)` in Node (its profiler writes the trace there:
 * the wasm build has no file to write it to).
 */
export function capturePrinted<T>(f: () => T, take: (text: string) => void): T {
  const nodeFs = require('fs') as typeof fs;
  const write = nodeFs.writeSync;
  nodeFs.writeSync = ((fd: number, data: unknown, ...rest: unknown[]) => {
    if (fd === 1 && typeof data === 'string') {
      take(data);
      return Buffer.byteLength(data);
    }
    return (write as (...a: unknown[]) => number)(fd, data, ...rest);
  }) as typeof fs.writeSync;
  try {
    return f();
  } finally {
    nodeFs.writeSync = write;
  }
}
