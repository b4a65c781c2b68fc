/**
 * The device protocol: what the CLI, the device server (`inferopt device serve`) and the page on a device
 * say to each other, and the checks every side applies to what it receives. Pure code (no Node, no DOM):
 * bundled into the page as it is, so both ends parse with the same rules.
 *
 *   CLI ──control WebSocket──▶ server ──device WebSocket──▶ page (a phone, a laptop's browser)
 *
 * JSON text frames carry messages; binary frames carry blob chunks (a model, an input tensor's bytes):
 * `u32 LE header length | header JSON {run, hash, offset} | bytes`. A job names its blobs by SHA-256; the
 * page answers with the hashes it does not hold yet, receives only those, checks each one's hash when its
 * last chunk arrives and keeps it in a cache by hash, so a second run of the same model sends nothing.
 */
import { InputError } from '../errors.js';

/** Size limits. The server enforces them on what it relays; the page enforces them again on what it keeps. */
export interface DeviceLimits {
  /** Largest single blob (a model or an input tensor), bytes. */
  maxBlobBytes: number;
  /** All blobs of one job together, bytes. */
  maxJobBytes: number;
  /** Bytes of data in one chunk frame. */
  chunkBytes: number;
  /** Largest JSON message, bytes. */
  maxMessageBytes: number;
  /** What the page keeps cached (least recently used blobs go first), bytes. */
  maxCacheBytes: number;
}

export const DEFAULT_LIMITS: DeviceLimits = {
  maxBlobBytes: 512 * 2 ** 20,
  maxJobBytes: 1024 * 2 ** 20,
  chunkBytes: 2 ** 20,
  maxMessageBytes: 8 * 2 ** 20,
  maxCacheBytes: 1024 * 2 ** 20,
};

/** The largest frame either socket accepts: a chunk plus its header. */
export function maxFrameBytes(limits: DeviceLimits): number {
  return Math.max(limits.chunkBytes + 4096, limits.maxMessageBytes);
}

/** What a page tells about its device when it registers. */
export interface DeviceInfo {
  userAgent: string;
  /** navigator.hardwareConcurrency (logical cores), 0 when the browser does not say. */
  hardwareConcurrency: number;
  /** navigator.deviceMemory (GiB, rounded by the browser), absent when the browser does not say. */
  deviceMemoryGiB?: number;
  /** Multi-threaded wasm possible: the page is cross-origin isolated and has SharedArrayBuffer. */
  threads: boolean;
  /** WebAssembly SIMD validates. */
  simd: boolean;
  /** navigator.gpu exists and gave an adapter. */
  webgpu: boolean;
  /** The WebGPU adapter's vendor/architecture, when there is one. */
  webgpuAdapter?: string;
  /** onnxruntime-web's version on the page. */
  ort: string;
}

/** A connected device as the server lists it. */
export interface DeviceSummary {
  name: string;
  info: DeviceInfo;
  /** Remote address of its connection. */
  address: string;
  connectedAt: string;
  busy: boolean;
}

export interface BlobRef {
  /** SHA-256, lower-case hex. */
  hash: string;
  size: number;
}

/** An input tensor given by value (`--input name=file.pb`): dtype (ONNX enum), dims, bytes in a blob. */
export interface JobInput {
  name: string;
  dtype: number;
  dims: number[];
  blob: BlobRef;
}

/** BenchOptions that cross the wire (runtime/bench.ts gives them meaning; the page calls the same code). */
export interface DeviceBenchOptions {
  threads: number;
  warmup: number;
  runs?: number;
  seconds?: number;
  optLevel: 'disabled' | 'basic' | 'extended' | 'all';
  executionMode: 'sequential' | 'parallel';
  shapes: Record<string, number[]>;
  dims: Record<string, number>;
  seed: number;
  batch?: number;
  /** Inputs filled with one number (`--input sr=16000`). */
  values: Record<string, number>;
  /** Execution provider: 'auto' takes WebGPU where the device has an adapter, else wasm (default 'wasm'). */
  ep?: EpChoice;
}

