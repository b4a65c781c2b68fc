import * as crypto from 'node:crypto';
import { toolCacheDir } from '../util/files.js';
import * as path from 'node:path';
import { loadModel, modelToBytes } from '../ir/io.js';
import type { Model } from '../ir/graph.js';
import { cloneModel } from '../ir/clone.js';
import type { Tensor } from '../ir/tensor.js';
import { benchmark, compare, PAIRED_SPINNING, type BenchOptions, type BenchResult, type CompareResult, type SessionSettingsOverride } from '../runtime/bench.js';
import type { Backend } from '../runtime/session.js';
import { applyRecipe, type AppliedStep } from './apply.js';
import { InputError } from '../errors.js';
import { staticQuantizePass } from '../quantize/static.js';
import type { TensorData } from '../train/trainer.js';
import type { CatalogEntry } from './catalog.js';
import { metricDrop, type AccuracyBound, type Measurement, type MetricValue } from './goals.js';
import { fallbackStep, supportsFallback } from './fallback.js';
import type { MetricSource, ScoreScreen } from './metric.js';
import { dataContentKey } from '../quantize/calibrate.js';
import { graphKey, recipeKey, type Recipe } from './recipe.js';
import type { Bar, Evaluator, SideBySide } from './search.js';
import { bootstrapMedianRatio } from '../util/stats.js';
import type { OutputsVsWasm } from '../device/protocol.js';

/** Where candidates are timed: runtime/bench.ts here (the default), or the same functions run on a device. */
export interface Timer {
  benchmark(model: Uint8Array, opts: BenchOptions): Promise<BenchResult>;
  /** `enough`: see runtime/bench.ts `compare` (a timer that cannot ask it after each round runs every round). */
  compare(a: Uint8Array, b: Uint8Array, opts: BenchOptions, bSettings: SessionSettingsOverride, enough?: (a: readonly number[], b: readonly number[]) => boolean): Promise<CompareResult>;
}

const LOCAL_TIMER: Timer = { benchmark, compare };

export interface OnnxEvaluatorOptions {
  /** Where candidates are timed (default: this process, runtime/bench.ts). */
  timer?: Timer;
  /** The input model file: every candidate starts from a fresh load of it. */
  modelFile: string;
  catalog: readonly CatalogEntry[];
  metric: MetricSource;
  backend: Backend;
  shapes?: Record<string, number[]>;
  dims?: Record<string, number>;
  /** The input sets every candidate is timed on, in turn (see search/workload.ts); overrides shapes/dims. */
  feedSets?: Record<string, Tensor>[];
  /**
   * Timed runs per candidate after `warmup` (default 3). Default: enough for about `seconds` (1.5 s) at the
   * baseline's speed, 15 to 300 — a fixed count is too few for a 0.2 ms model and too many for a 200 ms one.
   */
  runs?: number;
  seconds?: number;
  warmup?: number;
  /** Where calibration statistics are cached (keyed by model hash and data). */
  cacheDir?: string;
  /** Labelled training data (and a held-out split for early stopping): QAT steps become possible with it. */
  training?: () => Promise<{ train: TensorData; test: TensorData }>;
  /** Optimizer steps of a QAT step the search adds (default 300): steps, not seconds, end it, so its recipe rebuilds. */
  trainSteps?: number;
  log?: (msg: string) => void;
}

export interface Built {
  key: string;
  model: Model;
  bytes: Uint8Array;
  steps: AppliedStep[];
}

/**
 * Measures candidates for real: builds the recipe's model, benchmarks it on ONNX Runtime with the recipe's
 * session settings, scores it with the metric source. The metric and size depend only on the graph, so they
 * are cached per graph (session-setting candidates cost one benchmark); calibration statistics are cached by
 * the quantizer on disk; the last built model is kept for the next candidate with the same graph.
 */
export class OnnxEvaluator implements Evaluator {
  /** The last two built models (a candidate and the incumbent it is confirmed against). */
  private built: Built[] = [];
  private readonly metrics = new Map<string, MetricValue>();
  private calibration?: Promise<Record<string, Tensor>[]>;
  readonly cacheDir: string;

  constructor(private readonly opts: OnnxEvaluatorOptions) {
    this.cacheDir = opts.cacheDir ?? toolCacheDir();
  }

  /** The baseline's build, kept for the whole search: every candidate is timed side by side with it. */
  private pinned?: Built;

