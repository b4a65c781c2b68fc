/**
 * The library in a browser: `import … from 'inferopt'` bundled by esbuild for the browser (the package's
 * `browser` export condition and file swaps, from a fresh `dist/`), loaded in headless Chromium (Debian
 * `chromium`, driven by playwright-core), where it builds, simplifies and quantizes a model and runs it
 * on onnxruntime-web. The page's outputs are checked against the same models run by onnxruntime-node here.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { build } from 'esbuild';
import { chromium } from 'playwright-core';
import { chromiumPath } from './chromium.js';
import { afterAll, describe, expect, it } from 'vitest';
import { buildZooModel, modelFromBytes, quantizeModel, randomInputs, Session, simplifyModel } from '../../src/index.js';

function cosineOf(a: readonly number[], b: readonly number[]): number {
  let ab = 0, aa = 0, bb = 0;
  for (let i = 0; i < a.length; i++) (ab += a[i]! * b[i]!), (aa += a[i]! ** 2), (bb += b[i]! ** 2);
  return ab / Math.sqrt(aa * bb);
}

const ROOT = path.resolve(import.meta.dirname, '../..');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'inferopt-browser-'));
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));


const browserBin = chromiumPath('the browser test');

const missing: string[] = [];

/** Serves `dir` with the headers that make the page cross-origin isolated (onnxruntime-web's threads). */
function serve(dir: string): Promise<http.Server> {
  const types: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.wasm': 'application/wasm' };
  const server = http.createServer((req, res) => {
    const file = path.join(dir, path.normalize(decodeURIComponent(new URL(req.url!, 'http://x').pathname)));
    if (!file.startsWith(dir) || !fs.existsSync(file) || fs.statSync(file).isDirectory()) {
      missing.push(req.url!);
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, {
      'Content-Type': types[path.extname(file)] ?? 'application/octet-stream',
      'Cross-Origin-Opener-Policy': 'same-origin',
      'Cross-Origin-Embedder-Policy': 'require-corp',
    });
    fs.createReadStream(file).pipe(res);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

describe.skipIf(!browserBin)('the library in a browser bundle', () => {
  it('bundles with esbuild without Node modules and runs simplify, quantize and sessions in Chromium', async () => {
    execFileSync(path.join(ROOT, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'inherit' });
    const app = path.join(work, 'app');
    const www = path.join(work, 'www');
    fs.mkdirSync(path.join(app, 'node_modules'), { recursive: true });
    fs.mkdirSync(www);
    fs.symlinkSync(ROOT, path.join(app, 'node_modules/inferopt'));
    fs.copyFileSync(path.join(import.meta.dirname, 'browser-page.ts'), path.join(app, 'page.ts'));
    const result = await build({
      entryPoints: [path.join(app, 'page.ts')],
      bundle: true,
      platform: 'browser',
      format: 'esm',
      outfile: path.join(www, 'page.js'),
      nodePaths: [path.join(ROOT, 'node_modules')],
      logLevel: 'silent',
      metafile: true,
    });
    // nothing of Node's got in: no node: module, no onnxruntime-node, no Node-only inferopt file
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs.filter((f) => /onnxruntime-node|^node:|\/dist\/(ir\/io|runtime\/ort|util\/memory|util\/hash|quantize\/calib-cache)\.js$/.test(f))).toEqual([]);
    expect(inputs.some((f) => f.endsWith('dist/browser.js'))).toBe(true);
    for (const f of fs.readdirSync(path.join(ROOT, 'node_modules/onnxruntime-web/dist'))) {
      if (/^ort-wasm-simd-threaded\.jsep\.(wasm|mjs)$/.test(f)) fs.copyFileSync(path.join(ROOT, 'node_modules/onnxruntime-web/dist', f), path.join(www, f));
    }
    fs.writeFileSync(path.join(www, 'index.html'), '<!doctype html><meta charset="utf-8"><script type="module" src="page.js"></script>');

    const server = await serve(www);
    const browser = await chromium.launch({ executablePath: browserBin!, args: ['--no-sandbox', '--disable-gpu'] });
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(`${e.name}: ${e.message} ${e.stack ?? ''}`));
      page.on('console', (m) => m.type() === 'error' && errors.push(`console: ${m.text()}`));
      await page.goto(`http://127.0.0.1:${(server.address() as AddressInfo).port}/index.html`);
      await page.waitForFunction(() => (window as { inferoptDone?: boolean }).inferoptDone === true, undefined, { timeout: 120_000 });
      expect(missing.filter((u) => u !== '/favicon.ico')).toEqual([]);
      expect(errors.filter((e) => !/favicon|Failed to load resource/.test(e))).toEqual([]);
      const out = (await page.evaluate(() => (window as unknown as { inferoptResult: unknown }).inferoptResult)) as {
        error?: string;
        isolated: boolean;
        nodesBefore: number;
        nodesAfter: number;
        quantizedOps: string[];
        verifyOk: boolean;
        verifyFailures: string[];
        simpleBytes: number[];
        logits: number[];
        int8Logits: number[];
        loadModelError: string;
      };
      expect(out.error).toBeUndefined();
      expect(out.isolated).toBe(true);
      expect(out.nodesAfter).toBeLessThan(out.nodesBefore); // BatchNormalization folded into Conv
      expect(out.quantizedOps).toContain('DynamicQuantizeMatMul');
      expect(out.verifyFailures).toEqual([]);
      expect(out.verifyOk).toBe(true);
      expect(out.loadModelError).toMatch(/needs a file system/);

      // the same model and inputs on onnxruntime-node
      const model = buildZooModel('cnn-small', { seed: 3 });
      const feeds = randomInputs(model, { seed: 1 });
      const simple = modelFromBytes(Uint8Array.from(out.simpleBytes));
      const nodeRef = await Session.create(model, { backend: 'node' });
      const want = [...(await nodeRef.run(feeds))['logits']!.toFloat32()];
      await nodeRef.release();
      expect(out.logits.length).toBe(want.length);
      out.logits.forEach((v, i) => expect(Math.abs(v - want[i]!)).toBeLessThan(1e-4 + 1e-3 * Math.abs(want[i]!)));
      const nodeSimple = await Session.create(simple, { backend: 'node' });
      const gotSimple = [...(await nodeSimple.run(feeds))['logits']!.toFloat32()];
      await nodeSimple.release();
      gotSimple.forEach((v, i) => expect(Math.abs(v - want[i]!)).toBeLessThan(1e-4 + 1e-3 * Math.abs(want[i]!)));
      // int8 in the browser against int8 made here, on the same inputs: same quantized function
      const int8 = (await quantizeModel((await simplifyModel(model)).model, { mode: 'dynamic' })).model;
      const nodeInt8 = await Session.create(int8, { backend: 'node' });
      const wantInt8 = [...(await nodeInt8.run(feeds))['logits']!.toFloat32()];
      await nodeInt8.release();
      expect(cosineOf(out.int8Logits, wantInt8)).toBeGreaterThan(0.999);
    } finally {
      await browser.close();
      server.close();
    }
  });
});
