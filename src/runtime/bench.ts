/**
 * Latency benchmarks on ONNX Runtime: one model (`benchmark`) or two side by side (`compare`, runs
 * interleaved in a seeded random order per round, so that machine load drifting over time hits both models
 * alike; the B/A ratio of medians comes with a paired bootstrap 95% interval).
 */
import { InputError } from '../errors.js';
import { GraphBuilder } from '../ir/builder.js';
import { DataType, dtypeName } from '../ir/dtype.js';
import { Model } from '../ir/graph.js';
import { loadModel } from '../ir/io.js';
import type { Tensor } from '../ir/tensor.js';
import { peakRssBytes, rssBytes } from '../util/memory.js';
import { checkRuns, checkSeconds, checkThreads } from '../util/limits.js';
import { rng } from '../util/random.js';
import { bootstrapMedianRatio, summarize, type RatioInterval, type Summary } from '../util/stats.js';
import { randomInputs, requireSizedDims, resolveDims, runtimeInputs, type InputValue } from './inputs.js';
import { DEFAULT_BACKEND, Session, type Backend, type ExecutionProvider, type OptLevel, type SessionOptions } from './session.js';

export interface BenchOptions {
  backend?: Backend;
  /** Intra-op threads (default 2). */
  threads?: number;
  optLevel?: OptLevel;
  executionMode?: 'sequential' | 'parallel';
  /** Untimed runs before measuring (default 5). */
  warmup?: number;
  /** Timed runs (default 50 unless `seconds` is given). With `compare`, rounds: each model runs once per round. */
  runs?: number;
  /** Measure for this many seconds instead of a fixed count (at least 2 runs). */
  seconds?: number;
  /** Input shapes by name (override the declared ones). */
  shapes?: Record<string, number[]>;
  /** Values for symbolic dimensions; written into the model before the session is made. */
  dims?: Record<string, number>;
  /** Seed of the random inputs (default 0). */
  seed?: number;
  /** Inputs to use instead of random ones (inputs left out are made up). */
  feeds?: Record<string, Tensor>;
  /** Values for inputs (`--input sr=16000`): a number fills the input's shape; see InputSpec.values. */
  values?: Record<string, InputValue>;
  /**
   * Several input sets, used in turn (run i uses set i mod n): real batches drawn from a dataset. Dims equal
   * in every set are fixed in the model; dims that vary stay symbolic. Inputs left out are made up.
   */
  feedSets?: Record<string, Tensor>[];
  /** Samples per inference for samples/s (default: the first input's leading dim when its rank is ≥ 2). */
  batch?: number;
  /** Called after each timed run (or round) with the fraction done, 0..1. */
  onProgress?: (fraction: number) => void;
  /** onnxruntime-web's execution provider (wasm backend; default wasm). */
  executionProvider?: ExecutionProvider;
  /** ORT's pool threads spinning (SessionOptions.spinning; default ORT's own). `compare` uses PAIRED_SPINNING. */
  spinning?: SessionOptions['spinning'];
}

/**
 * How `compare` lets ORT's pool threads spin in both sessions, and what optimize times a model alone with
 * (so that its p50 is the same kind of figure as the paired ones): during a run, not after it. See
 * SessionOptions.spinning and bench/spinning.ts.
 */
export const PAIRED_SPINNING: SessionOptions['spinning'] = 'run';

export interface BenchResult {
  /** The file benchmarked, or `<model>` for an in-memory model. */
  model: string;
  /** onnxruntime-web's execution provider, when one was asked for (a device page). */
  executionProvider?: ExecutionProvider;
  /**
   * One-off start-up of the runtime in this process (library load, wasm compile, thread pools), measured
   * on a one-node model before the real session so that it is not counted as the model's creation time or
   * memory; 0 when the runtime had already started.
   */
  runtimeStartMs: number;
  backend: Backend;
  threads: number;
  optLevel: OptLevel;
  executionMode: 'sequential' | 'parallel';
  /** The inputs timed (the first set's, with `feedSets`). */
  inputs: { name: string; type: string; shape: number[] }[];
  /** With several input sets: each distinct set of shapes (`x=1x3x48x320`) and how many sets had it. */
  shapes?: { shapes: string; count: number }[];
  batch: number;
  sessionCreateMs: number;
  warmup: number;
  /** Latency of the timed runs (ms). */
  latencyMs: Summary;
  throughput: { inferencesPerSec: number; samplesPerSec: number };
  memory: {
    /** The process's peak resident set size so far (includes whatever the process did before). */
    peakRssBytes: number;
    /** Highest RSS seen while the session was created and warmed up, minus the RSS just before creation. */
    sessionRssBytes: number;
  };
  /** Every timed run's latency (ms), in order. */
  timesMs: number[];
}

