/**
 * The device page: registers this browser as a device with the server it was loaded from, receives jobs and
 * the blobs they name (checked by SHA-256, cached by hash), and runs each job in a Web Worker (./worker.ts)
 * with the thread count the job asks for — onnxruntime-web fixes its threads when its wasm module starts,
 * so a job with another count gets a fresh worker. Only jobs that pass protocol.ts's checks are run.
 */
import { env } from 'onnxruntime-web';
import { BlobAssembler, DEFAULT_LIMITS, ProtocolError, decodeChunk, jobBlobs, parseToPageMessage, type DeviceInfo, type DeviceLimits, type Job, type PageMessage } from '../protocol.js';
import { sha256Hex } from '../sha256.js';
import type { FromWorker, ToWorker } from './worker.js';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

function setStatus(text: string, kind: 'connecting' | 'connected' | 'busy' | 'error'): void {
  const el = $('status');
  el.textContent = text;
  el.className = `status ${kind}`;
}

// ---- what this device is ----

const SIMD_PROBE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11]);

async function deviceInfo(): Promise<DeviceInfo> {
  const nav = navigator as Navigator & { deviceMemory?: number; gpu?: { requestAdapter(): Promise<{ info?: { vendor?: string; architecture?: string } } | null> } };
  let webgpu = false;
  let webgpuAdapter: string | undefined;
  if (nav.gpu) {
    try {
      const adapter = await Promise.race([nav.gpu.requestAdapter(), new Promise<null>((r) => setTimeout(() => r(null), 8000))]);
      if (adapter) {
        webgpu = true;
        const name = [adapter.info?.vendor, adapter.info?.architecture].filter(Boolean).join(' ');
        if (name) webgpuAdapter = name.slice(0, 200);
      }
    } catch {
      /* no adapter */
    }
  }
  const info: DeviceInfo = {
    userAgent: navigator.userAgent.slice(0, 512),
    hardwareConcurrency: navigator.hardwareConcurrency || 0,
    threads: globalThis.crossOriginIsolated === true && typeof SharedArrayBuffer === 'function',
    simd: WebAssembly.validate(SIMD_PROBE),
    webgpu,
    ort: env.versions.web ?? 'unknown',
  };
  if (typeof nav.deviceMemory === 'number') info.deviceMemoryGiB = nav.deviceMemory;
  if (webgpuAdapter) info.webgpuAdapter = webgpuAdapter;
  return info;
}

function showInfo(info: DeviceInfo, name?: string): void {
  const rows: [string, string, boolean?][] = [
    ['name', name ?? '(registering)'],
    ['browser', info.userAgent],
    ['logical cores', String(info.hardwareConcurrency || 'not told')],
    ['memory', info.deviceMemoryGiB !== undefined ? `about ${info.deviceMemoryGiB} GiB` : 'not told'],
    ['wasm threads', info.threads ? 'yes (cross-origin isolated)' : 'no', info.threads],
    ['wasm SIMD', info.simd ? 'yes' : 'no', info.simd],
    ['WebGPU', info.webgpu ? `yes${info.webgpuAdapter ? ` (${info.webgpuAdapter})` : ''}` : 'no', info.webgpu],
    ['onnxruntime-web', info.ort],
  ];
  const body = $('info').querySelector('tbody')!;
  body.replaceChildren(
    ...rows.map(([k, v, ok]) => {
      const tr = document.createElement('tr');
      const th = document.createElement('th');
      th.textContent = k;
      const td = document.createElement('td');
      td.textContent = v;
      if (ok !== undefined) td.className = ok ? 'yes' : 'no';
      tr.append(th, td);
      return tr;
    }),
  );
  document.querySelectorAll('.name').forEach((el) => (el.textContent = name ?? 'this-device'));
}

// ---- blobs, cached by hash ----

const cache = new Map<string, Uint8Array>(); // insertion order = least recently used first
let cacheBytes = 0;

function cacheGet(hash: string): Uint8Array | undefined {
  const b = cache.get(hash);
  if (b) {
    cache.delete(hash);
    cache.set(hash, b);
  }
  return b;
}