export type EpChoice = 'auto' | 'wasm' | 'webgpu';

/** What a WebGPU run on a device adds to its result: its outputs against wasm's on the same inputs. */
export interface OutputsVsWasm {
  tolerance: { atol: number; rtol: number };
  ok: boolean;
  outputs: { name: string; ok: boolean; maxAbs?: number; maxRel?: number; cosine?: number; mismatches?: number; count?: number; top1?: number; problem?: string }[];
}

/** What a device page's WebGPU looks like to `chooseProvider` (navigator.gpu; absent without WebGPU). */
export interface GpuLike {
  requestAdapter(): Promise<unknown>;
}

/**
 * The execution provider a job runs on, and why: WebGPU needs an adapter (a browser can expose
 * navigator.gpu and still have none, as headless Chromium without a GPU does). Asking for webgpu on a device
 * without one is the user's error (one line); 'auto' falls back to wasm and says so.
 */
export async function chooseProvider(wanted: EpChoice, gpu: GpuLike | undefined): Promise<{ ep: 'wasm' | 'webgpu'; note: string }> {
  if (wanted === 'wasm') return { ep: 'wasm', note: 'wasm (asked for)' };
  let adapter: unknown = null;
  try {
    adapter = gpu ? await gpu.requestAdapter() : null;
  } catch {
    adapter = null;
  }
  if (adapter) return { ep: 'webgpu', note: wanted === 'auto' ? 'webgpu (auto: the device has a WebGPU adapter)' : 'webgpu (asked for)' };
  const why = gpu ? 'WebGPU is exposed but no adapter is available' : 'this browser has no WebGPU';
  if (wanted === 'webgpu') throw new InputError(`cannot run on webgpu on this device: ${why}; use --ep wasm or --ep auto`);
  return { ep: 'wasm', note: `wasm (auto: ${why})` };
}

/** Benchmark a model on a page, or two side by side (`compare`). */
export interface BenchJob {
  kind: 'bench';
  /** Shown in results (the file name on the CLI's side). */
  label: string;
  model: BlobRef;
  /** B's own session settings; `ep`: B's execution provider when it differs from A's (the search times WebGPU against wasm). */
  compare?: { label: string; model: BlobRef; settings: Partial<Pick<DeviceBenchOptions, 'threads' | 'optLevel' | 'executionMode' | 'ep'>> };
  inputs: JobInput[];
  /** Several input sets used in turn (BenchOptions.feedSets: real batches drawn from data); replaces `inputs`. */
  feedSets?: JobInput[][];
  options: DeviceBenchOptions;
}

/**
 * Profile a model there (`profile --device`): onnxruntime-web's profiler on, `warmup + runs` runs on the
 * inputs sent; the page answers with the trace events it printed (kernel and run events, warm-up included).
 */
export interface ProfileJob {
  kind: 'profile';
  label: string;
  model: BlobRef;
  inputs: JobInput[];
  options: DeviceProfileOptions;
}

export interface DeviceProfileOptions {
  threads: number;
  runs: number;
  warmup: number;
  optLevel: DeviceBenchOptions['optLevel'];
  /** Values of symbolic dimensions, written into the model there (as a local profile does). */
  dims: Record<string, number>;
}

export type Job = BenchJob | ProfileJob;

// ---- messages ----

/** page → server */
export type PageMessage =
  | { t: 'hello'; info: DeviceInfo }
  | { t: 'need'; run: string; hashes: string[] }
  | { t: 'progress'; run: string; fraction: number }
  | { t: 'result'; run: string; result: unknown }
  | { t: 'error'; run: string; message: string; input?: boolean };

/** server → page */
export type ToPageMessage =
  | { t: 'welcome'; name: string; limits: DeviceLimits }
  | { t: 'job'; run: string; job: Job }
  | { t: 'cancel'; run: string };

/** CLI → server */
export type ControlMessage = { t: 'list' } | { t: 'run'; device: string; job: Job };

