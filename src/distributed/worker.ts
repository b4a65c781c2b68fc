import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { InferoptError, InputError } from '../errors.js';
import { openDataset } from '../data/dataset.js';
import { evaluate } from '../eval/evaluate.js';
import { loadModel } from '../ir/io.js';
import type { Tensor } from '../ir/tensor.js';
import { dataContentKey } from '../quantize/calibrate.js';
import type { Backend } from '../runtime/session.js';
import { searchCatalog } from '../search/catalog.js';
import { OnnxEvaluator, modelHash } from '../search/evaluator.js';
import type { MetricSource } from '../search/metric.js';
import { stableJson } from '../search/recipe.js';
import { timingWorkload } from '../search/workload.js';
import { disconnectAll } from './disconnect.js';
import { describeFingerprint, deviceFingerprint, hardwareClass, hardwareFingerprint, type Fingerprint } from './fingerprint.js';
import { deviceTimer, metricSourceFor } from '../search/optimize.js';
import { listDevices } from '../device/client.js';
import { checkJob, encodeResult, type JobData, type SearchContext } from './protocol.js';
import { connectionOptions, parseRedisUrl, type RedisTarget } from './redis-url.js';
import { pipelineJobRunner } from './pipeline.js';
import { BlobCache } from './store.js';
import { withInputRoots } from '../util/files.js';
import { PREFIX, REFUSED, RunRefusal, SCORE_QUEUE, THIS_JOB_ONLY, aliveKey, connectOrFail, timeQueue, WORKERS_KEY, type WorkerInfo } from './cluster.js';

export interface WorkerOptions {
  url: string;
  /** Unique among the workers of this Redis (default: host-pid). */
  name?: string;
  /** Scoring jobs run at once (timing jobs always run alone). */
  concurrency?: number;
  backend?: Backend;
  /**
   * Time on a device page connected to `inferopt device serve` (its name, or 'auto': the first connected)
   * instead of this machine: the worker is of the device's own hardware class, on the wasm backend. It still
   * builds and scores here.
   */
  device?: string;
  /** Where fetched models are kept by hash (default: the user's cache folder). */
  cacheDir?: string;
  /** Data paths a job names must lie inside this folder (default: any path the worker can read). */
  dataRoot?: string;
  /** How long a job's lock lasts without renewal: a killed worker's job is retried elsewhere after about this long. */
  lockMs?: number;
  log?: (line: string) => void;
  /** Stops the worker (it finishes its running jobs first). */
  signal?: AbortSignal;
}

/** What every result carries besides its value: who computed it, on what class, in how long. */
export interface ResultMeta {
  worker: string;
  class: string;
  ms: number;
}

/**
 * Timing jobs need the machine to themselves; scoring jobs can share it. A timing job waits for the scoring
 * jobs running to finish, and holds off new ones while it runs.
 */
export class MachineLock {
  private active = 0;
  private exclusive = false;
  private readonly waiting: { excl: boolean; go: () => void }[] = [];

  async run<T>(excl: boolean, f: () => Promise<T>): Promise<T> {
    await this.acquire(excl);
    try {
      return await f();
    } finally {
      this.release(excl);
    }
  }

  private can(excl: boolean): boolean {
    return excl ? this.active === 0 : !this.exclusive;
  }

  private acquire(excl: boolean): Promise<void> {
    if (this.waiting.length === 0 && this.can(excl)) {
      this.take(excl);
      return Promise.resolve();
    }
    return new Promise((go) => this.waiting.push({ excl, go: () => (this.take(excl), go()) }));
  }

  private take(excl: boolean): void {
    this.active++;
    if (excl) this.exclusive = true;
  }

  private release(excl: boolean): void {
    this.active--;
    if (excl) this.exclusive = false;
    while (this.waiting.length && this.can(this.waiting[0]!.excl)) this.waiting.shift()!.go();
  }
}

interface Context {
  metric: MetricSource;
  modelFile: string;
  feeds: Record<string, Tensor>[];
  evaluators: Map<string, OnnxEvaluator>;
}