function cachePut(hash: string, bytes: Uint8Array, limits: DeviceLimits, keep: Set<string>): void {
  cache.set(hash, bytes);
  cacheBytes += bytes.length;
  for (const [h, b] of cache) {
    if (cacheBytes <= limits.maxCacheBytes) break;
    if (keep.has(h)) continue;
    cache.delete(h);
    cacheBytes -= b.length;
  }
  $('cache').textContent = `${cache.size} blob(s) cached, ${(cacheBytes / 2 ** 20).toFixed(1)} MiB`;
}

// ---- runs ----

interface Current {
  run: string;
  job: Job;
  pending: Map<string, BlobAssembler>;
}

let current: Current | undefined;
let worker: { threads: number; w: Worker } | undefined;
let myName = '';
const idle = () => setStatus(`connected as ${myName}`, 'connected');

function workerFor(threads: number): Worker {
  if (worker?.threads !== threads) {
    worker?.w.terminate();
    worker = { threads, w: new Worker(new URL('worker.js', import.meta.url), { type: 'module', name: `inferopt-${threads}t` }) };
  }
  return worker.w;
}

function stopWorker(): void {
  worker?.w.terminate();
  worker = undefined;
}

function addRunRow(job: Job, result: FromWorker & { t: 'result' }): void {
  if (job.kind === 'profile') return addProfileRow(job, result.result as { events: { cat?: string; name?: string; dur?: number }[] });
  const r = result.result as { latencyMs?: { n: number; p50: number; p90: number; p99: number }; a?: unknown; b?: unknown };
  const rows = r.a && r.b ? [[job.label, r.a], [job.compare!.label, r.b]] : [[job.label, r]];
  const body = $('runs').querySelector('tbody')!;
  for (const [label, x] of rows as [string, { threads: number; latencyMs: { n: number; p50: number; p90: number; p99: number } }][]) {
    const tr = document.createElement('tr');
    for (const v of [label, String(x.threads), String(x.latencyMs.n), x.latencyMs.p50.toFixed(2), x.latencyMs.p90.toFixed(2), x.latencyMs.p99.toFixed(2)]) {
      const td = document.createElement('td');
      td.textContent = v;
      tr.append(td);
    }
    body.prepend(tr);
  }
}

/** A profile's row: its runs (warm-up included) and the median run time from the trace's model_run events. */
function addProfileRow(job: Job, r: { events: { cat?: string; name?: string; dur?: number }[] }): void {
  const runs = r.events.filter((e) => e.cat === 'Session' && e.name === 'model_run').map((e) => (e.dur ?? 0) / 1000).sort((a, b) => a - b);
  const mid = runs.length ? (runs[(runs.length - 1) >> 1]! + runs[runs.length >> 1]!) / 2 : NaN;
  const tr = document.createElement('tr');
  for (const v of [`${job.label} (profiled)`, String(job.options.threads), String(runs.length), mid.toFixed(2), '', '']) {
    const td = document.createElement('td');
    td.textContent = v;
    tr.append(td);
  }
  $('runs').querySelector('tbody')!.prepend(tr);
}