/** server → CLI */
export type ToControlMessage =
  | { t: 'devices'; devices: DeviceSummary[]; url: string }
  | { t: 'started'; run: string; device: DeviceSummary; limits: DeviceLimits }
  | { t: 'need'; run: string; hashes: string[] }
  | { t: 'progress'; fraction: number }
  | { t: 'result'; result: unknown }
  | { t: 'failed'; message: string; input?: boolean };

/** A message that breaks the protocol: the connection that sent it is closed with this reason. */
export class ProtocolError extends Error {
  override name = 'ProtocolError';
}

// ---- checks ----

const HASH = /^[0-9a-f]{64}$/;
const RUN = /^[A-Za-z0-9_-]{1,64}$/;
const NAME = /^[A-Za-z0-9._-]{1,64}$/;

type Obj = Record<string, unknown>;

function obj(v: unknown, what: string): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ProtocolError(`${what}: expected an object`);
  return v as Obj;
}

function only(o: Obj, keys: readonly string[], what: string): void {
  for (const k of Object.keys(o)) if (!keys.includes(k)) throw new ProtocolError(`${what}: unexpected field '${k}'`);
}

function str(v: unknown, what: string, max = 1024, re?: RegExp): string {
  if (typeof v !== 'string' || v.length > max || (re && !re.test(v))) throw new ProtocolError(`${what}: bad string`);
  return v;
}

function int(v: unknown, what: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw new ProtocolError(`${what}: expected an integer in ${min}..${max}`);
  return v;
}

function num(v: unknown, what: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) throw new ProtocolError(`${what}: expected a number in ${min}..${max}`);
  return v;
}

function bool(v: unknown, what: string): boolean {
  if (typeof v !== 'boolean') throw new ProtocolError(`${what}: expected true or false`);
  return v;
}

function oneOf<T extends string>(v: unknown, values: readonly T[], what: string): T {
  if (typeof v !== 'string' || !(values as readonly string[]).includes(v)) throw new ProtocolError(`${what}: expected one of ${values.join(', ')}`);
  return v as T;
}

function record<T>(v: unknown, what: string, each: (x: unknown, w: string) => T, maxKeys = 64): Record<string, T> {
  const o = obj(v, what);
  const keys = Object.keys(o);
  if (keys.length > maxKeys) throw new ProtocolError(`${what}: too many entries`);
  const out: Record<string, T> = Object.create(null) as Record<string, T>;
  for (const k of keys) out[str(k, `${what} key`, 256)] = each(o[k], `${what}.${k}`);
  return out;
}

const MAX_DIM = 2 ** 31 - 1;
const dimsOf = (v: unknown, what: string): number[] => {
  if (!Array.isArray(v) || v.length > 16) throw new ProtocolError(`${what}: expected at most 16 dims`);
  return v.map((d, i) => int(d, `${what}[${i}]`, 0, MAX_DIM));
};

export function checkBlobRef(v: unknown, what: string, limits: DeviceLimits): BlobRef {
  const o = obj(v, what);
  only(o, ['hash', 'size'], what);
  return { hash: str(o['hash'], `${what}.hash`, 64, HASH), size: int(o['size'], `${what}.size`, 0, limits.maxBlobBytes) };
}

