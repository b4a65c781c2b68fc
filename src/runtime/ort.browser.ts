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

// onnxruntime-web's wasm module binds console.log when it starts (its profiler prints the trace there): a
// stand-in is put in place before that, which hands lines to `capturePrinted` while one runs
const consoleLog = console.log.bind(console);
let printedTo: ((text: string) => void) | undefined;
// (a console.log call is a line: its newline is put back, as Node's stdout would carry it)
console.log = (...args: unknown[]) => (printedTo ? printedTo(`${args.map(String).join(' ')}\n`) : consoleLog(...args));

/** Runs `f` (synchronous) and hands `take` what onnxruntime-web printed meanwhile instead of printing it. */
export function capturePrinted<T>(f: () => T, take: (text: string) => void): T {
  printedTo = take;
  try {
    return f();
  } finally {
    printedTo = undefined;
  }
}
