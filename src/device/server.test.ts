/**
 * The device server without a browser: a fake device (a Node WebSocket speaking the page's side of the
 * protocol) registers, receives a job and its blobs, answers; the CLI client's functions drive it. Checks
 * the token, Origin and Host rules, the upload limits and a device vanishing mid-run.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { listDevices, runOnDevice, sha256 } from './client.js';
import { BlobAssembler, decodeChunk, jobBlobs, parseToPageMessage, type BenchJob, type DeviceInfo, type Job } from './protocol.js';
import { DeviceServer } from './server.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'inferopt-device-'));
const stateFile = path.join(dir, 'state.json');
let server: DeviceServer;
const log: string[] = [];

beforeAll(async () => {
  // the heartbeat's own timer (an hour) never beats here, however slow the machine: a device that was slow to
  // answer a ping is not dropped mid-test, and the test of the heartbeat drives its beats itself (checkHeartbeats)
  server = new DeviceServer({ stateFile, limits: { maxBlobBytes: 1000, chunkBytes: 64 }, heartbeatMs: 3_600_000, log: (l) => log.push(l) });
  await server.start();
});
afterAll(async () => {
  await server.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const info: DeviceInfo = { userAgent: 'Mozilla/5.0 (X11; Linux x86_64) HeadlessChrome/156.0', hardwareConcurrency: 2, threads: true, simd: true, webgpu: false, ort: '1.30.0' };
const base = () => `127.0.0.1:${server.port}`;

/** A device in Node: answers jobs like the page does (need → chunks → hash check → result), or misbehaves. */
async function fakeDevice(opts: { name?: string; origin?: string; token?: string; onJob?: 'answer' | 'vanish' | 'hang' } = {}): Promise<{ ws: WebSocket; name: string; received: string[]; gotJob: Promise<void> }> {
  const q = new URLSearchParams({ token: opts.token ?? server.token, ...(opts.name ? { name: opts.name } : {}) });
  const ws = new WebSocket(`ws://${base()}/ws/device?${q}`, { headers: { origin: opts.origin ?? `http://${base()}` } });
  const received: string[] = [];
  const cache = new Map<string, Uint8Array>();
  let pending = new Map<string, BlobAssembler>();
  let run = '';
  let job: Job | undefined;
  let jobArrived = () => {};
  const gotJob = new Promise<void>((resolve) => (jobArrived = resolve));
  const name = await new Promise<string>((resolve, reject) => {
    ws.on('unexpected-response', (_q, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    ws.on('error', reject);
    ws.on('open', () => ws.send(JSON.stringify({ t: 'hello', info })));
    ws.on('message', (data, binary) => {
      if (binary) {
        const { header, bytes } = decodeChunk(new Uint8Array(data as Buffer), server.limits);
        const asm = pending.get(header.hash)!;
        asm.add(header.offset, bytes);
        if (asm.done) {
          expect(sha256(asm.bytes)).toBe(header.hash);
          cache.set(header.hash, asm.bytes);
          received.push(header.hash);
          pending.delete(header.hash);
        }
        if (pending.size === 0) finish();
        return;
      }
      const msg = parseToPageMessage(String(data), server.limits);
      if (msg.t === 'welcome') resolve(msg.name);
      if (msg.t !== 'job') return;
      run = msg.run;
      job = msg.job;
      jobArrived();
      if (opts.onJob === 'vanish') return ws.terminate();
      const missing = jobBlobs(msg.job).filter((b) => !cache.has(b.hash));
      pending = new Map(missing.map((b) => [b.hash, new BlobAssembler(b)]));
      ws.send(JSON.stringify({ t: 'need', run, hashes: missing.map((b) => b.hash) }));
      if (missing.length === 0) finish();
    });
  });
  function finish(): void {
    if (opts.onJob === 'hang') return;
    ws.send(JSON.stringify({ t: 'progress', run, fraction: 0.5 }));
    ws.send(JSON.stringify({ t: 'result', run, result: { label: job!.label, sizes: jobBlobs(job!).map((b) => cache.get(b.hash)!.length) } }));
  }
  return { ws, name, received, gotJob };
}

function job(bytes: Uint8Array, label = 'm.onnx'): BenchJob {
  return { kind: 'bench', label, model: { hash: sha256(bytes), size: bytes.length }, inputs: [], options: { threads: 1, warmup: 1, runs: 2, optLevel: 'all', executionMode: 'sequential', shapes: {}, dims: {}, seed: 0, values: {} } };
}

describe('device server', () => {
  it('serves the page only with the token, with the cross-origin isolation headers, and only to its own Host', async () => {
    const ok = await fetch(`http://${base()}/?token=${server.token}`);
    expect(ok.status).toBe(200);
    expect(ok.headers.get('cross-origin-opener-policy')).toBe('same-origin');
    expect(ok.headers.get('cross-origin-embedder-policy')).toBe('require-corp');
    expect(ok.headers.get('content-security-policy')).toMatch(/default-src 'self'/);
    expect(await ok.text()).toMatch(/page\.js/);
    expect((await fetch(`http://${base()}/?token=wrong`)).status).toBe(403);
    expect((await fetch(`http://${base()}/`)).status).toBe(403);
    const wasm = await fetch(`http://${base()}/ort-wasm-simd-threaded.jsep.wasm`);
    expect(wasm.status).toBe(200);
    expect(wasm.headers.get('content-type')).toBe('application/wasm');
    expect((await fetch(`http://${base()}/../package.json`)).status).toBe(404);
    // a DNS-rebound name: right address, foreign Host
    const http = await import('node:http');
    const status = await new Promise<number>((resolve) => http.get({ host: '127.0.0.1', port: server.port, path: `/?token=${server.token}`, headers: { host: `evil.example:${server.port}` } }, (r) => resolve(r.statusCode!)));
    expect(status).toBe(421);
  });

  it('refuses a device with a wrong token or a foreign Origin, and a CLI without the control token', async () => {
    await expect(fakeDevice({ token: 'nope' })).rejects.toThrow(/HTTP 403/);
    await expect(fakeDevice({ origin: 'http://evil.example' })).rejects.toThrow(/HTTP 403/);
    await expect(listDevices({ stateFile: writeState({ controlToken: 'nope' }) })).rejects.toThrow(/refused the CLI \(HTTP 403\)/);
    await expect(listDevices({ stateFile: path.join(dir, 'missing.json') })).rejects.toThrow(/no device server is running/);
    expect(log.some((l) => /Origin "http:\/\/evil.example" is not this server/.test(l))).toBe(true);
  });

  it('relays a job: sends only blobs the device lacks, in chunks checked by hash; lists devices', async () => {
    const dev = await fakeDevice({ name: 'phone' });
    expect(dev.name).toBe('phone');
    const listed = await listDevices({ stateFile });
    expect(listed.devices.map((d) => d.name)).toContain('phone');
    expect(listed.url).toContain(`token=${server.token}`);
    const bytes = new Uint8Array(300).map((_, i) => i % 251);
    const progress: number[] = [];
    const first = await runOnDevice('phone', job(bytes), new Map([[sha256(bytes), bytes]]), { stateFile, onProgress: (f) => progress.push(f) });
    expect(first.result).toEqual({ label: 'm.onnx', sizes: [300] });
    expect(first.device.name).toBe('phone');
    expect(progress).toEqual([0.5]);
    expect(dev.received).toHaveLength(1);
    await runOnDevice('auto', job(bytes), new Map([[sha256(bytes), bytes]]), { stateFile });
    expect(dev.received).toHaveLength(1); // cached: nothing sent the second time
    dev.ws.close();
  });

  it('refuses uploads over the limit before any byte is sent, and unknown devices by name', async () => {
    const dev = await fakeDevice({ name: 'small' });
    const big = new Uint8Array(1001);
    await expect(runOnDevice('small', job(big), new Map([[sha256(big), big]]), { stateFile })).rejects.toThrow(/protocol error: job.model.size/);
    expect(dev.received).toHaveLength(0);
    await expect(runOnDevice('nosuch', job(new Uint8Array(1)), new Map(), { stateFile })).rejects.toThrow(/no device named 'nosuch' is connected \(connected: (phone, )?small\)/);
    dev.ws.close();
  });

  it('fails the run with one line when the device disconnects mid-run, or stops answering', async () => {
    await fakeDevice({ name: 'flaky', onJob: 'vanish' });
    const bytes = new Uint8Array(10);
    await expect(runOnDevice('flaky', job(bytes), new Map([[sha256(bytes), bytes]]), { stateFile })).rejects.toThrow(/^device 'flaky' disconnected during the run$/);
    // a device that goes silent (network gone) once it has its job: dropped by the heartbeat, the run fails
    const silent = await fakeDevice({ name: 'silent', onJob: 'hang' });
    const pending = runOnDevice('silent', job(bytes), new Map([[sha256(bytes), bytes]]), { stateFile });
    let settled = false;
    pending.then(() => (settled = true), () => (settled = true));
    await silent.gotJob;
    (silent.ws as unknown as { _socket: { pause(): void } })._socket.pause(); // stops reading: no pong goes back
    silent.ws.pong = () => {};
    // the heartbeat's beats, driven here: the first pings it, the second finds no answer and drops it
    server.checkHeartbeats();
    await new Promise((r) => setImmediate(r));
    expect(settled).toBe(false);
    expect(log).not.toContain('device silent: no answer to the heartbeat; dropped');
    server.checkHeartbeats();
    await expect(pending).rejects.toThrow(/^device 'silent' disconnected during the run$/);
    expect(log).toContain('device silent: no answer to the heartbeat; dropped');
  });
});

function writeState(over: object): string {
  const f = path.join(dir, `state-${Math.random().toString(36).slice(2)}.json`);
  fs.writeFileSync(f, JSON.stringify({ ...JSON.parse(fs.readFileSync(stateFile, 'utf8')), ...over }));
  return f;
}
