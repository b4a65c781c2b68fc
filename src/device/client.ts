/**
 * The CLI's side of the device server: list devices, and run a job on one (bench and compare, with the
 * statistics of runtime/bench.ts computed on the device). Finds the server through its state file, sends
 * only the blobs the device does not hold, and fails with one line — never hangs — when the server or the
 * device goes away mid-run.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { WebSocket } from 'ws';
import { InferoptError, InputError } from '../errors.js';
import type { Model } from '../ir/graph.js';
import { modelToBytes } from '../ir/io.js';
import type { Tensor } from '../ir/tensor.js';
import type { BenchOptions, BenchResult, CompareResult, SessionSettingsOverride } from '../runtime/bench.js';
import { dropWarmup, parseOrtProfile, standInNames, type OrtProfile } from '../runtime/profile-trace.js';
import { DEFAULT_LIMITS, chunksOf, type EpChoice, maxFrameBytes, type BenchJob, type DeviceBenchOptions, type DeviceLimits, type DeviceProfileOptions, type DeviceSummary, type Job, type JobInput, type ToControlMessage } from './protocol.js';
import { deviceStateFile, type DeviceServerState } from './server.js';

export interface DeviceClientOptions {
  /** The server's state file (default: deviceStateFile()). */
  stateFile?: string;
  /** Called with 0..1 as the device reports progress. */
  onProgress?: (fraction: number) => void;
  /** The CLI pings the server this often and gives up when a ping goes unanswered (default 15 s). */
  heartbeatMs?: number;
}

function readState(file: string): DeviceServerState {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    throw new InputError('no device server is running (start one with `inferopt device serve`, then open the URL it prints on the device)');
  }
  try {
    const s = JSON.parse(text) as DeviceServerState;
    if (typeof s.control !== 'string' || typeof s.controlToken !== 'string') throw new Error();
    return s;
  } catch {
    throw new InputError(`${file} is not a device server's state file; remove it and start \`inferopt device serve\` again`);
  }
}

/**
 * One exchange with the server over a fresh control socket: `first` is sent when it opens, `onMessage` sees
 * every answer and settles the promise through `done`/`fail`; a socket that closes first fails it.
 */
function exchange<T>(
  opts: DeviceClientOptions,
  first: object,
  onMessage: (msg: ToControlMessage, ws: WebSocket, done: (v: T) => void, fail: (e: Error) => void) => void | Promise<void>,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const state = readState(opts.stateFile ?? deviceStateFile()); // a throw here rejects
    const ws = new WebSocket(state.control, { headers: { authorization: `Bearer ${state.controlToken}` }, maxPayload: maxFrameBytes(DEFAULT_LIMITS), perMessageDeflate: false });
    let settled = false;
    let alive = true;
    const beat = setInterval(() => {
      if (!alive) {
        fail(new InferoptError('the device server stopped answering'));
        ws.terminate();
        return;
      }
      alive = false;
      ws.ping();
    }, opts.heartbeatMs ?? 15_000);
    const done = (v: T) => {
      if (settled) return;
      settled = true;
      clearInterval(beat);
      ws.close();
      resolve(v);
    };
    const fail = (e: Error) => {
      if (settled) return;
      settled = true;
      clearInterval(beat);
      ws.terminate();
      reject(e);
    };
    ws.on('pong', () => (alive = true));
    ws.on('open', () => ws.send(JSON.stringify(first)));
    ws.on('unexpected-response', (_req, res) => fail(new InferoptError(`the device server refused the CLI (HTTP ${res.statusCode}); is ${opts.stateFile ?? deviceStateFile()} from the server now running?`)));
    ws.on('error', (e: NodeJS.ErrnoException) =>
      fail(e.code === 'ECONNREFUSED' ? new InputError(`no device server answers at ${state.control} (start one with \`inferopt device serve\`)`) : new InferoptError(`device server: ${e.message}`)),
    );
    ws.on('close', () => fail(new InferoptError('the device server closed the connection before the run ended')));
    ws.on('message', (data, isBinary) => {
      if (isBinary) return fail(new InferoptError('the device server sent a binary frame'));
      let msg: ToControlMessage;
      try {
        msg = JSON.parse(String(data)) as ToControlMessage;
      } catch {
        return fail(new InferoptError('the device server sent something that is not JSON'));
      }
      Promise.resolve(onMessage(msg, ws, done, fail)).catch((e: unknown) => fail(e as Error));
    });
  });
}

/** The connected devices and the page's URL. */
export function listDevices(opts: DeviceClientOptions = {}): Promise<{ devices: DeviceSummary[]; url: string }> {
  return exchange(opts, { t: 'list' }, (msg, _ws, done, fail) => {
    if (msg.t === 'devices') done({ devices: msg.devices, url: msg.url });
    else fail(new InferoptError(`unexpected answer from the device server (${msg.t})`));
  });
}