function checkOptions(v: unknown, what: string): DeviceBenchOptions {
  const o = obj(v, what);
  only(o, ['threads', 'warmup', 'runs', 'seconds', 'optLevel', 'executionMode', 'shapes', 'dims', 'seed', 'batch', 'values', 'ep'], what);
  const out: DeviceBenchOptions = {
    threads: int(o['threads'], `${what}.threads`, 1, 256),
    warmup: int(o['warmup'], `${what}.warmup`, 0, 100_000),
    optLevel: oneOf(o['optLevel'], ['disabled', 'basic', 'extended', 'all'] as const, `${what}.optLevel`),
    executionMode: oneOf(o['executionMode'], ['sequential', 'parallel'] as const, `${what}.executionMode`),
    shapes: record(o['shapes'], `${what}.shapes`, dimsOf),
    dims: record(o['dims'], `${what}.dims`, (x, w) => int(x, w, 0, MAX_DIM)),
    seed: int(o['seed'], `${what}.seed`, 0, Number.MAX_SAFE_INTEGER),
    values: record(o['values'], `${what}.values`, (x, w) => num(x, w, -Number.MAX_VALUE, Number.MAX_VALUE)),
  };
  if (o['runs'] !== undefined) out.runs = int(o['runs'], `${what}.runs`, 1, 1_000_000);
  if (o['seconds'] !== undefined) out.seconds = num(o['seconds'], `${what}.seconds`, 1e-3, 86_400);
  if (out.runs !== undefined && out.seconds !== undefined) throw new ProtocolError(`${what}: runs and seconds both given`);
  if (o['batch'] !== undefined) out.batch = int(o['batch'], `${what}.batch`, 1, MAX_DIM);
  if (o['ep'] !== undefined) out.ep = oneOf(o['ep'], ['auto', 'wasm', 'webgpu'] as const, `${what}.ep`);
  return out;
}

const inputList = (v: unknown, what: string, limits: DeviceLimits): JobInput[] => {
  if (!Array.isArray(v) || v.length > 256) throw new ProtocolError(`${what}: expected at most 256 inputs`);
  return v.map((x, i) => {
    const w = `${what}[${i}]`;
    const io = obj(x, w);
    only(io, ['name', 'dtype', 'dims', 'blob'], w);
    return { name: str(io['name'], `${w}.name`, 256), dtype: int(io['dtype'], `${w}.dtype`, 1, 64), dims: dimsOf(io['dims'], `${w}.dims`), blob: checkBlobRef(io['blob'], `${w}.blob`, limits) };
  });
};

function withinJobLimit<J extends Job>(job: J, limits: DeviceLimits): J {
  const total = jobBlobs(job).reduce((s, b) => s + b.size, 0);
  if (total > limits.maxJobBytes) throw new ProtocolError(`job: its blobs come to ${total} bytes, over the limit of ${limits.maxJobBytes}`);
  return job;
}

/** The most profiled runs (warm-up included) a profile job may ask for: each adds its events to the answer. */
export const MAX_PROFILE_RUNS = 1000;

function checkProfileJob(o: Obj, limits: DeviceLimits): ProfileJob {
  only(o, ['kind', 'label', 'model', 'inputs', 'options'], 'job');
  const opt = obj(o['options'], 'job.options');
  only(opt, ['threads', 'runs', 'warmup', 'optLevel', 'dims'], 'job.options');
  const options: DeviceProfileOptions = {
    threads: int(opt['threads'], 'job.options.threads', 1, 256),
    runs: int(opt['runs'], 'job.options.runs', 1, MAX_PROFILE_RUNS),
    warmup: int(opt['warmup'], 'job.options.warmup', 0, MAX_PROFILE_RUNS),
    optLevel: oneOf(opt['optLevel'], ['disabled', 'basic', 'extended', 'all'] as const, 'job.options.optLevel'),
    dims: record(opt['dims'], 'job.options.dims', (x, w) => int(x, w, 0, MAX_DIM)),
  };
  if (options.runs + options.warmup > MAX_PROFILE_RUNS) throw new ProtocolError(`job.options: at most ${MAX_PROFILE_RUNS} profiled runs, warm-up included`);
  const job: ProfileJob = {
    kind: 'profile',
    label: str(o['label'], 'job.label', 4096),
    model: checkBlobRef(o['model'], 'job.model', limits),
    inputs: inputList(o['inputs'], 'job.inputs', limits),
    options,
  };
  return withinJobLimit(job, limits);
}