  /** Builds (or reuses) the model of a recipe. */
  async build(recipe: Recipe): Promise<Built> {
    const key = graphKey(recipe);
    if (this.pinned?.key === key) return this.pinned;
    const hit = this.built.find((b) => b.key === key);
    if (hit) return hit;
    if (this.built.length >= 2) this.built.shift(); // let the oldest go before building the next
    const { model, steps } = await this.buildFresh(recipe);
    const b = { key, model, bytes: modelToBytes(model), steps };
    this.built.push(b);
    return b;
  }

  /**
   * The graph-only steps most recipes start with (simplify), applied once: later recipes with the same
   * leading steps start from a copy of that model instead of loading and simplifying the input again. The
   * model is the same, byte for byte, as one built from the input file (passes are deterministic).
   */
  private prefix?: { key: string; model: Model; steps: AppliedStep[] };

  /**
   * Models right after a step that prunes or trains (a fine-tuned prune, a distilled student, QAT), by the recipe
   * up to that step: every quantizer and parameter tried on a fine-tuned model starts from it instead of
   * training it again (spam-bert: 54–60 s of fine-tuning per quantizer before). Those steps are bounded by their
   * step counts, so a recipe rebuilds the same model either way. The last two are kept.
   */
  private trained: { key: string; model: Model; steps: AppliedStep[] }[] = [];

  private async buildFresh(recipe: Recipe): Promise<{ model: Model; steps: AppliedStep[] }> {
    const kind = (i: number) => this.opts.catalog.find((c) => c.pass.id === recipe.steps[i]!.pass)?.kind;
    let t = recipe.steps.length - 1;
    while (t >= 0 && kind(t) !== 'prune' && kind(t) !== 'train') t--;
    if (t < 0) return this.buildOnGraphPrefix(recipe);
    const head: Recipe = { ...recipe, steps: recipe.steps.slice(0, t + 1) };
    const key = graphKey(head);
    let hit = this.trained.find((b) => b.key === key);
    if (hit) this.reuses++;
    else {
      // what comes before it (itself perhaps a kept model), then the step
      const before = await this.buildFresh({ ...recipe, steps: recipe.steps.slice(0, t) });
      const step = await applyRecipe(before.model, { ...recipe, steps: [recipe.steps[t]!] }, this.opts.catalog, (e) => this.runtimeParams(e));
      hit = { key, model: step.model, steps: [...before.steps, ...step.steps] };
      if (this.trained.length >= 2) this.trained.shift();
      this.trained.push(hit);
    }
    const rest = await applyRecipe(cloneModel(hit.model), { ...recipe, steps: recipe.steps.slice(t + 1) }, this.opts.catalog, (e) => this.runtimeParams(e));
    return { model: rest.model, steps: [...hit.steps, ...rest.steps] };
  }

  /** Times the trained-prefix store answered (tests, and the log). */
  get trainedReuses(): number {
    return this.reuses;
  }
  private reuses = 0;

  private async buildOnGraphPrefix(recipe: Recipe): Promise<{ model: Model; steps: AppliedStep[] }> {
    const runtime = (e: CatalogEntry) => this.runtimeParams(e);
    let n = 0;
    while (n < recipe.steps.length && this.opts.catalog.find((c) => c.pass.id === recipe.steps[n]!.pass)?.kind === 'graph') n++;
    if (n === 0 || n === recipe.steps.length) return applyRecipe(loadModel(this.opts.modelFile), recipe, this.opts.catalog, runtime);
    const head: Recipe = { ...recipe, steps: recipe.steps.slice(0, n) };
    const key = JSON.stringify([recipe.target, head.steps]);
    if (this.prefix?.key !== key) {
      this.prefix = undefined; // let the old one go first
      const built = await applyRecipe(loadModel(this.opts.modelFile), head, this.opts.catalog, runtime);
      this.prefix = { key, ...built };
    }
    const rest = await applyRecipe(cloneModel(this.prefix.model), { ...recipe, steps: recipe.steps.slice(n) }, this.opts.catalog, runtime);
    return { model: rest.model, steps: [...this.prefix.steps, ...rest.steps] };
  }

  private async runtimeParams(entry: CatalogEntry): Promise<Record<string, unknown>> {
    const out: Record<string, unknown> = {};
    if (entry.needs?.includes('calibration')) {
      // only what the pass declares (a prune step takes the samples, not the quantizer's statistics cache)
      for (const [k, v] of Object.entries(await this.calibrationParams())) if (k in entry.pass.params) out[k] = v;
    }
    if (entry.needs?.includes('training') || (entry.uses?.includes('training') && this.opts.training)) {
      if (!this.opts.training) throw new InputError(`the ${entry.pass.id} step needs training data (--train-data)`);
      this.trainingData ??= this.opts.training();
      Object.assign(out, await this.trainingData);
    }
    return out;
  }