/** Sends a blob's chunks, waiting whenever the socket's buffer holds more than a few chunks. */
async function sendBlob(ws: WebSocket, run: string, hash: string, bytes: Uint8Array, limits: DeviceLimits): Promise<void> {
  for (const frame of chunksOf(run, hash, bytes, limits)) {
    if (ws.readyState !== WebSocket.OPEN) return;
    ws.send(frame, { binary: true });
    while (ws.readyState === WebSocket.OPEN && ws.bufferedAmount > 8 * limits.chunkBytes) await new Promise((r) => setTimeout(r, 5));
  }
}

/** What a device runs: bench options, and the execution provider there (default wasm). */
export type DeviceRunOptions = BenchOptions & { ep?: EpChoice };

export const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** Runs a job on a device; resolves with the device's result and the device it ran on. */
export function runOnDevice(device: string, job: Job, blobs: Map<string, Uint8Array>, opts: DeviceClientOptions = {}): Promise<{ device: DeviceSummary; result: unknown }> {
  let on: DeviceSummary | undefined;
  let limits: DeviceLimits = DEFAULT_LIMITS;
  return exchange(opts, { t: 'run', device, job }, async (msg, ws, done, fail) => {
    switch (msg.t) {
      case 'started':
        on = msg.device;
        limits = msg.limits;
        return;
      case 'need':
        for (const h of msg.hashes) {
          const b = blobs.get(h);
          if (!b) return fail(new InferoptError(`the device asked for a blob this run does not have (${h.slice(0, 12)})`));
          await sendBlob(ws, msg.run, h, b, limits);
        }
        return;
      case 'progress':
        opts.onProgress?.(msg.fraction);
        return;
      case 'result':
        return on ? done({ device: on, result: msg.result }) : fail(new InferoptError('the device server sent a result before the run started'));
      case 'failed':
        return fail(msg.input ? new InputError(msg.message) : new InferoptError(msg.message));
      default:
        return fail(new InferoptError(`unexpected answer from the device server (${msg.t})`));
    }
  });
}

/** An input tensor as a job names it; its bytes join `blobs`. */
function inputBlob(name: string, v: Tensor, blobs: Map<string, Uint8Array>): JobInput {
  if (v.strings) throw new InputError(`input ${name}: string tensors cannot be sent to a device`);
  const hash = sha256(v.bytes);
  blobs.set(hash, v.bytes);
  return { name, dtype: v.dtype, dims: [...v.dims], blob: { hash, size: v.bytes.length } };
}

/** The BenchOptions that go over the wire; inputs given as tensors become blobs. */
function wireOptions(opts: DeviceRunOptions, blobs: Map<string, Uint8Array>): { options: DeviceBenchOptions; inputs: JobInput[]; feedSets?: JobInput[][] } {
  if (opts.backend && opts.backend !== 'wasm') throw new InputError(`--device runs onnxruntime-web on the device: --backend ${opts.backend} does not apply there`);
  const values: Record<string, number> = {};
  const inputs: JobInput[] = [];
  const blobOf = (name: string, v: Tensor) => inputBlob(name, v, blobs);
  for (const [name, v] of Object.entries({ ...opts.values, ...opts.feeds })) {
    if (typeof v === 'number') values[name] = v;
    else inputs.push(blobOf(name, v));
  }
  const feedSets = opts.feedSets?.length ? opts.feedSets.map((set) => Object.entries(set).map(([name, t]) => blobOf(name, t))) : undefined;
  const options: DeviceBenchOptions = {
    threads: opts.threads ?? 2,
    warmup: opts.warmup ?? 5,
    optLevel: opts.optLevel ?? 'all',
    executionMode: opts.executionMode ?? 'sequential',
    shapes: opts.shapes ?? {},
    dims: opts.dims ?? {},
    seed: opts.seed ?? 0,
    values,
    ...(opts.runs !== undefined ? { runs: opts.runs } : {}),
    ...(opts.seconds !== undefined ? { seconds: opts.seconds } : {}),
    ...(opts.batch !== undefined ? { batch: opts.batch } : {}),
    // `ep` as the CLI gives it (auto too), or the execution provider a recipe names (the search's timer)
    ...(opts.ep ?? opts.executionProvider ? { ep: opts.ep ?? opts.executionProvider } : {}),
  };
  return { options, inputs, ...(feedSets ? { feedSets } : {}) };
}

function modelBlob(source: string | Uint8Array, blobs: Map<string, Uint8Array>): { hash: string; size: number } {
  let bytes: Uint8Array;
  if (typeof source === 'string') {
    try {
      bytes = fs.readFileSync(source);
    } catch {
      throw new InputError(`${source}: cannot read the file`);
    }
  } else bytes = source;
  if (bytes.length > DEFAULT_LIMITS.maxBlobBytes) throw new InputError(`the model is ${bytes.length} bytes, over the device upload limit of ${DEFAULT_LIMITS.maxBlobBytes}`);
  const hash = sha256(bytes);
  blobs.set(hash, bytes);
  return { hash, size: bytes.length };
}