function connect(info: DeviceInfo): void {
  const params = new URLSearchParams(location.search);
  const q = new URLSearchParams({ token: params.get('token') ?? '' });
  const asked = params.get('name');
  if (asked) q.set('name', asked);
  const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws/device?${q}`);
  ws.binaryType = 'arraybuffer';
  let limits = DEFAULT_LIMITS;
  let lastProgress = 0;
  const send = (m: PageMessage) => ws.readyState === WebSocket.OPEN && ws.send(JSON.stringify(m));
  const fail = (run: string, message: string, input = false) => {
    send({ t: 'error', run, message, ...(input ? { input } : {}) });
    if (current?.run === run) current = undefined;
    $('progress').hidden = true;
    $('job').textContent = `Last run failed: ${message}`;
    idle();
  };

  const start = (c: Current) => {
    const blobs: Record<string, Uint8Array> = {};
    for (const b of jobBlobs(c.job)) blobs[b.hash] = cacheGet(b.hash)!;
    const s = c.job.kind === 'bench' ? c.job.compare?.settings.threads : undefined;
    if (s !== undefined && s !== c.job.options.threads) {
      return fail(c.run, `both sides of a comparison run with one thread count on a device (onnxruntime-web fixes it per page): ${c.job.options.threads} and ${s} asked`, true);
    }
    const w = workerFor(c.job.options.threads);
    const what = c.job.kind === 'profile' ? `Profiling ${c.job.label}` : c.job.compare ? `Running ${c.job.label} vs ${c.job.compare.label}` : `Running ${c.job.label}`;
    $('job').textContent = `${what} with ${c.job.options.threads} thread(s)…`;
    setStatus('busy', 'busy');
    const progress = $<HTMLProgressElement>('progress');
    progress.hidden = false;
    progress.value = 0;
    w.onmessage = (e: MessageEvent<FromWorker>) => {
      const m = e.data;
      if (current?.run !== m.run) return;
      if (m.t === 'progress') {
        progress.value = m.fraction;
        const now = performance.now();
        if (now - lastProgress > 250 || m.fraction === 1) {
          lastProgress = now;
          send({ t: 'progress', run: m.run, fraction: m.fraction });
        }
      } else if (m.t === 'result') {
        send({ t: 'result', run: m.run, result: m.result as object });
        addRunRow(c.job, m);
        current = undefined;
        progress.hidden = true;
        $('job').textContent = 'Done; waiting for the next job.';
        idle();
      } else fail(m.run, m.message, m.input);
    };
    w.onerror = (e) => {
      e.preventDefault();
      stopWorker();
      fail(c.run, `the worker failed: ${e.message || 'unknown error'}`);
    };
    w.postMessage({ run: c.run, job: c.job, blobs } satisfies ToWorker);
  };

  ws.onopen = () => send({ t: 'hello', info });
  ws.onmessage = (e: MessageEvent<string | ArrayBuffer>) => {
    let run = current?.run;
    try {
      if (typeof e.data !== 'string') {
        const { header, bytes } = decodeChunk(new Uint8Array(e.data), limits);
        const asm = current?.run === header.run ? current.pending.get(header.hash) : undefined;
        if (!current || !asm) throw new ProtocolError(`a chunk for a blob this page did not ask for`);
        asm.add(header.offset, bytes);
        if (!asm.done) return;
        const got = sha256Hex(asm.bytes);
        if (got !== header.hash) throw new ProtocolError(`blob ${header.hash.slice(0, 12)} arrived with SHA-256 ${got.slice(0, 12)}: refused`);
        current.pending.delete(header.hash);
        cachePut(header.hash, asm.bytes, limits, new Set(jobBlobs(current.job).map((b) => b.hash)));
        if (current.pending.size === 0) start(current);
        return;
      }
      const msg = parseToPageMessage(e.data, limits);
      if (msg.t === 'welcome') {
        limits = msg.limits;
        myName = msg.name;
        showInfo(info, msg.name);
        idle();
        document.title = `inferopt device: ${msg.name}`;
      } else if (msg.t === 'cancel') {
        if (current?.run === msg.run) {
          current = undefined;
          stopWorker();
          $('progress').hidden = true;
          $('job').textContent = 'The CLI cancelled the run; waiting for the next job.';
          idle();
        }
      } else {
        run = msg.run;
        if (current) throw new ProtocolError('a job while another one runs');
        const blobs = jobBlobs(msg.job);
        const missing = blobs.filter((b) => !cache.has(b.hash));
        for (const b of blobs) {
          if (b.size > limits.maxBlobBytes) throw new ProtocolError(`blob of ${b.size} bytes, over the limit of ${limits.maxBlobBytes}`);
        }
        current = { run: msg.run, job: msg.job, pending: new Map(missing.map((b) => [b.hash, new BlobAssembler(b)])) };
        $('job').textContent = missing.length ? `Receiving ${missing.length} blob(s), ${(missing.reduce((s, b) => s + b.size, 0) / 2 ** 20).toFixed(1)} MiB…` : 'Starting…';
        setStatus('busy', 'busy');
        send({ t: 'need', run: msg.run, hashes: missing.map((b) => b.hash) });
        if (missing.length === 0) start(current);
      }
    } catch (err) {
      const message = (err as Error).message;
      if (run) fail(run, message);
      else setStatus(`error: ${message}`, 'error');
    }
  };
  ws.onclose = (e) => {
    if (current) {
      current = undefined;
      stopWorker();
    }
    $('progress').hidden = true;
    setStatus(e.code === 1006 && !e.reason ? 'disconnected (wrong token, or the server is gone); retrying…' : `disconnected: ${e.reason || e.code}; retrying…`, 'error');
    setTimeout(() => connect(info), 3000);
  };
}

const info = await deviceInfo();
showInfo(info);
connect(info);
