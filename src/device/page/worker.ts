/**
 * Where a device page runs a job: in a Web Worker with its own onnxruntime-web (threads fixed per worker).
 * It calls runtime/bench.ts's `benchmark` and `compare` — the code local `inferopt bench` uses, statistics
 * included — on the model bytes the page received and checked, or, for a profile job, runtime/profile-trace's
 * `printedProfileEvents` (what local `profile --backend wasm` runs).
 */
import { InputError } from '../../errors.js';
import { loadModel } from '../../ir/io.js';
import { Tensor } from '../../ir/tensor.js';
import { benchmark, compare, type BenchOptions } from '../../runtime/bench.js';
import { randomInputs, resolveDims, type InputValue } from '../../runtime/inputs.js';
import { printedProfileEvents } from '../../runtime/profile-trace.js';
import { Session, type ExecutionProvider } from '../../runtime/session.js';
import { compareTensors, type Tolerance } from '../../verify/compare.js';
import { chooseProvider, type GpuLike, type Job, type JobInput, type OutputsVsWasm, type ProfileJob } from '../protocol.js';

export interface ToWorker {
  run: string;
  job: Job;
  /** hash → bytes, every blob the job names. */
  blobs: Record<string, Uint8Array>;
}

export type FromWorker =
  | { t: 'progress'; run: string; fraction: number }
  | { t: 'result'; run: string; result: unknown }
  | { t: 'error'; run: string; message: string; input?: boolean };

const post = (m: FromWorker) => (self as unknown as Worker).postMessage(m);

/** Trace events a profile sends back: the run and kernel events, with the fields runtime/profile-trace reads. */
function slimEvent(e: unknown): unknown {
  const x = e as { cat?: string; name?: string; ph?: string; ts?: number; dur?: number; pid?: number; tid?: number; args?: { op_name?: string; provider?: string } };
  const keep = (x.cat === 'Session' && x.name === 'model_run') || (x.cat === 'Node' && x.name?.endsWith('_kernel_time'));
  if (!keep) return undefined;
  const args = x.args?.op_name !== undefined ? { op_name: x.args.op_name, ...(x.args.provider ? { provider: x.args.provider } : {}) } : undefined;
  return { cat: x.cat, name: x.name, ph: x.ph, ts: x.ts, dur: x.dur, pid: x.pid, tid: x.tid, ...(args ? { args } : {}) };
}

/** onnxruntime-web's profiler on the bytes received, on the inputs sent: its printed trace, slimmed. */
async function profileJob(run: string, job: ProfileJob, blobs: Record<string, Uint8Array>): Promise<unknown> {
  const o = job.options;
  const feeds = Object.fromEntries(job.inputs.map((i) => [i.name, new Tensor(i.dtype, i.dims, blobs[i.blob.hash]!, i.name)]));
  post({ t: 'progress', run, fraction: 0 });
  const events = (await printedProfileEvents(blobs[job.model.hash]!, feeds, { threads: o.threads, optLevel: o.optLevel, dims: o.dims }, o.runs, o.warmup)).map(slimEvent).filter((e) => e !== undefined);
  post({ t: 'progress', run, fraction: 1 });
  return { model: job.label, threads: o.threads, runs: o.runs, warmup: o.warmup, events, executionProvider: 'wasm' };
}

/** verify's default tolerance: |webgpu − wasm| ≤ atol + rtol·|wasm| for every element. */
const VS_WASM: Tolerance = { atol: 1e-4, rtol: 1e-3 };

/**
 * A WebGPU run's outputs against onnxruntime-web's wasm on the same inputs (the first input set of the
 * bench), each in a fresh session: a GPU's shaders can differ from the CPU kernels (precision, unsupported
 * ops falling back), and a fast wrong answer is no result.
 */