/** What the device is told a model is called: the file's name, not where it lives here. */
function labelOf(source: string | Uint8Array, fallback: string): string {
  return typeof source === 'string' ? path.basename(source) : fallback;
}

function checkResult(r: unknown): BenchResult {
  const x = r as BenchResult;
  if (!x || typeof x !== 'object' || !x.latencyMs || typeof x.latencyMs.p50 !== 'number' || !Array.isArray(x.timesMs)) throw new InferoptError('the device sent a result without latency figures');
  return x;
}

/** `benchmark()` on a device: the same options and result, measured there. */
export async function benchmarkOnDevice(device: string, model: string | Uint8Array, opts: DeviceRunOptions = {}, client: DeviceClientOptions = {}): Promise<{ device: DeviceSummary; result: BenchResult }> {
  const blobs = new Map<string, Uint8Array>();
  const { options, inputs, feedSets } = wireOptions(opts, blobs);
  const job: BenchJob = { kind: 'bench', label: labelOf(model, '<model>'), model: modelBlob(model, blobs), inputs, ...(feedSets ? { feedSets } : {}), options };
  const r = await runOnDevice(device, job, blobs, { ...client, ...(opts.onProgress ? { onProgress: opts.onProgress } : {}) });
  return { device: r.device, result: { ...checkResult(r.result), model: typeof model === 'string' ? model : '<model>' } };
}

/** `compare()` on a device: A and B interleaved there, the bootstrap interval computed there. */
export async function compareOnDevice(
  device: string,
  a: string | Uint8Array,
  b: string | Uint8Array,
  opts: DeviceRunOptions = {},
  bSettings: SessionSettingsOverride = {},
  client: DeviceClientOptions = {},
): Promise<{ device: DeviceSummary; result: CompareResult }> {
  const blobs = new Map<string, Uint8Array>();
  const { options, inputs, feedSets } = wireOptions(opts, blobs);
  const { executionProvider: bEp, ...bRest } = bSettings;
  const job: BenchJob = {
    kind: 'bench',
    ...(feedSets ? { feedSets } : {}),
    label: labelOf(a, 'A'),
    model: modelBlob(a, blobs),
    compare: { label: labelOf(b, 'B'), model: modelBlob(b, blobs), settings: { ...bRest, ...(bEp ? { ep: bEp } : {}) } },
    inputs,
    options,
  };
  const r = await runOnDevice(device, job, blobs, { ...client, ...(opts.onProgress ? { onProgress: opts.onProgress } : {}) });
  const c = r.result as CompareResult;
  if (!c || !c.ratio || typeof c.ratio.ratio !== 'number') throw new InferoptError('the device sent a comparison without a ratio');
  checkResult(c.a);
  checkResult(c.b);
  return { device: r.device, result: { ...c, a: { ...c.a, model: typeof a === 'string' ? a : 'A' }, b: { ...c.b, model: typeof b === 'string' ? b : 'B' } } };
}

/**
 * `profile --device`: onnxruntime-web's profiler on the device, on these inputs; the trace comes back as
 * events and is read as a local wasm profile is (warm-up runs dropped). Nodes whose names ORT would write
 * unescaped run there under stand-in names (the model is sent re-encoded then; else the file's own bytes,
 * so a model the device already holds from a bench is not sent again).
 */
export async function profileOnDevice(
  device: string,
  file: string,
  model: Model,
  feeds: Record<string, Tensor>,
  opts: DeviceProfileOptions,
  client: DeviceClientOptions = {},
): Promise<{ device: DeviceSummary; profile: OrtProfile }> {
  const blobs = new Map<string, Uint8Array>();
  const restore = standInNames(model);
  let bytes: Uint8Array;
  try {
    bytes = restore.renamed ? modelToBytes(model) : fs.readFileSync(file);
  } finally {
    restore.names();
  }
  const inputs = Object.entries(feeds).map(([name, t]) => inputBlob(name, t, blobs));
  const job: Job = { kind: 'profile', label: labelOf(file, '<model>'), model: modelBlob(bytes, blobs), inputs, options: opts };
  const r = await runOnDevice(device, job, blobs, client);
  const events = (r.result as { events?: unknown } | undefined)?.events;
  if (!Array.isArray(events)) throw new InferoptError('the device sent a profile without trace events');
  const profile = parseOrtProfile(events);
  if (profile.kernels.length === 0) throw new InferoptError('the device sent a profile with no kernel events');
  return { device: r.device, profile: dropWarmup(restore.events(profile), opts.warmup) };
}
