/**
 * A device page as a worker of its own kind: headless Chromium opens `inferopt device serve`'s page, an
 * `inferopt worker --device auto` joins Redis with the page's fingerprint (a hardware class of its own), and
 * `optimize --target wasm --workers` times every candidate on the page through the queue, while a native
 * worker of another class only scores. Needs Debian redis-server and chromium.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import { chromiumPath } from './chromium.js';
import { requireAvailable } from './debian-data.js';
import { start, startRedis, stopAll } from './redis-harness.js';

const browserBin = chromiumPath('the device-worker test');
const ready = requireAvailable(spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0 && browserBin !== null, 'Debian redis-server and chromium', 'apt-get install -y redis-server chromium');

const CLI = path.resolve('bin/inferopt.js');
const MODEL = path.resolve('models/fashion-mnist/model.onnx');
const DATA = path.resolve('data/fashion-mnist-1k');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'inferopt-dist-device-'));
const env = { INFEROPT_DEVICE_SERVER_FILE: path.join(tmp, 'server.json') };
let browser: Browser | undefined;

afterAll(async () => {
  await browser?.close();
  await stopAll();
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe.skipIf(!ready)('a device page as a worker (BullMQ + Redis, headless Chromium)', () => {
  it('joins with the page\'s own hardware class; optimize --target wasm times every candidate on it, a native worker only scores', async () => {
    const redis = await startRedis();
    const serve = start(process.execPath, [CLI, 'device', 'serve'], env);
    await serve.until(/http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]+/, 60_000);
    const url = /http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]+/.exec(serve.out() + serve.err())![0];
    browser = await chromium.launch({ executablePath: browserBin!, args: ['--no-sandbox', '--disable-gpu'] });
    const page = await browser.newPage();
    await page.goto(url);
    await page.waitForFunction(() => /connected as/.test(document.getElementById('status')?.textContent ?? ''), undefined, { timeout: 60_000 });

    const phone = start(process.execPath, [CLI, 'worker', '--redis', redis.url, '--name', 'phone', '--device', 'auto', '--cache', path.join(tmp, 'cache-phone'), '--lock-ms', '5000'], env);
    const cpu = start(process.execPath, [CLI, 'worker', '--redis', redis.url, '--name', 'cpu', '--cache', path.join(tmp, 'cache-cpu'), '--lock-ms', '5000'], env);
    await Promise.all([phone.until(/joined/), cpu.until(/joined/)]);
    const cls = (w: typeof phone) => /class (\w+)/.exec(w.err())![1]!;
    expect(cls(phone)).not.toBe(cls(cpu));
    expect(phone.err()).toMatch(/class \w+ \(device page: HeadlessChrome\/[\d.]+ \([^)]*Linux[^)]*\) · \d+ cores? · wasm-simd wasm-threads · onnxruntime-web [\d.]+\)/);

    const out = path.join(tmp, 'opt');
    const p = start(process.execPath, [CLI, 'optimize', MODEL, '--data', DATA, '--limit', '64', '--budget', '3', '--target', 'wasm', '--workers', redis.url, '-o', out], env);
    const rc = await p.done;
    expect(rc, p.err()).toBe(0);
    expect(p.err()).toContain(`timing on class ${cls(phone)} (phone: device page: HeadlessChrome`);
    expect(p.err()).toContain(`worker cpu is of another hardware class (${cls(cpu)}): it scores, it does not time`);
    const r = JSON.parse(fs.readFileSync(path.join(out, 'results.json'), 'utf8')) as {
      candidates: { measurement?: { latency: { p50: number } }; error?: string }[];
      distributed: { timingClass: { class: string; fingerprint: string }; workers: { worker: string; kinds: Record<string, number> }[] };
    };
    expect(r.distributed.timingClass.class).toBe(cls(phone));
    expect(r.distributed.timingClass.fingerprint).toMatch(/^device page: HeadlessChrome/);
    expect(r.candidates.length).toBeGreaterThanOrEqual(2);
    expect(r.candidates.every((c) => c.measurement && !c.error && c.measurement.latency.p50 > 0)).toBe(true);
    const by = (n: string) => r.distributed.workers.find((w) => w.worker === n);
    expect(by('phone')!.kinds.time).toBeGreaterThanOrEqual(r.candidates.length);
    expect((by('cpu')?.kinds.time ?? 0) + (by('cpu')?.kinds.confirm ?? 0)).toBe(0);
    // the page itself ran the timings: it lists runs, and keeps the models it was sent
    expect(await page.locator('#cache').textContent()).toMatch(/[1-9]\d* blob\(s\) cached/);
  });
});
