/**
 * `inferopt device serve` with a real browser as the device: headless Chromium (Debian `chromium`, driven
 * by playwright-core) opens the printed URL and registers; the CLI benchmarks a zoo model there on
 * onnxruntime-web's wasm backend, compares fp32 with int8 side by side, profiles a model there (the table of
 * `profile --backend wasm`), runs WebGPU on SwiftShader's software adapter with its outputs checked against
 * wasm, is refused with a wrong token, and fails with one line — not a hang — when the
 * page goes away mid-run.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { chromiumPath } from './chromium.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildZooModel, saveModel } from '../../src/index.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const CLI = path.join(ROOT, 'bin/inferopt.js');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'inferopt-device-full-'));
const env = { ...process.env, INFEROPT_DEVICE_SERVER_FILE: path.join(work, 'server.json') };

const browserBin = chromiumPath('the device test');

/**
 * The CLI in a child process, awaited without blocking this process: playwright talks to Chromium over a
 * pipe from here, and a blocked event loop (spawnSync) would stall the browser that the CLI is waiting on.
 */
function cli(args: string[], timeout = 300_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: work, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += String(d)));
    child.stderr!.on('data', (d) => (stderr += String(d)));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeout);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

let serve: ChildProcess;
let serveErr = '';
let url = '';
let browser: Browser;
let page: Page;
const pageErrors: string[] = [];

async function openDevice(): Promise<Page> {
  const p = await browser.newPage();
  p.on('pageerror', (e) => pageErrors.push(e.message));
  await p.goto(url);
  await p.waitForFunction(() => /connected as/.test(document.getElementById('status')?.textContent ?? ''), undefined, { timeout: 60_000 });
  return p;
}