/** Checks a job field by field (unknown fields, types, ranges, sizes against the limits). */
export function checkJob(v: unknown, limits: DeviceLimits): Job {
  const o = obj(v, 'job');
  if (oneOf(o['kind'], ['bench', 'profile'] as const, 'job.kind') === 'profile') return checkProfileJob(o, limits);
  only(o, ['kind', 'label', 'model', 'compare', 'inputs', 'feedSets', 'options'], 'job');
  const job: BenchJob = {
    kind: 'bench',
    label: str(o['label'], 'job.label', 4096),
    model: checkBlobRef(o['model'], 'job.model', limits),
    inputs: [],
    options: checkOptions(o['options'], 'job.options'),
  };
  if (o['compare'] !== undefined) {
    const c = obj(o['compare'], 'job.compare');
    only(c, ['label', 'model', 'settings'], 'job.compare');
    const s = obj(c['settings'], 'job.compare.settings');
    only(s, ['threads', 'optLevel', 'executionMode', 'ep'], 'job.compare.settings');
    const settings: NonNullable<BenchJob['compare']>['settings'] = {};
    if (s['threads'] !== undefined) settings.threads = int(s['threads'], 'job.compare.settings.threads', 1, 256);
    if (s['optLevel'] !== undefined) settings.optLevel = oneOf(s['optLevel'], ['disabled', 'basic', 'extended', 'all'] as const, 'job.compare.settings.optLevel');
    if (s['executionMode'] !== undefined) settings.executionMode = oneOf(s['executionMode'], ['sequential', 'parallel'] as const, 'job.compare.settings.executionMode');
    if (s['ep'] !== undefined) settings.ep = oneOf(s['ep'], ['auto', 'wasm', 'webgpu'] as const, 'job.compare.settings.ep');
    job.compare = { label: str(c['label'], 'job.compare.label', 4096), model: checkBlobRef(c['model'], 'job.compare.model', limits), settings };
  }
  job.inputs = inputList(o['inputs'], 'job.inputs', limits);
  if (o['feedSets'] !== undefined) {
    const sets = o['feedSets'];
    if (!Array.isArray(sets) || sets.length < 1 || sets.length > 64) throw new ProtocolError('job.feedSets: expected 1 to 64 input sets');
    job.feedSets = sets.map((s, i) => inputList(s, `job.feedSets[${i}]`, limits));
  }
  return withinJobLimit(job, limits);
}

/** Every blob a job needs, each hash once. */
export function jobBlobs(job: Job): BlobRef[] {
  const all = job.kind === 'profile' ? [job.model, ...job.inputs.map((i) => i.blob)] : [job.model, ...(job.compare ? [job.compare.model] : []), ...job.inputs.map((i) => i.blob), ...(job.feedSets ?? []).flat().map((i) => i.blob)];
  const seen = new Map<string, BlobRef>();
  for (const b of all) {
    const had = seen.get(b.hash);
    if (had && had.size !== b.size) throw new ProtocolError(`job: blob ${b.hash.slice(0, 12)} is given two sizes`);
    seen.set(b.hash, b);
  }
  return [...seen.values()];
}

function checkInfo(v: unknown): DeviceInfo {
  const o = obj(v, 'info');
  only(o, ['userAgent', 'hardwareConcurrency', 'deviceMemoryGiB', 'threads', 'simd', 'webgpu', 'webgpuAdapter', 'ort'], 'info');
  const info: DeviceInfo = {
    userAgent: str(o['userAgent'], 'info.userAgent', 512),
    hardwareConcurrency: int(o['hardwareConcurrency'], 'info.hardwareConcurrency', 0, 4096),
    threads: bool(o['threads'], 'info.threads'),
    simd: bool(o['simd'], 'info.simd'),
    webgpu: bool(o['webgpu'], 'info.webgpu'),
    ort: str(o['ort'], 'info.ort', 64),
  };
  if (o['deviceMemoryGiB'] !== undefined) info.deviceMemoryGiB = num(o['deviceMemoryGiB'], 'info.deviceMemoryGiB', 0, 1 << 20);
  if (o['webgpuAdapter'] !== undefined) info.webgpuAdapter = str(o['webgpuAdapter'], 'info.webgpuAdapter', 256);
  return info;
}

function parseJson(text: string, limits: DeviceLimits): Obj {
  if (text.length > limits.maxMessageBytes) throw new ProtocolError(`message of ${text.length} bytes, over the limit of ${limits.maxMessageBytes}`);
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new ProtocolError('message is not JSON');
  }
  return obj(v, 'message');
}