async function outputsVsWasm(model: Uint8Array, opts: BenchOptions): Promise<OutputsVsWasm> {
  const m = loadModel(model);
  const given = opts.feedSets?.[0] ?? {};
  const shapes = { ...opts.shapes };
  for (const [name, t] of Object.entries(given)) shapes[name] = [...t.dims];
  const spec = { shapes, dims: opts.dims ?? {}, seed: opts.seed ?? 0, values: { ...opts.values, ...given } };
  const feeds = randomInputs(m, spec);
  const dims = resolveDims(m, spec);
  const outputs = async (ep: ExecutionProvider) => {
    const session = await Session.create(m, { backend: 'wasm', executionProvider: ep, threads: opts.threads ?? 2, optLevel: opts.optLevel ?? 'all', dims });
    try {
      return await session.run(feeds);
    } finally {
      await session.release();
    }
  };
  const want = await outputs('wasm');
  const got = await outputs('webgpu');
  const rows = Object.entries(want).map(([name, ref]) => {
    const cand = got[name];
    if (!cand) return { name, ok: false, problem: 'missing from the webgpu run' };
    const d = compareTensors(name, ref, cand, VS_WASM);
    return { name, maxAbs: d.maxAbs, maxRel: d.maxRel, cosine: d.cosine, mismatches: d.mismatches, count: d.count, ...(d.top1 !== undefined ? { top1: d.top1 } : {}), ...(d.problem ? { problem: d.problem } : {}), ok: !d.problem && d.mismatches === 0 };
  });
  return { tolerance: VS_WASM, ok: rows.every((r) => r.ok), outputs: rows };
}

async function runJob({ run, job, blobs }: ToWorker): Promise<unknown> {
  if (job.options.threads > 1 && !(self as { crossOriginIsolated?: boolean }).crossOriginIsolated) {
    throw new InputError(`this page is not cross-origin isolated, so onnxruntime-web cannot run ${job.options.threads} threads here; use --threads 1`);
  }
  if (job.kind === 'profile') return profileJob(run, job, blobs);
  const o = job.options;
  // the execution provider: WebGPU only where this browser has an adapter (results say which one ran)
  const provider = await chooseProvider(o.ep ?? 'wasm', (self.navigator as unknown as { gpu?: GpuLike }).gpu);
  const tensor = (i: JobInput) => new Tensor(i.dtype, i.dims, blobs[i.blob.hash]!, i.name);
  const values: Record<string, InputValue> = { ...o.values };
  for (const i of job.inputs) values[i.name] = tensor(i);
  const opts: BenchOptions = {
    backend: 'wasm',
    executionProvider: provider.ep,
    threads: o.threads,
    warmup: o.warmup,
    optLevel: o.optLevel,
    executionMode: o.executionMode,
    shapes: o.shapes,
    dims: o.dims,
    seed: o.seed,
    values,
    onProgress: (fraction) => post({ t: 'progress', run, fraction }),
    ...(o.runs !== undefined ? { runs: o.runs } : {}),
    ...(o.seconds !== undefined ? { seconds: o.seconds } : {}),
    ...(o.batch !== undefined ? { batch: o.batch } : {}),
    ...(job.feedSets ? { feedSets: job.feedSets.map((set) => Object.fromEntries(set.map((i) => [i.name, tensor(i)]))) } : {}),
  };
  const model = blobs[job.model.hash]!;
  const ran = { executionProvider: provider.ep, executionProviderNote: provider.note };
  const vsWasm = async (bytes: Uint8Array) => (provider.ep === 'webgpu' ? { outputsVsWasm: await outputsVsWasm(bytes, opts) } : {});
  if (!job.compare) {
    const r = await benchmark(model, opts);
    return { ...r, model: job.label, ...ran, ...(await vsWasm(model)) };
  }
  const other = blobs[job.compare.model.hash]!;
  // B on its own execution provider when it names one (WebGPU timed against wasm, side by side)
  const { ep: bWanted, ...bSettings } = job.compare.settings;
  const bProvider = bWanted ? await chooseProvider(bWanted, (self.navigator as unknown as { gpu?: GpuLike }).gpu) : provider;
  const bRan = { executionProvider: bProvider.ep, executionProviderNote: bProvider.note };
  const r = await compare(model, other, opts, { ...bSettings, executionProvider: bProvider.ep });
  const bVsWasm = bProvider.ep === 'webgpu' ? { outputsVsWasm: await outputsVsWasm(other, opts) } : {};
  return { ...r, a: { ...r.a, model: job.label, ...ran, ...(await vsWasm(model)) }, b: { ...r.b, model: job.compare.label, ...bRan, ...bVsWasm }, ...ran };
}

// onnxruntime-web starts its pthreads from this same script (its import.meta.url) and names them
// em-pthread: those workers are its own, and keep its message handler
if (!(self as { name?: string }).name?.startsWith('em-pthread')) {
  self.onmessage = async (e: MessageEvent<ToWorker>) => {
    const { run } = e.data;
    try {
      post({ t: 'result', run, result: await runJob(e.data) });
    } catch (err) {
      post({ t: 'error', run, message: err instanceof Error ? err.message : String(err), ...(err instanceof InputError ? { input: true } : {}) });
    }
  };
}