  private trainingData?: Promise<{ train: TensorData; test: TensorData }>;

  /** QAT in place of the recipe's last step when it is static quantization (its parameters carry over). */
  train(recipe: Recipe, seconds: number): { recipe: Recipe; note: string } | undefined {
    const step = recipe.steps.at(-1);
    const qat = this.opts.catalog.find((c) => c.kind === 'train');
    if (!this.opts.training || !qat || step?.pass !== staticQuantizePass.id) return undefined;
    // distilled from the float model it starts from (the pruned one when a prune step comes first)
    // bounded by its step count (the recipe rebuilds byte for byte); the budget left is only a safety cap
    const params = { distill: 0.5, ...step.params, steps: this.opts.trainSteps ?? 300, seconds: Math.max(1, Math.round(seconds)) };
    return { recipe: { ...recipe, steps: [...recipe.steps.slice(0, -1), { pass: qat.pass.id, params }] }, note: `quantization-aware training of ${step.pass} (${params.steps} steps, capped at ${params.seconds} s)` };
  }

  private async calibrationParams(): Promise<{ calibration: Record<string, Tensor>[]; calibrate: { cache: { dir: string; dataKey: string } } }> {
    this.calibration ??= this.opts.metric.calibration();
    const calibration = await this.calibration;
    // keyed on the feeds' content (a note or a count names the data, it does not identify it)
    this.calibrationKey ??= dataContentKey(calibration);
    return { calibration, calibrate: { cache: { dir: this.cacheDir, dataKey: await this.calibrationKey } } };
  }