/** A page's message, checked (the server's side). */
export function parsePageMessage(text: string, limits: DeviceLimits): PageMessage {
  const o = parseJson(text, limits);
  switch (o['t']) {
    case 'hello':
      only(o, ['t', 'info'], 'hello');
      return { t: 'hello', info: checkInfo(o['info']) };
    case 'need': {
      only(o, ['t', 'run', 'hashes'], 'need');
      const h = o['hashes'];
      if (!Array.isArray(h) || h.length > 512) throw new ProtocolError('need.hashes: expected at most 512 hashes');
      return { t: 'need', run: str(o['run'], 'need.run', 64, RUN), hashes: h.map((x, i) => str(x, `need.hashes[${i}]`, 64, HASH)) };
    }
    case 'progress':
      only(o, ['t', 'run', 'fraction'], 'progress');
      return { t: 'progress', run: str(o['run'], 'progress.run', 64, RUN), fraction: num(o['fraction'], 'progress.fraction', 0, 1) };
    case 'result':
      only(o, ['t', 'run', 'result'], 'result');
      return { t: 'result', run: str(o['run'], 'result.run', 64, RUN), result: obj(o['result'], 'result.result') };
    case 'error': {
      only(o, ['t', 'run', 'message', 'input'], 'error');
      const m: PageMessage = { t: 'error', run: str(o['run'], 'error.run', 64, RUN), message: str(o['message'], 'error.message', 4096) };
      if (o['input'] !== undefined) m.input = bool(o['input'], 'error.input');
      return m;
    }
    default:
      throw new ProtocolError(`unknown message type ${JSON.stringify(o['t'])?.slice(0, 40)}`);
  }
}

/** The server's message, checked (the page's side). */
export function parseToPageMessage(text: string, limits: DeviceLimits): ToPageMessage {
  const o = parseJson(text, limits);
  switch (o['t']) {
    case 'welcome':
      return { t: 'welcome', name: str(o['name'], 'welcome.name', 64, NAME), limits: checkLimits(o['limits']) };
    case 'job':
      only(o, ['t', 'run', 'job'], 'job');
      return { t: 'job', run: str(o['run'], 'job.run', 64, RUN), job: checkJob(o['job'], limits) };
    case 'cancel':
      return { t: 'cancel', run: str(o['run'], 'cancel.run', 64, RUN) };
    default:
      throw new ProtocolError(`unknown message type ${JSON.stringify(o['t'])?.slice(0, 40)}`);
  }
}

function checkLimits(v: unknown): DeviceLimits {
  const o = obj(v, 'limits');
  const n = (k: keyof DeviceLimits) => int(o[k], `limits.${k}`, 1, Number.MAX_SAFE_INTEGER);
  return { maxBlobBytes: n('maxBlobBytes'), maxJobBytes: n('maxJobBytes'), chunkBytes: n('chunkBytes'), maxMessageBytes: n('maxMessageBytes'), maxCacheBytes: n('maxCacheBytes') };
}

/** A CLI's message, checked (the server's side). */
export function parseControlMessage(text: string, limits: DeviceLimits): ControlMessage {
  const o = parseJson(text, limits);
  switch (o['t']) {
    case 'list':
      only(o, ['t'], 'list');
      return { t: 'list' };
    case 'run':
      only(o, ['t', 'device', 'job'], 'run');
      return { t: 'run', device: str(o['device'], 'run.device', 64, NAME), job: checkJob(o['job'], limits) };
    default:
      throw new ProtocolError(`unknown message type ${JSON.stringify(o['t'])?.slice(0, 40)}`);
  }
}

// ---- chunks ----

