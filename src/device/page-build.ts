/**
 * The device page, built from this package's own sources when the server starts: src/device/page/main.ts
 * (the page) and worker.ts (where models run) bundled by esbuild for the browser — with package.json's
 * `browser` swaps, so the page times with the very runtime/bench.ts and util/stats.ts that local bench
 * uses — plus index.html, style.css and onnxruntime-web's own wasm files. Nothing comes from elsewhere.
 */
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface PageFiles {
  /** URL path (without the leading slash) → bytes. */
  files: Map<string, Uint8Array>;
}

/** The package root: two levels above this file, from src/device or dist/device alike. */
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** onnxruntime-web's files the bundle loads next to itself (the wasm module and its loader for pthreads). */
const ORT_FILES = /^ort-wasm-simd-threaded\.jsep\.(wasm|mjs)$/;

let cached: Promise<PageFiles> | undefined;

export function buildPage(): Promise<PageFiles> {
  cached ??= build().catch((e: unknown) => {
    cached = undefined;
    throw e;
  });
  return cached;
}

async function build(): Promise<PageFiles> {
  const { build: esbuild } = await import('esbuild');
  const pageDir = path.join(ROOT, 'src', 'device', 'page');
  const result = await esbuild({
    entryPoints: { page: path.join(pageDir, 'main.ts'), worker: path.join(pageDir, 'worker.ts') },
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    outdir: '/page',
    write: false,
    minify: true,
    legalComments: 'none',
    logLevel: 'silent',
    absWorkingDir: ROOT,
  });
  const files = new Map<string, Uint8Array>();
  for (const f of result.outputFiles) files.set(path.basename(f.path), f.contents);
  for (const f of ['index.html', 'style.css']) files.set(f, fs.readFileSync(path.join(pageDir, f)));
  const ortDir = path.dirname(createRequire(import.meta.url).resolve('onnxruntime-web'));
  for (const f of fs.readdirSync(ortDir)) if (ORT_FILES.test(f)) files.set(f, fs.readFileSync(path.join(ortDir, f)));
  return { files };
}