  /** Accuracy-aware fallback of the recipe's last (quantize) step; see fallback.ts. */
  async fallback(recipe: Recipe, baseline: MetricValue, bound: AccuracyBound, timeUp?: () => boolean): Promise<{ recipe: Recipe; note: string } | undefined> {
    const step = recipe.steps.at(-1);
    if (!step || !supportsFallback(step)) return undefined;
    const prefix: Recipe = { ...recipe, steps: recipe.steps.slice(0, -1) };
    const { model } = await this.buildFresh(prefix);
    // the baseline on the selection samples, once: the fallback's decisions compare with it
    this.selectBaseline ??= this.opts.metric.select(loadModel(this.opts.modelFile));
    const r = await fallbackStep(model, step, recipe.target, (m) => this.opts.metric.select(m), await this.selectBaseline, bound, await this.calibrationParams(), undefined, timeUp);
    const kept = r.floatNodes.length ? `${r.floatNodes.length} most sensitive node(s) kept in float (${r.floatNodes.slice(0, 4).join(', ')}${r.floatNodes.length > 4 ? ', …' : ''})` : 'no node moved back to float';
    return { recipe: { ...prefix, steps: [...prefix.steps, r.step] }, note: `accuracy-aware fallback: ${kept}${r.stopped ? ` (stopped at the budget's end: ${r.stopped})` : ''}` };
  }

  private selectBaseline?: Promise<MetricValue>;
  private calibrationKey?: Promise<string>;

  /** Set from the first (baseline) measurement unless --runs was given. */
  private runs?: number;
  private warmedUp = false;

  private benchOptions(recipe: Recipe, runs = this.opts.runs ?? this.runs ?? 15): BenchOptions {
    return {
      backend: this.opts.backend,
      threads: recipe.session.threads,
      optLevel: recipe.session.optLevel,
      executionMode: recipe.session.executionMode,
      ...(recipe.session.ep ? { executionProvider: recipe.session.ep } : {}),
      warmup: this.opts.warmup ?? 3,
      runs,
      // alone (the baseline) as in the pairs: its p50 is the same kind of figure as theirs
      spinning: PAIRED_SPINNING,
      ...(this.opts.feedSets
        ? { feedSets: this.opts.feedSets }
        : { ...(this.opts.shapes ? { shapes: this.opts.shapes } : {}), ...(this.opts.dims ? { dims: this.opts.dims } : {}) }),
    };
  }

  /**
   * Interleaved A/B timing of two recipes (bench's `compare`), each with its own session settings, so that a
   * change of thread count or optimization level is judged side by side like a change of graph.
   */
  async confirm(incumbent: Recipe, candidate: Recipe): Promise<SideBySide> {
    const runs = Math.max(20, this.opts.runs ?? this.runs ?? 30);
    return this.sideBySide(incumbent, candidate, runs);
  }

  private async sideBySide(a: Recipe, b: Recipe, runs: number, enough?: (a: readonly number[], b: readonly number[]) => boolean): Promise<SideBySide & { bVsWasm?: Measurement['outputsVsWasm'] }> {
    const ba = await this.build(a);
    const bb = await this.build(b);
    const { threads, optLevel, executionMode } = this.benchOptions(b, runs);
    // each side on its own execution provider (a WebGPU candidate against the wasm baseline, on the device)
    const ep = a.session.ep || b.session.ep ? { executionProvider: b.session.ep ?? ('wasm' as const) } : {};
    const r = await (this.opts.timer ?? LOCAL_TIMER).compare(ba.bytes, bb.bytes, this.benchOptions(a, runs), { threads, optLevel, executionMode, ...ep }, enough);
    const stats = (x: typeof r.a) => ({ p50: x.latencyMs.p50, p90: x.latencyMs.p90, p99: x.latencyMs.p99, mean: x.latencyMs.mean, samples: x.timesMs });
    return { ratio: r.ratio.ratio, low: r.ratio.low, high: r.ratio.high, runs: r.a.timesMs.length, a: stats(r.a), b: stats(r.b), ...(b.session.ep === 'webgpu' ? { bVsWasm: vsWasmOf(r.b) } : {}) };
  }

  /**
   * Builds and scores the recipe, and times it: the baseline alone (it also sets the run count), every other
   * recipe side by side with `baseline` (interleaved, one process), so its speed-up is a paired figure.
   */
  async evaluate(recipe: Recipe, baseline?: Recipe, bar?: Bar): Promise<Measurement> {
    const t0 = performance.now();
    await this.build(recipe);
    const t1 = performance.now();
    const { screenedAt, ...metric } = await this.score(recipe, bar?.accuracy);
    const t2 = performance.now();
    // screened out: timed briefly (to its first look) for the report's plot; it is dropped for its accuracy
    const { stoppedEarly, ...timed } = await this.time(recipe, baseline, screenedAt !== undefined ? { speedup: Infinity, sizeBytes: 0 } : bar);
    const phasesMs = { build: t1 - t0, score: t2 - t1, time: performance.now() - t2 };
    return { ...timed, metric, phasesMs, ...(screenedAt !== undefined ? { screened: { samples: screenedAt } } : stoppedEarly ? { stoppedEarly } : {}) };
  }

  private hashes = new WeakMap<Built, string>();
  private hashOf(built: Built): string {
    let h = this.hashes.get(built);
    if (!h) this.hashes.set(built, (h = modelHash(built.bytes)));
    return h;
  }

  /** The metric of the recipe's model, cached by the model's bytes (recipes that build the same graph share it). */
  async score(recipe: Recipe, accuracy?: Bar['accuracy']): Promise<MetricValue & { screenedAt?: number }> {
    const built = await this.build(recipe);
    const hash = this.hashOf(built);
    const cached = this.metrics.get(hash);
    if (cached) return cached;
    const metric = await this.opts.metric.score(built.model, accuracy ? farPast(accuracy) : undefined);
    // a screened figure is of the first samples only: not the model's score
    if (metric.screenedAt === undefined) this.metrics.set(hash, metric);
    return metric;
  }

  /** Timed runs per candidate in force (after the first measurement, unless given). */
  get runsPerCandidate(): number | undefined {
    return this.opts.runs ?? this.runs;
  }

  /**
   * Times the recipe's model (what `evaluate` measures besides the metric): alone for the baseline, else side
   * by side with `baseline`. Also its size and the steps that changed nothing.
   */
  async time(recipe: Recipe, baseline?: Recipe, bar?: Bar): Promise<Omit<Measurement, 'metric'>> {
    const built = await this.build(recipe);
    // The process's first benchmark also pays for ORT's thread pools and caches warming up (not the baseline's
    // fault); it also tells how many runs fit in the time each candidate gets.
    if (!this.warmedUp) {
      const w = await (this.opts.timer ?? LOCAL_TIMER).benchmark(built.bytes, { ...this.benchOptions(recipe, 5), warmup: 3 });
      this.runs ??= Math.max(15, Math.min(300, Math.round(((this.opts.seconds ?? 1.5) * 1000) / Math.max(w.latencyMs.p50, 1e-3))));
      this.warmedUp = true;
    }
    const inertSteps = built.steps.filter((s) => !s.modified).map((s) => s.pass);
    const stepStats = Object.fromEntries(built.steps.filter((s) => Object.keys(s.stats).length).map((s) => [s.pass, s.stats]));
    const common = { sizeBytes: built.bytes.length, ...(inertSteps.length ? { inertSteps } : {}), ...(Object.keys(stepStats).length ? { stepStats } : {}) };
    if (baseline && recipeKey(baseline) !== recipeKey(recipe)) {
      this.pinned ??= await this.build(baseline);
      const runs = this.opts.runs ?? this.runs ?? 15;
      // a candidate no smaller than the bar (so it can only win on speed) stops being timed once its paired
      // interval shows it cannot: the fastest it may be is slower than the incumbent
      const enough = bar && built.bytes.length >= bar.sizeBytes * SIZE_WIN ? cannotBeat(bar.speedup, runs) : undefined;
      const r = await this.sideBySide(baseline, recipe, runs, enough);
      // a fast wrong answer is no result: WebGPU's outputs must agree with wasm's (the device checked them)
      if (r.bVsWasm && !r.bVsWasm.ok) throw new Error(`on webgpu its outputs differ from wasm's on the same inputs (max abs ${r.bVsWasm.maxAbs.toExponential(1)}, over ${r.bVsWasm.tolerance})`);
      const vsBaseline = { speedup: 1 / r.ratio, low: 1 / r.high, high: 1 / r.low, ...(r.a ? { baselineP50: r.a.p50 } : {}) };
      const stoppedEarly = r.runs! < runs ? { rounds: r.runs!, of: runs, bar: bar!.speedup } : undefined;
      return { latency: r.b!, ...common, vsBaseline, ...(stoppedEarly ? { stoppedEarly } : {}), ...(r.bVsWasm ? { outputsVsWasm: r.bVsWasm } : {}) };
    }
    const b = await (this.opts.timer ?? LOCAL_TIMER).benchmark(built.bytes, this.benchOptions(recipe));
    if (!baseline) this.pinned ??= built;
    const l = b.latencyMs;
    return { latency: { p50: l.p50, p90: l.p90, p99: l.p99, mean: l.mean, samples: b.timesMs }, ...common };
  }
}

/** Samples of the cheap accuracy screen, and how far past the bound (× the bound) screens a candidate out. */
const SCREEN_SAMPLES = 8;
const FAR_PAST = 2;

/**
 * The cheap screen of the scoring pass: after the first SCREEN_SAMPLES samples, a candidate whose whole
 * interval there (its most favourable end) is past FAR_PAST times the bound cannot be accurate: it is not
 * scored on the rest.
 */
function farPast(accuracy: NonNullable<Bar['accuracy']>): ScoreScreen {
  return {
    samples: SCREEN_SAMPLES,
    stop: (sofar) => {
      const favourable = (sofar.higherIsBetter ? sofar.hi : sofar.lo) ?? sofar.value;
      return metricDrop(accuracy.baseline, { ...sofar, value: favourable }, accuracy.bound.relative) > FAR_PAST * accuracy.bound.value;
    },
  };
}

/** A candidate at most this share of the incumbent's size wins on size alone (search.ts `judge`). */
const SIZE_WIN = 0.95;

/**
 * The sequential test that ends a candidate's paired timing early: from a third of the rounds (at least 5),
 * every 5 rounds, the 95% interval of its speed-up over the baseline; stop when even its top is below the
 * incumbent's speed-up (the search keeps a candidate only when it is faster than that by the tie).
 */
function cannotBeat(speedup: number, runs: number): (a: readonly number[], b: readonly number[]) => boolean {
  const first = Math.max(5, Math.ceil(runs / 3));
  return (a, b) => {
    const n = Math.min(a.length, b.length);
    if (n < first || (n - first) % 5 !== 0 || a.length !== b.length) return false;
    const r = bootstrapMedianRatio(a, b, { paired: true, seed: 0, iterations: 1000 });
    return 1 / r.low < speedup;
  };
}

/** What a device said of a WebGPU run's outputs against wasm's (none said: not checked, which is no pass). */
function vsWasmOf(r: object): NonNullable<Measurement['outputsVsWasm']> {
  const v = (r as { outputsVsWasm?: OutputsVsWasm }).outputsVsWasm;
  if (!v) return { ok: false, maxAbs: NaN, tolerance: 'no check: the device sent no comparison with wasm' };
  const maxAbs = Math.max(0, ...v.outputs.map((o) => (o.maxAbs === undefined ? Infinity : o.maxAbs)));
  return { ok: v.ok, maxAbs, tolerance: `${v.tolerance.atol} + ${v.tolerance.rtol}·|wasm|` };
}

/** The content hash models are cached (and, across machines, stored) by. */
export function modelHash(bytes: Uint8Array): string {
  return crypto.createHash('sha256').update(bytes).digest('hex');
}
