import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import type { Model } from '../ir/graph.js';
import { modelSizeOnDisk, modelToBytes } from '../ir/io.js';
import type { Tensor } from '../ir/tensor.js';
import { dataContentKey } from '../quantize/calibrate.js';
import { stableJson } from '../search/recipe.js';
import { sha256 } from './store.js';
import type { EvalResult } from '../eval/evaluate.js';
import { resultFromRecords, type EvalRecords } from '../eval/evaluate.js';
import { InputError } from '../errors.js';
import type { Backend } from '../runtime/session.js';
import type { OnnxEvaluator } from '../search/evaluator.js';
import type { AccuracyBound, Measurement, MetricValue } from '../search/goals.js';
import type { MetricSource } from '../search/metric.js';
import { DEFAULT_SESSION, graphKey, recipeKey, type Recipe } from '../search/recipe.js';
import type { Evaluator, SideBySide } from '../search/search.js';
import { Cluster, SCORE_QUEUE, timeQueue, type WorkerInfo, type WorkerStats } from './cluster.js';
import { describeFingerprint } from './fingerprint.js';
import type { EvalJobOptions, JobData, SearchContext } from './protocol.js';

type TimeValue = Omit<Measurement, 'metric'> & { runs?: number; modelHash: string };

/** The hardware class whose workers time a search: the one with most workers on the backend (or the one named). */
export function timingClass(workers: readonly WorkerInfo[], backend: Backend, wanted?: string): string {
  const fit = workers.filter((w) => w.fingerprint.backend === backend);
  if (wanted) {
    if (!fit.some((w) => w.class === wanted)) throw new InputError(`no running worker of class ${wanted} times on ${backend} (classes: ${[...new Set(fit.map((w) => w.class))].join(', ') || 'none'})`);
    return wanted;
  }
  if (fit.length === 0) throw new InputError(`no running worker times on the ${backend} backend: start one with \`inferopt worker --redis <url>${backend === 'node' ? '' : ` --backend ${backend}`}\``);
  const counts = new Map<string, number>();
  for (const w of fit) counts.set(w.class, (counts.get(w.class) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))[0]![0];
}

/** Jobs that timed something (they ran alone on their machine). */
export const timingJobs = (s: WorkerStats) => (s.kinds.time ?? 0) + (s.kinds.confirm ?? 0) + (s.kinds.pipeline ?? 0);

/** What the report shows about a distributed run: who did what, and which hardware class timed it. */
export interface DistributedSummary {
  redis: string;
  /** The hardware class every latency figure of this run was timed on (absent for eval: nothing timed). */
  timingClass?: { class: string; fingerprint: string };
  workers: (WorkerStats & { fingerprint: string; timed: boolean })[];
  /** Jobs run (each counted once, whatever retries it took). */
  jobs: number;
  /** Scoring shards per candidate (absent for pipelines: each run is one job). */
  shards?: number;
  /** `pipeline optimize --workers`: each job ran a candidate beside the current best. */
  pipelines?: boolean;
  /** The most candidates whose jobs were out at once (optimize: 1 unless there are several timing workers). */
  candidatesInFlight?: number;
}

export function summarize(cluster: Cluster, workers: readonly WorkerInfo[], shards: number, cls?: string): DistributedSummary {
  const infos = new Map(workers.map((w) => [w.name, w]));
  const timingWorker = workers.find((w) => w.class === cls);
  return {
    redis: cluster.target.display,
    ...(cls && timingWorker ? { timingClass: { class: cls, fingerprint: describeFingerprint(timingWorker.fingerprint) } } : {}),
    // connected workers that ran nothing are listed too (with 0 jobs), so the report shows who was there
    workers: [...cluster.stats.values(), ...workers.filter((w) => !cluster.stats.has(w.name)).map((w): WorkerStats => ({ worker: w.name, class: w.class, jobs: 0, busyMs: 0, kinds: {} }))]
      .sort((a, b) => (a.worker < b.worker ? -1 : 1))
      .map((s) => ({ ...s, fingerprint: infos.get(s.worker) ? describeFingerprint(infos.get(s.worker)!.fingerprint) : 'left before the end', timed: s.class === cls && timingJobs(s) > 0 })),
    jobs: [...cluster.stats.values()].reduce((n, s) => n + s.jobs, 0),
    shards,
  };
}

