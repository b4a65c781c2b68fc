/**
 * The only module that talks to ONNX Runtime. onnxruntime-node (native CPU) and onnxruntime-web (wasm, run
 * in Node) sit behind one interface; inputs and outputs are inferopt Tensors.
 */
import { InputError } from '../errors.js';
import { DataType, dtypeFromName, dtypeInfo, dtypeName } from '../ir/dtype.js';
import type { Model } from '../ir/graph.js';
import { loadModel, modelFileOrBytes } from '../ir/io.js';
import { Tensor } from '../ir/tensor.js';
import type { Dim } from '../ir/types.js';
import { checkThreads } from '../util/limits.js';

import { capturePrinted, DEFAULT_BACKEND, loadOrt, ortPackageVersion, type Backend, type Ort } from './ort.js';

// Both packages share the onnxruntime-common API; typed through the node package.
type OrtSession = import('onnxruntime-node').InferenceSession;
type OrtTensor = import('onnxruntime-node').Tensor;

export { DEFAULT_BACKEND, type Backend };
export type OptLevel = 'disabled' | 'basic' | 'extended' | 'all';

/** onnxruntime-web's execution providers inferopt runs on. */
export type ExecutionProvider = 'wasm' | 'webgpu';

export interface SessionOptions {
  backend?: Backend;
  /** Intra-op threads (default: 2, this project's reference machine). */
  threads?: number;
  interOpThreads?: number;
  optLevel?: OptLevel;
  executionMode?: 'sequential' | 'parallel';
  /** Values for symbolic dimensions, written into the model (ORT node ignores freeDimensionOverrides). */
  dims?: Record<string, number>;
  /** Turn ORT's profiler on; the trace file starts with this prefix. */
  profilePrefix?: string;
  /** Where ORT should write the model after its own optimizations. */
  optimizedModelPath?: string;
  /**
   * Write the optimized model's initializers of 1 KiB and more to `<optimizedModelPath>.data` beside it (node
   * backend): ORT then does not build the whole optimized model as one protobuf in memory (for a 110 MB model
   * that was 80 MB more at its peak, and a second longer).
   */
  optimizedModelExternalData?: boolean;
  /**
   * ORT's weight prepacking (node backend; default on). Off, a session that writes its optimized model holds
   * the weights once instead of twice (packed, and as written): 80 MB less for a 110 MB int8 BERT.
   */
  prepacking?: boolean;
  logSeverity?: 0 | 1 | 2 | 3 | 4;
  /** onnxruntime-web's execution provider (wasm backend): 'wasm' (CPU, default) or 'webgpu' (where the browser has an adapter). */
  executionProvider?: ExecutionProvider;
  /** How errors name the model (default: its file, when it has one). */
  label?: string;
  /**
   * Whether ORT's pool threads spin (busy-wait) for work instead of sleeping (node backend; ORT's default:
   * true, and they go on spinning after a run returns). `'run'`: they spin during a run and stop as it returns
   * (ORT's session.force_spinning_stop), which is what sessions timed in turn in one process need: a session's
   * idle spinning threads take the cores from the other one while it runs (two 2-thread ResNet-18 sessions
   * timed in turn ran at 2× their own latency), while never spinning (false) slows a small model's every
   * run on several threads (Fashion-MNIST CNN, batch 1, 2 threads: see bench/spinning.ts).
   */
  spinning?: boolean | 'run';
}

let webThreads = -1;

export function ortModule(backend: Backend): Ort {
  return loadOrt(backend);
}

/** Threads onnxruntime-web runs with in this process (fixed at its first session), or undefined before that. */
export function wasmThreads(): number | undefined {
  return webThreads === -1 ? undefined : webThreads;
}

export function ortVersion(backend: Backend): string {
  return ortPackageVersion(backend);
}

/** Run failures reach the caller as RuntimeErrors; ORT's own log line would be a second line on stderr. */
const QUIET_RUN = { logSeverityLevel: 4 } as const;

/** A loaded inference session. */
export class Session {
  /**
   * Outputs fetched when the caller names none: the tensor ones. ORT's JS API converts only tensors (the
   * native binding crashes the process on a sequence or optional output), so the others are never fetched.
   */
  private readonly tensorOutputs: string[];
  private readonly nonTensorOutputs: Set<string>;