/**
 * `inferopt worker`: joins the queues of a Redis server and runs jobs until stopped. It registers its hardware
 * fingerprint, takes scoring jobs from every coordinator and timing jobs of its own hardware class only.
 * Jobs name recipes (validated against each pass's declared parameters) and models by hash: nothing from the
 * queue is run as code.
 */
export async function runWorker(o: WorkerOptions): Promise<void> {
  const target = parseRedisUrl(o.url);
  const log = o.log ?? (() => {});
  if (o.device !== undefined && o.backend === 'node') throw new InputError('--device times on onnxruntime-web on the device: leave --backend out (or give wasm)');
  const onDevice = o.device !== undefined ? await deviceTimer(o.device, log) : undefined;
  // the worker is the device it times on: pinned by name (for 'auto', the first connected)
  if (onDevice) onDevice.device ??= (await listDevices()).devices.find((d) => o.device === 'auto' || d.name === o.device);
  if (onDevice && !onDevice.device) throw new InputError(`the device ${o.device} went away`);
  const backend = onDevice ? 'wasm' : (o.backend ?? 'node');
  const fingerprint = onDevice?.device ? deviceFingerprint(onDevice.device.info) : hardwareFingerprint(backend);
  const cls = hardwareClass(fingerprint);
  const name = o.name ?? `${os.hostname()}-${process.pid}`;
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(name)) throw new InputError(`--name must be 1-64 letters, digits, '.', '_' or '-'`);
  const concurrency = o.concurrency ?? 1;
  const lockMs = o.lockMs ?? 30_000;
  const cacheDir = o.cacheDir ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'inferopt', 'models');
  let dataRoot: string | undefined;
  if (o.dataRoot) {
    try {
      dataRoot = fs.realpathSync(o.dataRoot);
    } catch {
      throw new InputError(`--data-root ${o.dataRoot}: no such folder`);
    }
    if (!fs.statSync(dataRoot).isDirectory()) throw new InputError(`--data-root ${o.dataRoot} is not a folder`);
    fs.mkdirSync(cacheDir, { recursive: true, mode: 0o700 });
  }
  const redis = await connectOrFail(target);
  const instance = `${process.pid}-${Date.now()}`;
  const claimed = await redis.set(aliveKey(name), instance, 'PX', Math.max(3 * lockMs, 15_000), 'NX');
  if (claimed !== 'OK') {
    redis.disconnect();
    throw new InputError(`a worker named '${name}' is already running on ${target.display}: give another --name`);
  }
  const info: WorkerInfo = { name, class: cls, fingerprint, concurrency, startedAt: new Date().toISOString(), host: os.hostname(), pid: process.pid };
  await redis.hset(WORKERS_KEY, name, JSON.stringify(info));
  const heartbeat = setInterval(() => {
    redis.set(aliveKey(name), instance, 'PX', Math.max(3 * lockMs, 15_000)).catch(() => {});
  }, Math.min(5000, lockMs / 2));

  const blobs = new BlobCache(redis, cacheDir);
  const lock = new MachineLock();
  const contexts = new Map<string, Promise<Context>>();
  const catalog = searchCatalog();

  const checkData = (data: string) => {
    if (!dataRoot) return data;
    let real: string;
    try {
      real = fs.realpathSync(data);
    } catch {
      throw new RunRefusal(`the data ${JSON.stringify(data)} is not readable on worker ${name}`);
    }
    if (real !== dataRoot && !real.startsWith(dataRoot + path.sep)) throw new RunRefusal(`the data ${JSON.stringify(data)} is outside this worker's --data-root`);
    return real;
  };

  /** What fails setting up a run's context (its data, input model…) is refused for the whole run. */
  const runWide = async <T>(f: () => Promise<T>): Promise<T> => {
    try {
      return await f();
    } catch (e) {
      throw e instanceof InputError && !(e instanceof RunRefusal) ? new RunRefusal(e.message) : e;
    }
  };

  /** The metric, timing inputs and input model of a search, built once and checked against the coordinator's. */
  const contextOf = (ctx: SearchContext): Promise<Context> => {
    const key = stableJson(ctx);
    let c = contexts.get(key);
    if (!c) {
      c = runWide(async () => {
        const modelFile = await blobs.file(ctx.model);
        const baseModel = loadModel(modelFile);
        const input = ctx.input;
        const data = ctx.data !== undefined ? checkData(ctx.data) : undefined;
        const metric = await metricSourceFor(baseModel, { ...(data ? { data } : {}), ...(ctx.metric ? { metric: ctx.metric } : {}), ...(ctx.limit ? { limit: ctx.limit } : {}), input });
        const workload = await timingWorkload(baseModel, input, metric, data);
        const [wk, ck] = [await dataContentKey(workload.feeds), await dataContentKey(await metric.calibration())];
        if (wk !== ctx.workload) throw new InputError(`worker ${name} reads other timing inputs than the coordinator (content ${wk.slice(0, 12)}… vs ${ctx.workload.slice(0, 12)}…): it needs the same data at the same path`);
        if (ck !== ctx.calibration) throw new InputError(`worker ${name} reads other calibration data than the coordinator: it needs the same data at the same path`);
        return { metric, modelFile, feeds: workload.feeds, evaluators: new Map<string, OnnxEvaluator>() };
      });
      if (contexts.size >= 4) contexts.delete(contexts.keys().next().value!);
      contexts.set(key, c);
      c.catch(() => contexts.delete(key));
    }
    return c;
  };

  const evaluatorOf = async (ctx: SearchContext, runs: number | undefined): Promise<OnnxEvaluator> => {
    const c = await contextOf(ctx);
    const key = String(runs ?? 'auto');
    let e = c.evaluators.get(key);
    if (!e) {
      e = new OnnxEvaluator({ modelFile: c.modelFile, catalog, metric: c.metric, backend: ctx.backend, feedSets: c.feeds, ...(runs ? { runs } : {}), ...(onDevice ? { timer: onDevice.timer } : {}) });
      if (c.evaluators.size >= 2) c.evaluators.delete(c.evaluators.keys().next().value!);
      c.evaluators.set(key, e);
    }
    return e;
  };

  const runPipelines = pipelineJobRunner({ blobs, checkData, worker: name });

  async function handle(job: JobData): Promise<unknown> {
    switch (job.kind) {
      case 'time': {
        if (job.ctx.backend !== backend) throw new RunRefusal(`worker ${name} times on ${backend}, the job asks for ${job.ctx.backend}`);
        const e = await evaluatorOf(job.ctx, job.runs);
        const t = await e.time(job.recipe, job.baseline);
        return { ...t, runs: e.runsPerCandidate, modelHash: modelHash((await e.build(job.recipe)).bytes) };
      }
      case 'confirm': {
        const e = await evaluatorOf(job.ctx, job.runs);
        return await e.confirm(job.a, job.b);
      }
      case 'score': {
        const e = await evaluatorOf(job.ctx, undefined);
        const built = await e.build(job.recipe);
        const records = await (await contextOf(job.ctx)).metric.scoreShard(built.model, job.shard);
        return { records, modelHash: modelHash(built.bytes) };
      }
      case 'eval': {
        const model = await blobs.file(job.model);
        const reference = job.reference ? await blobs.file(job.reference) : undefined;
        const { image, limit, shuffle, part, calibrationFraction, ...opts } = job.options;
        if (opts.keys !== undefined) opts.keys = checkData(opts.keys);
        const ds = await openDataset(checkData(job.data), {
          ...(image ? { image } : {}),
          ...(limit !== undefined ? { limit } : {}),
          ...(shuffle !== undefined ? { shuffleSeed: shuffle } : {}),
          ...(part ? { part } : {}),
          ...(calibrationFraction !== undefined ? { calibrationFraction } : {}),
        });
        const r = await evaluate(model, ds, { ...opts, ...(reference ? { reference } : {}), shard: job.shard, records: true });
        return { records: r.records, seen: ds.size };
      }
      case 'pipeline':
        if (backend !== 'node') throw new RunRefusal(`worker ${name} times on ${backend}: pipelines run on the node backend`);
        return runPipelines(job);
    }
  }

  // a refusal for the whole run (its data, input model, frames, backend; an eval has no candidates) stops the
  // coordinator; one of this job's own content (a recipe or candidate spec this worker will not run, a
  // candidate model whose hash does not verify) fails that candidate only
  const refusal = (e: Error, job?: JobData) => new Error(`${REFUSED}${name}${e instanceof RunRefusal || job?.kind === 'eval' ? '' : THIS_JOB_ONLY}: ${e.message.split('\n')[0]!}`);

  const processor = async (job: Job): Promise<string> => {
    const t0 = performance.now();
    let data: JobData;
    try {
      data = checkJob(job.data, catalog);
    } catch (e) {
      log(`[${name}] ${(e as Error).message}`);
      throw refusal(e as Error);
    }
    const exclusive = data.kind === 'time' || data.kind === 'confirm' || data.kind === 'pipeline';
    const what = `${data.kind}${'shard' in data ? ` shard ${data.shard.index + 1}/${data.shard.count}` : ''} (job ${job.id})`;
    try {
      // with --data-root, every file a job makes this worker read (the data, the files its spec names, each
      // image) must lie inside it or in the model cache: refused before it is read
      const confined = () => (dataRoot ? withInputRoots([dataRoot, cacheDir], `worker ${name}'s --data-root ${dataRoot}`, () => handle(data)) : handle(data));
      const value = await lock.run(exclusive, () => (log(`[${name}] ${what} started`), confined()));
      const ms = performance.now() - t0;
      log(`[${name}] ${what} done in ${(ms / 1000).toFixed(2)} s`);
      return encodeResult({ worker: name, class: cls, ms, value });
    } catch (e) {
      const msg = (e instanceof Error ? e.message : String(e)).split('\n')[0]!;
      log(`[${name}] ${what} failed: ${msg}`);
      // refused (the job's data, models or spec do not pass this worker's checks)
      if (e instanceof InputError) throw refusal(e, data);
      throw e instanceof InferoptError ? e : new Error(msg);
    }
  };

  const common = {
    prefix: PREFIX,
    name,
    lockDuration: lockMs,
    stalledInterval: lockMs,
    maxStalledCount: 2,
  };
  const connections: Redis[] = [];
  const conn = () => {
    const c = new Redis(connectionOptions(target) as never);
    connections.push(c);
    return c;
  };
  const scoreWorker = new Worker(SCORE_QUEUE, processor, { ...common, connection: conn(), concurrency });
  const timeWorker = new Worker(timeQueue(cls), processor, { ...common, connection: conn(), concurrency: 1 });
  let lostSince = 0;
  for (const w of [scoreWorker, timeWorker]) {
    w.on('error', (e) => {
      if (!lostSince) log(`[${name}] Redis error: ${e.message.split('\n')[0]} (retrying)`);
      lostSince ||= Date.now();
    });
  }
  redis.on('ready', () => (lostSince = 0));
  log(`worker ${name} joined ${target.display}: class ${cls} (${describeFingerprint(fingerprint)}), ${concurrency} scoring job${concurrency === 1 ? '' : 's'} at a time`);
  try {
    await new Promise<void>((resolve) => {
      if (o.signal?.aborted) resolve();
      o.signal?.addEventListener('abort', () => resolve(), { once: true });
    });
  } finally {
    clearInterval(heartbeat);
    await Promise.all([scoreWorker.close(), timeWorker.close()]).catch(() => {});
    await redis.hdel(WORKERS_KEY, name).catch(() => {});
    await redis.del(aliveKey(name)).catch(() => {});
    await disconnectAll([...connections, redis]);
    log(`worker ${name} left`);
  }
}

export type { Fingerprint, RedisTarget };