/**
 * The search's evaluator when workers do the work (`optimize --workers`): every decision stays in
 * src/search; this only turns each measurement into jobs. A candidate is built on the workers from its recipe,
 * scored in shards (per-sample records merged exactly as a local evaluation), and timed side by side with the
 * baseline on one worker of the timing class. The metric of a graph is computed once; workers' builds of the
 * same recipe must hash alike. The accuracy-aware fallback runs here, on the coordinator.
 */
export class RemoteEvaluator implements Evaluator {
  private runs?: number;
  private readonly scores = new Map<string, Promise<{ metric: MetricValue; modelHash: string }>>();
  /** The model hash each recipe's build had on the workers (graph key → sha256). */
  readonly modelHashes = new Map<string, string>();
  /** Every measurement received, in order: kept when Redis is lost. */
  readonly journal: { recipe: Recipe; measurement: Measurement; worker: string }[] = [];

  constructor(
    private readonly cluster: Cluster,
    private readonly o: { scope: string; ctx: SearchContext; metric: MetricSource; local: OnnxEvaluator; timingClass: string; shards: number; /** Hosts with a worker of the timing class: candidates timed at once. */ timingHosts: number; /** Candidates built and scored ahead of the search. */ lookahead: number },
  ) {}

  private job<T>(queue: string, data: JobData) {
    return this.cluster.run<T>(queue, data, Cluster.jobId(this.o.scope, data));
  }

  /** Timing jobs started, by recipe key (ahead of the search asking, or by it). */
  private readonly timed = new Map<string, Promise<{ value: TimeValue; worker: string }>>();
  /** What the search said comes next (prefetch), each against the baseline. */
  private hints: { recipe: Recipe; baseline: Recipe }[] = [];
  /** Candidates with jobs out now (recipe keys), and the most there were at once. */
  private readonly out = new Map<string, number>();
  /** Timing jobs asked for (running or waiting for a host), and running. */
  private timingOut = 0;
  private timingRunning = 0;
  private readonly timingWaiters: (() => void)[] = [];
  /** Graphs whose scoring was started ahead (once: a failed one waits for the search to ask). */
  private readonly scoredAhead = new Set<string>();
  peakInFlight = 0;

  private track<T>(key: string, p: Promise<T>): Promise<T> {
    this.out.set(key, (this.out.get(key) ?? 0) + 1);
    this.peakInFlight = Math.max(this.peakInFlight, this.out.size);
    const done = () => {
      const n = this.out.get(key)! - 1;
      if (n) this.out.set(key, n);
      else this.out.delete(key);
      this.fill();
    };
    void p.then(done, done);
    return p;
  }

  /** Timing and confirmation jobs go out at most one per host of the timing class: never two on one machine. */
  private async timing<T>(f: () => Promise<T>): Promise<T> {
    this.timingOut++;
    while (this.timingRunning >= this.o.timingHosts) await new Promise<void>((go) => this.timingWaiters.push(go));
    this.timingRunning++;
    try {
      return await f();
    } finally {
      this.timingRunning--;
      this.timingOut--;
      this.timingWaiters.shift()?.();
    }
  }

  private timeJob(recipe: Recipe, baseline?: Recipe) {
    const key = recipeKey(recipe) + (baseline ? '' : ' alone');
    let p = this.timed.get(key);
    if (!p) {
      const data: JobData = { kind: 'time', ctx: this.o.ctx, recipe, ...(baseline ? { baseline } : {}), ...(this.runs ? { runs: this.runs } : {}) };
      p = this.track(recipeKey(recipe), this.timing(() => this.job<TimeValue>(timeQueue(this.o.timingClass), data)));
      p.catch(() => {}); // a failure is reported when the search asks for the candidate
      this.timed.set(key, p);
    }
    return p;
  }

  /**
   * Several candidates in flight: the candidates the search will ask for next are built and scored now on
   * any free worker, and timed (side by side with the baseline, as always) on as many workers of the timing
   * class as there are hosts — two timing jobs never share a machine. The search still takes the results in
   * its own order and decides alone, so the same inputs choose the same recipe.
   */
  prefetch(recipes: readonly Recipe[], baseline: Recipe): void {
    if (this.runs === undefined) return; // the baseline's timing fixes the rounds every candidate gets
    this.hints = recipes.map((recipe) => ({ recipe, baseline }));
    this.fill();
  }

  private fill(): void {
    for (const h of this.hints.slice(0, this.o.lookahead)) {
      if (this.scoredAhead.has(graphKey(h.recipe))) continue;
      this.scoredAhead.add(graphKey(h.recipe));
      void this.score(h.recipe).catch(() => {});
    }
    for (const h of this.hints) {
      if (this.timingOut >= this.o.timingHosts) break;
      if (!this.timed.has(recipeKey(h.recipe))) this.timeJob(h.recipe, h.baseline);
    }
  }