export interface CompareResult {
  a: BenchResult;
  b: BenchResult;
  /** median(B) / median(A): below 1 means B is faster. */
  ratio: RatioInterval;
  /** Which model ran at each timed step, in order (warm-up excluded). */
  order: ('A' | 'B')[];
}

const DEFAULT_WARMUP = 5;
const DEFAULT_RUNS = 50;
const MIN_TIMED_RUNS = 2;

/** A model with its session, feeds and measurements. */
interface Contestant {
  label: string;
  session: Session;
  runOnce: () => Promise<unknown>;
  inputs: BenchResult['inputs'];
  shapes?: BenchResult['shapes'];
  batch: number;
  runtimeStartMs: number;
  sessionRssBytes: number;
  /** Untimed runs made (at least one per input set). */
  warmup: number;
  times: number[];
}

function checkOptions(opts: BenchOptions): void {
  if (opts.runs !== undefined && opts.seconds !== undefined) throw new InputError('give either runs or seconds, not both');
  // the bounds the CLI's --runs/--warmup/--seconds/--threads flags apply (src/util/limits.ts)
  if (opts.runs !== undefined) checkRuns('runs', opts.runs);
  if (opts.seconds !== undefined) checkSeconds('seconds', opts.seconds);
  if (opts.warmup !== undefined) checkRuns('warmup', opts.warmup, 0);
  if (opts.threads !== undefined) checkThreads('threads', opts.threads);
}

function sessionOptions(opts: BenchOptions, dims: Record<string, number>, spinning?: SessionOptions['spinning']): SessionOptions {
  return {
    backend: opts.backend ?? DEFAULT_BACKEND,
    threads: opts.threads ?? 2,
    optLevel: opts.optLevel ?? 'all',
    executionMode: opts.executionMode ?? 'sequential',
    dims,
    ...(spinning !== undefined ? { spinning } : {}),
    ...(opts.executionProvider ? { executionProvider: opts.executionProvider } : {}),
  };
}

const startedRuntimes = new Set<string>();

/** Starts the backend once per process with a one-node model; returns the time that took (0 if already up). */
async function startRuntime(opts: SessionOptions): Promise<number> {
  const key = `${opts.backend}/${opts.threads}`;
  if (startedRuntimes.has(key)) return 0;
  const b = new GraphBuilder();
  b.output(b.op('Identity', [b.input('x', DataType.FLOAT, [1])]), 'y');
  const t0 = performance.now();
  const s = await Session.create(b.model({ opset: 13 }), opts);
  await s.release();
  startedRuntimes.add(key);
  return performance.now() - t0;
}

/**
 * Loads the model (for its declared inputs), makes the feeds, fixes symbolic dims, creates the session and
 * warms it up, watching RSS from just before creation to the end of warm-up.
 */