describe.skipIf(!browserBin)('inferopt device serve, with headless Chromium as the device', () => {
  beforeAll(async () => {
    // a zoo model and its static int8 for the web target
    saveModel(buildZooModel('mobilenetv2', { seed: 1 }), path.join(work, 'mnv2.onnx'));
    const q = await cli(['quantize', 'mnv2.onnx', '--mode', 'static', '--target', 'wasm', '--calib', 'random:4', '-o', 'mnv2.int8.onnx']);
    expect(q.code, q.stderr).toBe(0);
    serve = spawn(process.execPath, [CLI, 'device', 'serve'], { cwd: work, env, stdio: ['ignore', 'pipe', 'pipe'] });
    serve.stderr!.on('data', (d) => (serveErr += String(d)));
    url = await new Promise<string>((resolve, reject) => {
      let out = '';
      serve.stdout!.on('data', (d) => {
        out += String(d);
        const m = /http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]+/.exec(out);
        if (m) resolve(m[0]);
      });
      serve.on('exit', (code) => reject(new Error(`device serve exited (${code}): ${serveErr}`)));
    });
    browser = await chromium.launch({ executablePath: browserBin!, args: ['--no-sandbox', '--disable-gpu'] });
    page = await openDevice();
  }, 600_000);

  afterAll(async () => {
    await browser?.close();
    serve?.kill('SIGINT');
    await new Promise((r) => (serve?.exitCode !== null ? r(null) : serve.on('exit', r)));
    expect(fs.existsSync(env.INFEROPT_DEVICE_SERVER_FILE)).toBe(false); // the server removed its state file
    fs.rmSync(work, { recursive: true, force: true });
  });

  it('registers the page as a device with what it can do', async () => {
    const r = await cli(['device', 'list', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const { devices } = JSON.parse(r.stdout) as { devices: { name: string; info: { threads: boolean; simd: boolean; hardwareConcurrency: number; userAgent: string } }[] };
    expect(devices).toHaveLength(1);
    expect(devices[0]!.name).toBe('headless-chrome-linux');
    expect(devices[0]!.info.threads).toBe(true); // COOP/COEP served: cross-origin isolated
    expect(devices[0]!.info.simd).toBe(true);
    expect(devices[0]!.info.hardwareConcurrency).toBeGreaterThan(0);
    expect(devices[0]!.info.userAgent).toMatch(/HeadlessChrome/);
    const text = await cli(['device', 'list']);
    expect(text.stdout).toMatch(/^headless-chrome-linux: HeadlessChrome\/[\d.]+ .*wasm threads, SIMD, no WebGPU; from 127\.0\.0\.1/);
  });

  it('benchmarks a zoo model on the page (wasm, 2 threads) with the statistics of local bench', async () => {
    const r = await cli(['bench', 'mnv2.onnx', '--device', 'auto', '--runs', '8', '--warmup', '2', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout) as { device: { name: string }; model: string; backend: string; threads: number; warmup: number; latencyMs: { n: number; p50: number; p90: number; p99: number; min: number; max: number }; timesMs: number[]; inputs: { shape: number[] }[] };
    expect(j.device.name).toBe('headless-chrome-linux');
    expect(j.model).toBe('mnv2.onnx');
    expect(j.backend).toBe('wasm');
    expect(j.threads).toBe(2);
    expect(j.warmup).toBe(2);
    expect(j.timesMs).toHaveLength(8);
    expect(j.latencyMs.n).toBe(8);
    expect(j.inputs[0]!.shape).toEqual([1, 3, 224, 224]);
    // the summary is the one util/stats computes from these times
    const sorted = [...j.timesMs].sort((a, b) => a - b);
    expect(j.latencyMs.min).toBe(sorted[0]);
    expect(j.latencyMs.max).toBe(sorted[7]);
    expect(j.latencyMs.p50).toBeCloseTo((sorted[3]! + sorted[4]!) / 2, 9);
    expect(j.latencyMs.p50).toBeGreaterThan(0.5); // a real MobileNetV2 forward pass, not an empty call
    // the page lists the run and keeps the model cached: a second run sends no bytes
    await page.waitForFunction(() => /1 blob\(s\) cached/.test(document.getElementById('cache')?.textContent ?? ''));
    const text = await cli(['bench', 'mnv2.onnx', '--device', 'headless-chrome-linux', '--runs', '3', '--warmup', '1', '--threads', '1']);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^on device headless-chrome-linux: HeadlessChrome/);
    expect(text.stdout).toMatch(/mnv2\.onnx: wasm, 1 thread, opt level all/);
    expect(text.stdout).toMatch(/p99 \(ms\)/);
    expect(text.stdout).not.toMatch(/RSS/); // a browser cannot tell its memory use
    expect(await page.locator('#cache').textContent()).toMatch(/1 blob\(s\) cached/);
  });

  it('execution provider: webgpu on a device without an adapter is one line; auto falls back to wasm and says so', async () => {
    // headless Chromium here exposes no WebGPU adapter (no GPU)
    const gpu = await cli(['bench', 'mnv2.onnx', '--device', 'auto', '--ep', 'webgpu', '--runs', '2', '--warmup', '0']);
    expect(gpu.code).toBe(2);
    expect(gpu.stderr.trim().split('\n')).toHaveLength(1);
    expect(gpu.stderr).toMatch(/cannot run on webgpu on this device: (WebGPU is exposed but no adapter is available|this browser has no WebGPU); use --ep wasm or --ep auto/);
    const auto = await cli(['bench', 'mnv2.onnx', '--device', 'auto', '--ep', 'auto', '--runs', '2', '--warmup', '0', '--json']);
    expect(auto.code, auto.stderr).toBe(0);
    const j = JSON.parse(auto.stdout) as { executionProvider: string; executionProviderNote: string };
    expect(j.executionProvider).toBe('wasm');
    expect(j.executionProviderNote).toMatch(/^wasm \(auto: /);
    const text = await cli(['bench', 'mnv2.onnx', '--device', 'auto', '--runs', '2', '--warmup', '0']);
    expect(text.stdout).toMatch(/^execution provider: wasm \(asked for\)$/m);
  });

  it('webgpu on a software adapter (SwiftShader): runs there, and its outputs are checked against wasm', async () => {
    // Debian's chromium ships SwiftShader's Vulkan: with these flags headless Chromium exposes a (fallback)
    // WebGPU adapter without a GPU. Its speed means nothing; that the webgpu path runs and agrees does.
    const gpuBrowser = await chromium.launch({ executablePath: browserBin!, args: ['--no-sandbox', '--enable-unsafe-webgpu', '--enable-features=Vulkan', '--use-angle=swiftshader', '--use-webgpu-adapter=swiftshader'] });
    try {
      const p = await gpuBrowser.newPage();
      p.on('pageerror', (e) => pageErrors.push(e.message));
      await p.goto(`${url}&name=swiftshader`);
      await p.waitForFunction(() => /connected as/.test(document.getElementById('status')?.textContent ?? ''), undefined, { timeout: 60_000 });
      saveModel(buildZooModel('cnn-small', { seed: 4 }), path.join(work, 'gpu-small.onnx'));
      const r = await cli(['bench', 'gpu-small.onnx', '--device', 'swiftshader', '--ep', 'webgpu', '--runs', '2', '--warmup', '1', '--json']);
      expect(r.code, r.stderr).toBe(0);
      const j = JSON.parse(r.stdout) as { device: { info: { webgpu: boolean; webgpuAdapter?: string } }; executionProvider: string; latencyMs: { n: number }; outputsVsWasm: { ok: boolean; outputs: { name: string; maxAbs: number; cosine: number; count: number; mismatches: number }[] } };
      expect(j.device.info.webgpu).toBe(true);
      expect(j.device.info.webgpuAdapter).toMatch(/swiftshader/);
      expect(j.executionProvider).toBe('webgpu');
      expect(j.latencyMs.n).toBe(2);
      expect(j.outputsVsWasm.outputs.map((o) => o.name)).toEqual(['logits']);
      expect(j.outputsVsWasm.outputs[0]!.count).toBe(10);
      expect(j.outputsVsWasm.outputs[0]!.cosine).toBeGreaterThan(0.99999);
      expect(j.outputsVsWasm.ok).toBe(true);
      const text = await cli(['bench', 'gpu-small.onnx', '--device', 'swiftshader', '--ep', 'auto', '--runs', '1', '--warmup', '0']);
      expect(text.code, text.stderr).toBe(0);
      expect(text.stdout).toMatch(/^execution provider: webgpu \(auto: the device has a WebGPU adapter\)$/m);
      // the header names what ran: WebGPU, with wasm's threads only for the ops it has no kernel for
      expect(text.stdout).toMatch(/^gpu-small\.onnx: webgpu \(onnxruntime-web; ops without a WebGPU kernel on wasm, 2 threads\), opt level all, sequential; inputs: /m);
      expect(text.stdout).not.toMatch(/: wasm, \d threads?,/);
      expect(text.stdout).toMatch(/^outputs on webgpu vs wasm \(same inputs\): logits max abs [\d.e+-]+, cosine (1\.000000|0\.99999\d).* — within 0\.0001 \+ 0\.001·\|wasm\|$/m);

      // optimize --device on this page: the wasm search, then the float model in fp32 and fp16 on WebGPU, each
      // timed side by side with the wasm baseline there and its outputs checked against wasm; the choice
      // follows the measured figures (on a software adapter WebGPU is slow: what matters is that both EPs were
      // timed and the decision agrees with the figures, whichever way they fall)
      const out = path.join(work, 'opt-gpu');
      const opt = await cli(['optimize', 'gpu-small.onnx', '--target', 'wasm', '--device', 'swiftshader', '--budget', '2', '--runs', '5', '-o', out]);
      expect(opt.code, opt.stderr).toBe(0);
      expect(opt.stderr).toMatch(/device has WebGPU \(.*swiftshader.*\): the float model in fp32 and fp16 is timed on it too/i);
      type C = { id: number; stage: string; verdict: string; error?: string; recipe: { steps: { pass: string }[]; session: { ep?: string } }; measurement?: { vsBaseline?: { speedup: number }; latency: { p50: number }; outputsVsWasm?: { ok: boolean; maxAbs: number } } };
      const res = JSON.parse(fs.readFileSync(path.join(out, 'results.json'), 'utf8')) as { candidates: C[]; chosen: { id: number } };
      const gpu = res.candidates.filter((c) => c.recipe.session.ep === 'webgpu');
      expect(gpu.map((c) => [c.stage, c.recipe.steps.map((st) => st.pass)])).toEqual([['webgpu', []], ['webgpu', ['convert-half']]]);
      // each was timed on the device (or failed on the outputs check, saying so)
      for (const c of gpu) {
        if (c.measurement) {
          expect(c.measurement.latency.p50).toBeGreaterThan(0);
          expect(c.measurement.outputsVsWasm!.ok).toBe(true);
        } else expect(c.error).toMatch(/^on webgpu its outputs differ from wasm's/);
      }
      expect(gpu[0]!.measurement).toBeDefined(); // fp32 agrees with wasm (as bench showed above)
      const wasmTimed = res.candidates.filter((c) => c.stage !== 'baseline' && !c.recipe.session.ep && c.measurement);
      expect(wasmTimed.length).toBeGreaterThan(0);
      // the decision follows the figures: nothing measured faster by more than the tie was passed over
      const speed = (c: C) => c.measurement?.vsBaseline?.speedup ?? 1;
      const chosen = res.candidates.find((c) => c.id === res.chosen.id)!;
      for (const c of res.candidates.filter((x) => x.measurement && x.verdict !== 'failed')) if (c.recipe.session.ep !== chosen.recipe.session.ep) expect(speed(c), `${c.id} vs chosen ${chosen.id}`).toBeLessThan(speed(chosen) * 1.05 + 1e-9);
      await p.close();
    } finally {
      await gpuBrowser.close();
    }
  });

  it('compares fp32 with int8 side by side on the page (interleaved, bootstrap interval)', async () => {
    const r = await cli(['bench', 'mnv2.onnx', '--compare', 'mnv2.int8.onnx', '--device', 'auto', '--runs', '6', '--warmup', '1', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout) as { a: { model: string; timesMs: number[] }; b: { model: string; timesMs: number[] }; ratio: { ratio: number; low: number; high: number; confidence: number }; order: string[] };
    expect(j.a.model).toBe('mnv2.onnx');
    expect(j.b.model).toBe('mnv2.int8.onnx');
    expect(j.a.timesMs).toHaveLength(6);
    expect(j.b.timesMs).toHaveLength(6);
    expect(j.order).toHaveLength(12);
    expect(new Set(j.order.slice(0, 12).filter((_, i) => i % 2 === 0))).toEqual(new Set(['A', 'B'])); // random order per round
    const med = (xs: number[]) => [...xs].sort((a, b) => a - b).slice(2, 4).reduce((a, b) => a + b) / 2;
    expect(j.ratio.ratio).toBeCloseTo(med(j.b.timesMs) / med(j.a.timesMs), 9);
    expect(j.ratio.low).toBeLessThanOrEqual(j.ratio.ratio);
    expect(j.ratio.high).toBeGreaterThanOrEqual(j.ratio.ratio);
    expect(j.ratio.confidence).toBe(0.95);
    const text = await cli(['bench', 'mnv2.onnx', '--compare', 'mnv2.int8.onnx', '--device', 'auto', '--runs', '3', '--warmup', '1']);
    expect(text.stdout).toMatch(/B\/A median latency: [\d.]+ \(95% CI [\d.]+–[\d.]+, runs interleaved in random order\)/);
  });

  it('profile --device: the table of profile --backend wasm, from onnxruntime-web\'s profiler on the page', async () => {
    type Prof = { device?: { name: string }; backend: string; threads: number; runs: number; runMs: number; kernelMs: number; counts: { graphNodes: number; kernels: number }; nodes: { node: string; opType: string; ms: number; calls: number; graphNodes: string[] }[]; opTypes: { opType: string }[] };
    const [dev, local] = await Promise.all([
      cli(['profile', 'mnv2.onnx', '--device', 'auto', '--runs', '2', '--warmup', '1', '--json']),
      cli(['profile', 'mnv2.onnx', '--backend', 'wasm', '--runs', '2', '--warmup', '1', '--no-peak', '--json']),
    ]);
    expect(dev.code, dev.stderr).toBe(0);
    expect(local.code, local.stderr).toBe(0);
    const d = JSON.parse(dev.stdout) as Prof;
    const l = JSON.parse(local.stdout) as Prof;
    expect(d.device?.name).toBe('headless-chrome-linux');
    expect([d.backend, d.threads, d.runs]).toEqual(['wasm', 2, 2]); // the warm-up run dropped, as locally
    // the same onnxruntime-web kernels ran there as in Node's wasm backend: same fusions, same kernels
    expect(d.counts).toEqual(l.counts);
    expect(d.nodes.map((n) => n.node).sort()).toEqual(l.nodes.map((n) => n.node).sort());
    expect(new Set(d.opTypes.map((o) => o.opType))).toEqual(new Set(l.opTypes.map((o) => o.opType)));
    expect(d.nodes.every((n) => n.calls === 2 && n.ms > 0)).toBe(true);
    expect(d.kernelMs).toBeGreaterThan(0.5); // a real MobileNetV2 pass, timed there
    expect(d.kernelMs).toBeLessThanOrEqual(d.runMs * 1.001);
    const text = await cli(['profile', 'mnv2.onnx', '--device', 'headless-chrome-linux', '--runs', '1', '--warmup', '0', '--top', '3', '--threads', '1']);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^on device headless-chrome-linux: HeadlessChrome/);
    expect(text.stdout).toMatch(/^mnv2\.onnx on wasm \(onnxruntime-web on headless-chrome-linux\), 1 thread; inputs input=1x3x224x224/m);
    expect(text.stdout).toMatch(/^By op type:$/m);
    expect(text.stdout).toMatch(/^Top 3 hotspots:$/m);
    expect(text.stdout).toMatch(/no roofline columns: the device's peak/);
    expect(await page.locator('#runs tbody tr').first().textContent()).toMatch(/mnv2\.onnx \(profiled\)/);
    // a node name ORT would write into its trace unescaped runs there under a stand-in and comes back whole
    const small = buildZooModel('cnn-small', { seed: 3 });
    small.graph.nodes[0]!.name = 'conv "one"';
    saveModel(small, path.join(work, 'quoted.onnx'));
    const q = await cli(['profile', 'quoted.onnx', '--device', 'auto', '--runs', '1', '--warmup', '0', '--json']);
    expect(q.code, q.stderr).toBe(0);
    expect((JSON.parse(q.stdout) as Prof).nodes.flatMap((n) => n.graphNodes)).toContain('conv "one"');
    const bad = await cli(['profile', 'mnv2.onnx', '--device', 'auto', '--backend', 'node']);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim()).toBe('inferopt: --device profiles onnxruntime-web (wasm) on the device; drop --backend');
  });

  it('optimize --target wasm --device times every candidate on the page', async () => {
    saveModel(buildZooModel('cnn-small', { seed: 2 }), path.join(work, 'small.onnx'));
    const r = await cli(['optimize', 'small.onnx', '--target', 'wasm', '--device', 'auto', '--budget', '3', '--runs', '5', '-o', 'opt']);
    expect(r.code === 0 || r.code === 3, r.stderr).toBe(true); // 3: goals not met, the folder is written either way
    expect(r.stderr).toMatch(/timing on device headless-chrome-linux: HeadlessChrome/);
    const results = JSON.parse(fs.readFileSync(path.join(work, 'opt/results.json'), 'utf8')) as { timing: { backend: string; device?: { name: string } } };
    expect(results.timing.backend).toBe('wasm');
    expect(results.timing.device?.name).toBe('headless-chrome-linux');
    expect(fs.readFileSync(path.join(work, 'opt/report.md'), 'utf8')).toMatch(/wasm backend on device headless-chrome-linux \(HeadlessChrome/);
    // the page ran them: its table has more rows than the bench tests left
    expect(await page.locator('#runs tbody tr').count()).toBeGreaterThan(5);
    const wrongTarget = await cli(['optimize', 'small.onnx', '--device', 'auto', '-o', 'opt2']);
    expect(wrongTarget.code).toBe(2);
    expect(wrongTarget.stderr).toMatch(/give --target wasm/);
  });

  it('refuses a wrong token (page and socket), and names the device that does not exist', async () => {
    const p = await browser.newPage();
    const wrong = url.replace(/token=[\w-]+/, 'token=wrong');
    const res = await p.goto(wrong);
    expect(res!.status()).toBe(403);
    expect(await p.textContent('body')).toMatch(/wrong or missing token/);
    // the page's script, loaded under the right origin but with a wrong token, cannot register
    await p.goto(url.replace(/\?token=.*/, 'style.css'));
    const closed = await p.evaluate(async (u) => {
      return await new Promise<string>((resolve) => {
        const ws = new WebSocket(u);
        ws.onopen = () => resolve('open');
        ws.onclose = (e) => resolve(`closed ${e.code}`);
      });
    }, url.replace('http:', 'ws:').replace(/\/\?token=.*/, '/ws/device?token=wrong'));
    expect(closed).toBe('closed 1006');
    await p.close();
    expect(serveErr).toMatch(/refused a WebSocket from 127\.0\.0\.1: wrong or missing token/);
    const list = JSON.parse((await cli(['device', 'list', '--json'])).stdout) as { devices: unknown[] };
    expect(list.devices).toHaveLength(1);
    const none = await cli(['bench', 'mnv2.onnx', '--device', 'pixel', '--runs', '2']);
    expect(none.code).toBe(1);
    expect(none.stderr.trim().split('\n')).toEqual(["inferopt: no device named 'pixel' is connected (connected: headless-chrome-linux)"]);
  });

  it('fails with one line, not a hang, when the device disconnects mid-run', async () => {
    const child = spawn(process.execPath, [CLI, 'bench', 'mnv2.onnx', '--device', 'auto', '--seconds', '120'], { cwd: work, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += String(d)));
    await page.waitForFunction(() => /busy/.test(document.getElementById('status')?.className ?? '') && Number((document.getElementById('progress') as HTMLProgressElement | null)?.value) > 0, undefined, { timeout: 120_000 });
    const t0 = Date.now();
    await page.close();
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(Date.now() - t0).toBeLessThan(15_000);
    expect(code).toBe(1);
    expect(stderr.trim().split('\n')).toEqual(["inferopt: device 'headless-chrome-linux' disconnected during the run"]);
    expect(JSON.parse((await cli(['device', 'list', '--json'])).stdout).devices).toEqual([]);
    // a new page registers again and runs
    page = await openDevice();
    const again = await cli(['bench', 'mnv2.onnx', '--device', 'auto', '--runs', '2', '--warmup', '1', '--json']);
    expect(again.code, again.stderr).toBe(0);
    expect(pageErrors).toEqual([]);
  });
});