  async evaluate(recipe: Recipe, baseline?: Recipe): Promise<Measurement> {
    this.hints = this.hints.filter((h) => recipeKey(h.recipe) !== recipeKey(recipe));
    const [t, s] = await Promise.all([this.timeJob(recipe, baseline), this.score(recipe)]);
    if (!baseline && t.value.runs) this.runs ??= t.value.runs;
    if (t.value.modelHash !== s.modelHash) {
      throw new Error(`the workers built different models from one recipe (sha256 ${t.value.modelHash.slice(0, 12)}… timed, ${s.modelHash.slice(0, 12)}… scored): builds are not deterministic across these workers`);
    }
    this.modelHashes.set(graphKey(recipe), t.value.modelHash);
    const { runs: _runs, modelHash: _hash, ...timing } = t.value;
    const measurement: Measurement = { ...timing, metric: s.metric };
    this.journal.push({ recipe, measurement, worker: t.worker });
    return measurement;
  }

  /** The recipe's metric from shards scored by any workers, merged by sample position. */
  private score(recipe: Recipe): Promise<{ metric: MetricValue; modelHash: string }> {
    const key = graphKey(recipe);
    let p = this.scores.get(key);
    if (!p) {
      p = this.track(recipeKey(recipe), (async () => {
        const parts = await Promise.all(
          Array.from({ length: this.o.shards }, (_, index) =>
            this.job<{ records: EvalRecords; modelHash: string }>(SCORE_QUEUE, { kind: 'score', ctx: this.o.ctx, recipe: { ...recipe, session: DEFAULT_SESSION }, shard: { index, count: this.o.shards } }),
          ),
        );
        const hashes = new Set(parts.map((r) => r.value.modelHash));
        if (hashes.size > 1) throw new Error(`the workers built different models from one recipe (${[...hashes].map((h) => h.slice(0, 12)).join(', ')}): builds are not deterministic across these workers`);
        return { metric: this.o.metric.fromRecords(parts.map((r) => r.value.records)), modelHash: parts[0]!.value.modelHash };
      })());
      this.scores.set(key, p);
      p.catch(() => this.scores.delete(key));
    }
    return p;
  }

  async confirm(incumbent: Recipe, candidate: Recipe): Promise<SideBySide> {
    const r = await this.timing(() => this.job<SideBySide>(timeQueue(this.o.timingClass), { kind: 'confirm', ctx: this.o.ctx, a: incumbent, b: candidate, runs: this.runs ?? 30 }));
    return r.value;
  }

  fallback(recipe: Recipe, baseline: MetricValue, bound: AccuracyBound, timeUp?: () => boolean): Promise<{ recipe: Recipe; note: string } | undefined> {
    return this.o.local.fallback(recipe, baseline, bound, timeUp);
  }

  /** The chosen model, built here (the same recipe and model give the same bytes as on the workers). */
  build(recipe: Recipe) {
    return this.o.local.build(recipe);
  }
}

/** A fresh search id, or the last one for these inputs (`--resume`), kept in Redis. */
export async function searchScope(cluster: Cluster, inputsKey: string, resume: boolean): Promise<string> {
  const key = `inferopt:search:${inputsKey}`;
  if (resume) {
    const id = await cluster.redis.get(key);
    if (!id) throw new InputError(`nothing to resume: no search with these inputs was started on ${cluster.target.display}`);
    return id;
  }
  const id = crypto.randomUUID();
  await cluster.redis.set(key, id, 'EX', 7 * 24 * 3600);
  return id;
}

export function recipeScope(r: Recipe): string {
  return recipeKey(r);
}

/**
 * `eval --workers`: the data in shards (every n-th batch), scored on the workers, merged by sample position:
 * the metrics and intervals are those of one local run. Each worker must read the same data at the same path
 * (checked by the sample count each one saw).
 */