  private constructor(
    readonly backend: Backend,
    private readonly ort: Ort,
    private readonly session: OrtSession,
    /** Time ORT took to create the session (ms). */
    readonly createMs: number,
    /** The model as errors name it (its file, or a label). */
    readonly label: string,
  ) {
    const meta = session.outputMetadata ?? [];
    this.nonTensorOutputs = new Set(meta.filter((m) => !m.isTensor).map((m) => m.name));
    this.tensorOutputs = session.outputNames.filter((n) => !this.nonTensorOutputs.has(n));
  }

  get inputNames(): readonly string[] {
    return this.session.inputNames;
  }

  get outputNames(): readonly string[] {
    return this.session.outputNames;
  }

  static async create(model: Model | string | Uint8Array, opts: SessionOptions = {}): Promise<Session> {
    const backend = opts.backend ?? DEFAULT_BACKEND;
    const ort = ortModule(backend);
    const threads = checkThreads('threads', opts.threads ?? 2);
    if (opts.interOpThreads !== undefined) checkThreads('interOpThreads', opts.interOpThreads);
    if (backend === 'wasm' && webThreads !== threads) {
      // onnxruntime-web reads numThreads once, when its wasm module starts; later changes are ignored
      if (webThreads !== -1) {
        throw new InputError(`onnxruntime-web already runs with ${webThreads} thread(s) in this process; its thread count cannot change to ${threads}`);
      }
      ort.env.wasm.numThreads = threads;
      webThreads = threads;
    }
    const so: import('onnxruntime-node').InferenceSession.SessionOptions = {
      graphOptimizationLevel: opts.optLevel ?? 'all',
      executionMode: opts.executionMode ?? 'sequential',
      // errors reach the caller in the RuntimeError; ORT's own log lines would add a second stderr line
      logSeverityLevel: opts.logSeverity ?? 4,
    };
    // onnxruntime-node and -web share onnxruntime-common's backend registry: with no provider named, a "wasm"
    // session in a process that has loaded the native binding runs on the native 'cpu' backend (higher priority)
    if (backend === 'wasm') so.executionProviders = ['wasm'];
    if (backend === 'node') {
      so.intraOpNumThreads = threads;
      so.interOpNumThreads = opts.interOpThreads ?? 1;
      // ORT's config keys session.intra_op.allow_spinning / session.inter_op.allow_spinning
      const session: Record<string, unknown> = {};
      if (opts.spinning === false) Object.assign(session, { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } });
      if (opts.spinning === 'run') session['force_spinning_stop'] = '1';
      if (opts.optimizedModelPath && opts.optimizedModelExternalData) {
        session['optimized_model_external_initializers_file_name'] = `${opts.optimizedModelPath.split(/[\\/]/).pop()}.data`;
        session['optimized_model_external_initializers_min_size_in_bytes'] = '1024';
      }
      if (opts.prepacking === false) session['disable_prepacking'] = '1';
      if (Object.keys(session).length) so.extra = { session };
    }
    if (opts.executionProvider === 'webgpu') {
      if (backend !== 'wasm') throw new InputError('the webgpu execution provider is onnxruntime-web\'s: it needs the wasm backend (a device page)');
      so.executionProviders = ['webgpu'];
    }
    if (opts.profilePrefix) {
      so.enableProfiling = true;
      so.profileFilePrefix = opts.profilePrefix;
    }
    if (opts.optimizedModelPath) so.optimizedModelFilePath = opts.optimizedModelPath;
    // last before the load: a big in-memory model is a temp file from here until ORT has read it
    const { source, done } = prepareModel(model, opts.dims);
    const t0 = performance.now();
    let session: OrtSession;
    try {
      session =
        typeof source === 'string' ? await ort.InferenceSession.create(source, so) : await ort.InferenceSession.create(source, so);
    } catch (e) {
      throw new RuntimeError(`ONNX Runtime (${backend}) could not load ${modelLabel(model, opts)}: ${firstLine(e)}`, firstLine(e));
    } finally {
      done();
    }
    const created = new Session(backend, ort, session, performance.now() - t0, modelLabel(model, opts));
    if (created.tensorOutputs.length === 0) {
      await session.release();
      throw new RuntimeError(
        `ONNX Runtime's JavaScript API returns tensors only, and no output of this model is a tensor (${[...created.nonTensorOutputs].join(', ')})`,
      );
    }
    return created;
  }

  /** The outputs to fetch: those asked for (tensors only), else every tensor output. */
  private fetchList(outputNames?: readonly string[]): string[] {
    if (!outputNames) return this.tensorOutputs;
    const bad = outputNames.find((n) => this.nonTensorOutputs.has(n));
    if (bad) throw new RuntimeError(`output '${bad}' is a sequence, map or optional; ONNX Runtime's JavaScript API returns tensors only`);
    return [...outputNames];
  }

  /** Runs the model. Feeds are by input name; returns every output (or those named) as Tensors. */
  async run(feeds: Record<string, Tensor>, outputNames?: readonly string[]): Promise<Record<string, Tensor>> {
    const ortFeeds: Record<string, OrtTensor> = {};
    for (const [name, t] of Object.entries(feeds)) ortFeeds[name] = toOrt(this.ort, t);
    const fetch = this.fetchList(outputNames);
    let res: Record<string, OrtTensor>;
    try {
      res = (await this.session.run(ortFeeds, fetch, QUIET_RUN)) as Record<string, OrtTensor>;
    } catch (e) {
      throw this.runError(e, feeds);
    }
    const out: Record<string, Tensor> = {};
    for (const [name, t] of Object.entries(res)) out[name] = fromOrt(t, name);
    return out;
  }

  /** Runs once with ORT's own tensors prepared ahead (for benchmarks: no conversion in the timed loop). */
  prepareFeeds(feeds: Record<string, Tensor>): () => Promise<unknown> {
    const ortFeeds: Record<string, OrtTensor> = {};
    for (const [name, t] of Object.entries(feeds)) ortFeeds[name] = toOrt(this.ort, t);
    const fetch = this.fetchList();
    return () =>
      this.session.run(ortFeeds, fetch, QUIET_RUN).catch((e: unknown) => {
        throw this.runError(e, feeds);
      });
  }

  /** A failed run, naming the model and what it was fed (each input's type and shape). */
  private runError(e: unknown, feeds: Record<string, Tensor>): RuntimeError {
    const fed = Object.entries(feeds).map(([name, t]) => `${name} ${dtypeName(t.dtype)}[${t.dims.join('x')}]`);
    return new RuntimeError(`ONNX Runtime (${this.backend}) failed to run ${this.label} on ${fed.length ? fed.join(', ') : 'no inputs'}: ${firstLine(e)}`, firstLine(e));
  }

  /** Stops profiling; returns nothing (ORT writes `<prefix>_<date>.json`; see runtime/profile). */
  endProfiling(): void {
    this.session.endProfiling();
  }

  /**
   * onnxruntime-web (wasm backend): stops profiling and returns the trace events, which its wasm build prints
   * (one JSON object a line) instead of writing a file. Other lines printed meanwhile are dropped.
   */
  endProfilingPrinted(): unknown[] {
    let text = '';
    capturePrinted(() => this.session.endProfiling(), (t) => (text += t));
    const events: unknown[] = [];
    for (const line of text.split('\n')) {
      const t = line.trim().replace(/,$/, '');
      if (!t.startsWith('{')) continue;
      try {
        events.push(JSON.parse(t));
      } catch {
        // not an event (node names with quotes make ORT's JSON unreadable: runtime/profile renames them first)
      }
    }
    return events;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

export class RuntimeError extends InputError {
  constructor(
    message: string,
    /** ONNX Runtime's own first line, when the error came from it. */
    readonly ortMessage?: string,
  ) {
    super(message);
  }
}

/** ONNX Runtime's own reason for an error (without inferopt's naming of the model and inputs). */
export function ortReason(e: unknown): string {
  return e instanceof RuntimeError && e.ortMessage !== undefined ? e.ortMessage : firstLine(e);
}

/** How errors name a model: the label given, else its file, else "a model in memory". */
function modelLabel(model: Model | string | Uint8Array, opts: SessionOptions): string {
  if (opts.label) return opts.label;
  if (typeof model === 'string') return model;
  if (!(model instanceof Uint8Array) && model.file) return model.file;
  return 'a model in memory (no file)';
}

function firstLine(e: unknown): string {
  const m = e instanceof Error ? e.message : String(e);
  return m.split('\n')[0]!.slice(0, 500);
}

/**
 * Gives ORT a path (fast: it reads external data itself) or bytes, untouched unless symbolic dims are to be
 * fixed: those are written into the graph inputs' dim_param, on a copy made through the encoder.
 */
function prepareModel(model: Model | string | Uint8Array, dims?: Record<string, number>): { source: string | Uint8Array; done(): void } {
  const hasDims = dims && Object.keys(dims).length > 0;
  if (!hasDims && (typeof model === 'string' || model instanceof Uint8Array)) return { source: model, done: () => {} }; // ORT gets them as given
  const m = typeof model === 'string' || model instanceof Uint8Array ? loadModel(model) : model;
  // a big in-memory model goes to ORT as a temp file, not as one more copy of it in memory
  if (!hasDims) return modelFileOrBytes(m);
  const saved = m.graph.inputs.map((v) => v.type);
  try {
    for (const v of m.graph.inputs) {
      if (v.type?.kind === 'tensor' && v.type.shape) {
        v.type = { ...v.type, shape: v.type.shape.map((d: Dim) => (typeof d === 'string' && dims![d] !== undefined ? dims![d]! : d)) };
      }
    }
    return modelFileOrBytes(m);
  } finally {
    m.graph.inputs.forEach((v, i) => (v.type = saved[i]));
  }
}

const ORT_TYPE: Partial<Record<DataType, string>> = {
  [DataType.FLOAT]: 'float32',
  [DataType.DOUBLE]: 'float64',
  [DataType.FLOAT16]: 'float16',
  [DataType.INT8]: 'int8',
  [DataType.UINT8]: 'uint8',
  [DataType.INT16]: 'int16',
  [DataType.UINT16]: 'uint16',
  [DataType.INT32]: 'int32',
  [DataType.UINT32]: 'uint32',
  [DataType.INT64]: 'int64',
  [DataType.UINT64]: 'uint64',
  [DataType.BOOL]: 'bool',
  [DataType.STRING]: 'string',
  [DataType.INT4]: 'int4',
  [DataType.UINT4]: 'uint4',
};

export function toOrt(ort: Ort, t: Tensor): OrtTensor {
  const type = ORT_TYPE[t.dtype];
  if (!type) throw new RuntimeError(`input '${t.name}': ONNX Runtime (JS) has no tensor type for ${dtypeName(t.dtype)}`);
  if (t.dtype === DataType.STRING) {
    const strs = (t.strings ?? []).map((s) => new TextDecoder().decode(s));
    return new ort.Tensor('string', strs, t.dims);
  }
  let data: ArrayBufferView;
  if (t.dtype === DataType.BOOL) data = t.bytes;
  else if (t.dtype === DataType.FLOAT16) data = t.view() as Uint16Array;
  else if (t.dtype === DataType.INT4 || t.dtype === DataType.UINT4) data = t.bytes;
  else data = t.view();
  return new ort.Tensor(type as 'float32', data as Float32Array, t.dims);
}

export function fromOrt(t: OrtTensor, name = ''): Tensor {
  const dtype = t.type === 'float16' ? DataType.FLOAT16 : dtypeFromName(t.type);
  const dims = [...t.dims];
  if (dtype === DataType.STRING) {
    const enc = new TextEncoder();
    return new Tensor(dtype, dims, new Uint8Array(), name, (t.data as string[]).map((s) => enc.encode(s)));
  }
  const d = t.data as ArrayBufferView;
  let bytes = new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
  if (dtype === DataType.BOOL && !(d instanceof Uint8Array)) bytes = Uint8Array.from(t.data as ArrayLike<number>, (x) => (x ? 1 : 0));
  void dtypeInfo;
  return new Tensor(dtype, dims, bytes, name);
}