export interface ChunkHeader {
  run: string;
  hash: string;
  offset: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** One binary frame: header length (u32 LE), header JSON, then the bytes. */
export function encodeChunk(header: ChunkHeader, bytes: Uint8Array): Uint8Array {
  const h = encoder.encode(JSON.stringify(header));
  const out = new Uint8Array(4 + h.length + bytes.length);
  new DataView(out.buffer).setUint32(0, h.length, true);
  out.set(h, 4);
  out.set(bytes, 4 + h.length);
  return out;
}

/** Splits and checks a chunk frame. The bytes are a view into `frame`. */
export function decodeChunk(frame: Uint8Array, limits: DeviceLimits): { header: ChunkHeader; bytes: Uint8Array } {
  if (frame.length < 4) throw new ProtocolError('chunk frame too short');
  const n = new DataView(frame.buffer, frame.byteOffset, frame.byteLength).getUint32(0, true);
  if (n > 1024 || 4 + n > frame.length) throw new ProtocolError('chunk header length out of range');
  let v: unknown;
  try {
    v = JSON.parse(decoder.decode(frame.subarray(4, 4 + n)));
  } catch {
    throw new ProtocolError('chunk header is not JSON');
  }
  const o = obj(v, 'chunk');
  only(o, ['run', 'hash', 'offset'], 'chunk');
  const header = { run: str(o['run'], 'chunk.run', 64, RUN), hash: str(o['hash'], 'chunk.hash', 64, HASH), offset: int(o['offset'], 'chunk.offset', 0, limits.maxBlobBytes) };
  const bytes = frame.subarray(4 + n);
  if (bytes.length > limits.chunkBytes) throw new ProtocolError(`chunk of ${bytes.length} bytes, over the limit of ${limits.chunkBytes}`);
  return { header, bytes };
}

/**
 * Puts one blob together from its chunks, in order (each chunk must start where the last one ended and the
 * total must not pass the declared size). `done` once every byte is there; the caller then checks the hash.
 */
export class BlobAssembler {
  readonly bytes: Uint8Array;
  private filled = 0;
  constructor(readonly ref: BlobRef) {
    this.bytes = new Uint8Array(ref.size);
  }
  add(offset: number, chunk: Uint8Array): void {
    if (offset !== this.filled) throw new ProtocolError(`blob ${this.ref.hash.slice(0, 12)}: chunk at ${offset}, expected ${this.filled}`);
    if (offset + chunk.length > this.ref.size) throw new ProtocolError(`blob ${this.ref.hash.slice(0, 12)}: more bytes than its declared ${this.ref.size}`);
    this.bytes.set(chunk, offset);
    this.filled += chunk.length;
  }
  get done(): boolean {
    return this.filled === this.ref.size;
  }
}

/** The chunks of a blob, in order (an empty blob is one empty chunk). */
export function* chunksOf(run: string, hash: string, bytes: Uint8Array, limits: DeviceLimits): Generator<Uint8Array> {
  let offset = 0;
  do {
    const end = Math.min(bytes.length, offset + limits.chunkBytes);
    yield encodeChunk({ run, hash, offset }, bytes.subarray(offset, end));
    offset = end;
  } while (offset < bytes.length);
}

/** A short device name from a user agent: `chrome-android`, `safari-ios`, `firefox-linux`. */
export function deviceBaseName(userAgent: string): string {
  const ua = userAgent.toLowerCase();
  const browser = /edg\//.test(ua) ? 'edge' : /firefox\//.test(ua) ? 'firefox' : /headlesschrome/.test(ua) ? 'headless-chrome' : /chrom(e|ium)\//.test(ua) ? 'chrome' : /safari\//.test(ua) ? 'safari' : 'browser';
  const os = /android/.test(ua) ? 'android' : /iphone|ipad|ipod/.test(ua) ? 'ios' : /mac os x/.test(ua) ? 'mac' : /windows/.test(ua) ? 'windows' : /cros/.test(ua) ? 'chromeos' : /linux/.test(ua) ? 'linux' : 'unknown';
  return `${browser}-${os}`;
}

/** A name asked for in the page's URL (`?name=pixel7`), if it is a usable one. */
export function checkedName(name: string | null | undefined): string | undefined {
  return name && NAME.test(name) && name !== 'auto' ? name : undefined;
}