async function prepare(source: Model | string | Uint8Array, opts: BenchOptions): Promise<Contestant> {
  const model = source instanceof Model ? source : loadModel(source);
  const sets = opts.feedSets?.length ? opts.feedSets : [opts.feeds ?? {}];
  if (opts.feedSets?.length && opts.feeds) throw new InputError('give either feeds or feedSets, not both');
  const names = runtimeInputs(model).map((v) => v.name);
  for (const name of [...new Set(sets.flatMap((f) => Object.keys(f))), ...Object.keys(opts.shapes ?? {})]) {
    if (!names.includes(name)) throw new InputError(`the model has no input '${name}' (its inputs: ${names.join(', ') || 'none'})`);
  }
  // dims that differ between input sets stay symbolic in the session; the rest are fixed
  const specs = sets.map((given) => {
    const shapes = { ...opts.shapes };
    for (const [name, t] of Object.entries(given)) shapes[name] = t.dims;
    return { shapes, dims: opts.dims ?? {}, seed: opts.seed ?? 0, values: { ...opts.values, ...given } };
  });
  requireSizedDims(model, specs[0]!);
  const allFeeds = specs.map((spec) => randomInputs(model, spec));
  const perSet = specs.map((spec) => resolveDims(model, spec));
  const dims: Record<string, number> = {};
  for (const [k, v] of Object.entries(perSet[0]!)) if (perSet.every((d) => d[k] === v)) dims[k] = v;
  // a path with nothing to fix goes to ORT as a path: session creation then includes ORT's own parsing
  const sessionSource = typeof source === 'string' && Object.keys(dims).length === 0 ? source : model;
  const runtimeStartMs = await startRuntime(sessionOptions(opts, {}));
  const memory = new RssSampler();
  const rssBefore = memory.now();
  let session: Session;
  try {
    session = await Session.create(sessionSource, sessionOptions(opts, dims, opts.spinning));
  } catch (e) {
    memory.stop();
    throw e;
  }
  const runners = allFeeds.map((f) => session.prepareFeeds(f));
  let next = 0;
  const runOnce = () => runners[next++ % runners.length]!();
  const warmup = Math.max(opts.warmup ?? DEFAULT_WARMUP, runners.length > 1 ? runners.length : 0);
  try {
    for (let i = 0; i < warmup; i++) await runOnce();
  } catch (e) {
    await session.release();
    throw e;
  } finally {
    memory.stop();
  }
  next = 0; // every contestant starts the timed runs on the same set
  const feeds = allFeeds[0]!;
  const inputs = runtimeInputs(model).map((v) => {
    const t = feeds[v.name]!;
    return { name: v.name, type: dtypeName(t.dtype), shape: [...t.dims] };
  });
  let shapes: BenchResult['shapes'];
  if (allFeeds.length > 1) {
    const counts = new Map<string, number>();
    for (const f of allFeeds) {
      const key = shapesText(f);
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    shapes = [...counts].map(([k, count]) => ({ shapes: k, count }));
  }
  const first = inputs[0]?.shape;
  const batch = opts.batch ?? (first && first.length >= 2 ? first[0]! : 1);
  const label = typeof source === 'string' ? source : '<model>';
  return { label, session, runOnce, inputs, ...(shapes ? { shapes } : {}), batch, runtimeStartMs, sessionRssBytes: Math.max(0, memory.peak - rssBefore), warmup, times: [] };
}

/** `x=1x3x48x320, mask=1x128`: the shapes of one input set, as the flags write them. */
export function shapesText(feeds: Record<string, Pick<Tensor, 'dims'>>): string {
  return Object.entries(feeds)
    .map(([name, t]) => `${name}=${t.dims.length ? t.dims.join('x') : 'scalar'}`)
    .join(', ');
}

/** Tracks the highest RSS seen, sampled on a timer and at explicit points. */
class RssSampler {
  peak = 0;
  private timer: ReturnType<typeof setInterval>;
  constructor(intervalMs = 25) {
    this.timer = setInterval(() => this.sample(), intervalMs);
    (this.timer as { unref?: () => void }).unref?.();
  }
  now(): number {
    const rss = rssBytes();
    this.peak = Math.max(this.peak, rss);
    return rss;
  }
  sample(): void {
    this.now();
  }
  stop(): void {
    clearInterval(this.timer);
    this.sample();
  }
}

async function timeOnce(c: Contestant): Promise<void> {
  const t0 = performance.now();
  await c.runOnce();
  c.times.push(performance.now() - t0);
}

/**
 * Repeats `step` for `runs` steps or until `seconds` have passed (at least MIN_TIMED_RUNS), reporting progress;
 * `enough` (after each step) ends it sooner.
 */
async function repeat(step: () => Promise<void>, opts: BenchOptions, enough: () => boolean = () => false): Promise<void> {
  const start = performance.now();
  if (opts.seconds !== undefined) {
    const budget = opts.seconds * 1000;
    for (let i = 0; ; i++) {
      await step();
      const elapsed = performance.now() - start;
      opts.onProgress?.(Math.min(1, elapsed / budget));
      if (i + 1 >= MIN_TIMED_RUNS && (elapsed >= budget || enough())) return;
    }
  }
  const runs = opts.runs ?? DEFAULT_RUNS;
  for (let i = 0; i < runs; i++) {
    await step();
    opts.onProgress?.((i + 1) / runs);
    if (i + 1 >= MIN_TIMED_RUNS && i + 1 < runs && enough()) return;
  }
}

function result(c: Contestant, opts: BenchOptions): BenchResult {
  const so = sessionOptions(opts, {});
  const latencyMs = summarize(c.times);
  const total = c.times.reduce((a, b) => a + b, 0);
  const inferencesPerSec = total > 0 ? (1000 * c.times.length) / total : 0;
  return {
    model: c.label,
    runtimeStartMs: c.runtimeStartMs,
    backend: so.backend!,
    threads: so.threads!,
    optLevel: so.optLevel!,
    executionMode: so.executionMode!,
    ...(so.executionProvider ? { executionProvider: so.executionProvider } : {}),
    inputs: c.inputs,
    ...(c.shapes ? { shapes: c.shapes } : {}),
    batch: c.batch,
    sessionCreateMs: c.session.createMs,
    warmup: c.warmup,
    latencyMs,
    throughput: { inferencesPerSec, samplesPerSec: inferencesPerSec * c.batch },
    memory: { peakRssBytes: peakRssBytes(), sessionRssBytes: c.sessionRssBytes },
    timesMs: c.times,
  };
}

/** Benchmarks one model: session creation, warm-up, then timed runs (by count or by time). */
export async function benchmark(model: Model | string | Uint8Array, opts: BenchOptions = {}): Promise<BenchResult> {
  checkOptions(opts);
  const c = await prepare(model, opts);
  try {
    await repeat(() => timeOnce(c), opts);
    return result(c, opts);
  } finally {
    await c.session.release();
  }
}

/** Session settings that may differ between the two sides of a comparison (the inputs never do). */
export type SessionSettingsOverride = Pick<BenchOptions, 'threads' | 'optLevel' | 'executionMode' | 'executionProvider'>;

/**
 * Benchmarks A and B side by side: both sessions are created and warmed up (one after the other, so that
 * each one's memory can be told apart), then each round runs A and B once in a seeded random order
 * (`opts.seed`), so neither always goes first. The ratio is median(B)/median(A) with a paired bootstrap
 * interval over rounds. ORT's threads do not spin between runs in either session (PAIRED_SPINNING).
 */

export async function compare(
  a: Model | string | Uint8Array,
  b: Model | string | Uint8Array,
  opts: BenchOptions = {},
  /** Session settings for B alone (e.g. another thread count): A runs with `opts`, B with `opts` + these. */
  bSettings: SessionSettingsOverride = {},
  /**
   * Asked after each round with both sides' times so far: true ends the comparison there, with fewer
   * rounds than asked (a sequential test: the search stops timing a candidate that cannot win).
   */
  enough?: (a: readonly number[], b: readonly number[]) => boolean,
): Promise<CompareResult> {
  checkOptions(opts);
  checkOptions(bSettings);
  // Two sessions in one process, run in turn: the one waiting must not spin its threads on the cores the one
  // being timed needs (with ORT's default spinning, two 2-thread ResNet-18 sessions each ran at 18.8 ms in
  // turn against 9.5 ms alone; without it 10.0 ms in turn and alone) — but never spinning at all slowed a
  // 0.14 ms model on 2 threads by half and made a 1-thread candidate look 1.5× faster than it is alone.
  const paired = { ...opts, spinning: PAIRED_SPINNING };
  const ca = await prepare(a, paired);
  let cb: Contestant | undefined;
  try {
    cb = await prepare(b, { ...paired, ...bSettings });
    const coin = rng((opts.seed ?? 0) + 0x5eed);
    const order: ('A' | 'B')[] = [];
    await repeat(async () => {
      const aFirst = coin() < 0.5;
      for (const which of aFirst ? (['A', 'B'] as const) : (['B', 'A'] as const)) {
        order.push(which);
        await timeOnce(which === 'A' ? ca : cb!);
      }
    }, opts, enough ? () => enough(ca.times, cb!.times) : undefined);
    const ratio = bootstrapMedianRatio(ca.times, cb.times, { paired: true, seed: opts.seed ?? 0 });
    return { a: result(ca, opts), b: result(cb, { ...opts, ...bSettings }), ratio, order };
  } finally {
    await ca.session.release();
    await cb?.session.release();
  }
}