export async function remoteEvaluate(
  cluster: Cluster,
  x: { model: Uint8Array; reference?: Uint8Array; data: string; options: EvalJobOptions; bootstrap?: { iterations?: number }; log?: (line: string) => void },
): Promise<{ result: EvalResult; summary: DistributedSummary }> {
  const workers = await cluster.workers();
  if (workers.length === 0) throw new InputError(`no worker is connected to ${cluster.target.display}: start one with \`inferopt worker --redis <url>\``);
  const shards = Math.max(1, workers.reduce((n, w) => n + w.concurrency, 0));
  const model = await cluster.put(x.model);
  const reference = x.reference ? await cluster.put(x.reference) : undefined;
  const scope = crypto.randomUUID();
  const t0 = performance.now();
  const parts = await Promise.all(
    Array.from({ length: shards }, (_, index) => {
      const data: JobData = { kind: 'eval', model, ...(reference ? { reference } : {}), data: x.data, options: x.options, shard: { index, count: shards } };
      return cluster.run<{ records: EvalRecords; seen?: number }>(SCORE_QUEUE, data, Cluster.jobId(scope, data));
    }),
  );
  const seen = new Set(parts.map((p) => p.value.seen));
  if (seen.size > 1) throw new InputError(`the workers read different data at ${x.data} (${[...seen].join(' vs ')} samples): they need the same files`);
  const result = resultFromRecords(
    parts.map((p) => p.value.records),
    { ...(x.options.keys ? { keys: x.options.keys } : {}), ...(x.options.ignoreSpaces !== undefined ? { ignoreSpaces: x.options.ignoreSpaces } : {}), ...(x.bootstrap ? { bootstrap: x.bootstrap } : {}), seconds: (performance.now() - t0) / 1000 },
  );
  return { result, summary: summarize(cluster, workers, shards) };
}

/** Everything `optimize --workers` sets up before the search: the queues, the stored model, the timing class. */
export async function distributedSearch(x: {
  /** The queues, opened by the caller before any long work (an unreachable Redis fails first). */
  cluster: Cluster;
  resume?: boolean;
  timingClass?: string;
  modelFile: string;
  model: Model;
  metric: MetricSource;
  feeds: Record<string, Tensor>[];
  local: OnnxEvaluator;
  ctx: Omit<SearchContext, 'model' | 'workload' | 'calibration'>;
  /** What makes two searches the same search (for --resume). */
  inputs: unknown;
  log: (line: string) => void;
  /** The live view: one line, redrawn after every job. */
  progress?: (line: string) => void;
}): Promise<{ evaluator: RemoteEvaluator; cluster: Cluster; summary: () => DistributedSummary }> {
  const cluster = x.cluster;
  try {
    const workers = await cluster.workers();
    if (workers.length === 0) throw new InputError(`no worker is connected to ${cluster.target.display}: start one with \`inferopt worker --redis <url>\``);
    const cls = timingClass(workers, x.ctx.backend, x.timingClass);
    // the file's own bytes when it holds the whole model (workers load exactly what is loaded here)
    const onDisk = fs.readFileSync(x.modelFile);
    const bytes = onDisk.length === modelSizeOnDisk(x.modelFile) ? new Uint8Array(onDisk.buffer, onDisk.byteOffset, onDisk.byteLength) : modelToBytes(x.model);
    const model = await cluster.put(bytes);
    const ctx: SearchContext = { ...x.ctx, model, workload: await dataContentKey(x.feeds), calibration: await dataContentKey(await x.metric.calibration()) };
    const scope = await searchScope(cluster, sha256(new TextEncoder().encode(stableJson({ model, ctx, inputs: x.inputs }))), x.resume === true);
    const shards = Math.max(1, workers.reduce((n, w) => n + w.concurrency, 0));
    const timers = workers.filter((w) => w.class === cls);
    x.log(`workers: ${workers.length} on ${cluster.target.display}; timing on class ${cls} (${timers.map((w) => w.name).join(', ')}: ${describeFingerprint(timers[0]!.fingerprint)}); scoring in ${shards} shard${shards === 1 ? '' : 's'}${x.resume ? '; resuming' : ''}`);
    for (const w of workers.filter((w) => w.class !== cls)) x.log(`worker ${w.name} is of another hardware class (${w.class}): it scores, it does not time`);
    if (x.progress) cluster.onProgress = () => x.progress!(cluster.progressLine());
    const evaluator = new RemoteEvaluator(cluster, { scope, ctx, metric: x.metric, local: x.local, timingClass: cls, shards, timingHosts: new Set(timers.map((w) => w.host)).size, lookahead: Math.max(2, workers.length) });
    return { evaluator, cluster, summary: () => ({ ...summarize(cluster, workers, shards, cls), candidatesInFlight: evaluator.peakInFlight }) };
  } catch (e) {
    await cluster.close();
    throw e;
  }
}

