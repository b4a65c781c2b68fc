import { Queue, QueueEvents } from 'bullmq';
import { Redis } from 'ioredis';
import { InferoptError, InputError } from '../errors.js';
import type { Fingerprint } from './fingerprint.js';
import { decodeResult, type JobData } from './protocol.js';
import { disconnectAll } from './disconnect.js';
import { connectionOptions, parseRedisUrl, type RedisTarget } from './redis-url.js';
import { putBlob, sha256 } from './store.js';
import type { ResultMeta } from './worker.js';

/** BullMQ key prefix of every queue. */
export const PREFIX = 'inferopt';
/** Scoring jobs: any worker takes them. */
export const SCORE_QUEUE = 'score';
/** Timing jobs of one hardware class: only its workers take them, so that paired figures stay comparable. */
export const timeQueue = (cls: string) => `time-${cls}`;
/** Registered workers: name → WorkerInfo (JSON). */
export const WORKERS_KEY = `${PREFIX}:workers`;
/** Set while the worker runs (refreshed every few seconds, expires after a crash). */
export const aliveKey = (name: string) => `${PREFIX}:alive:${name}`;

export interface WorkerInfo {
  name: string;
  class: string;
  fingerprint: Fingerprint;
  concurrency: number;
  startedAt: string;
  host: string;
  pid: number;
}

/** How a worker's refusal of a job begins (its reason follows the worker's name). */
export const REFUSED = 'refused by worker ';
/** Follows the worker's name when the refusal is of that job's own content (its candidate), not of the run. */
export const THIS_JOB_ONLY = ' (this job only)';

/**
 * What a worker refuses for the whole run, not for one job: the run's data (outside its --data-root, other
 * data than the coordinator's), the input model, the frames, the backend. Any other refusal (a recipe it will
 * not build, a candidate's model or spec that does not pass its checks) is of that job only.
 */
export class RunRefusal extends InputError {}

/**
 * A worker refused a job for the whole run: the data lie outside its --data-root, the input model's hash does
 * not verify, its data differ from the coordinator's… Every job of the run would be refused alike: one line,
 * exit 2, the run stops.
 */
export class JobRefusedError extends InferoptError {
  readonly abortsSearch = true;
  constructor(message: string) {
    super(message, 2);
  }
}

/**
 * A worker refused one candidate's job (its recipe, its model or spec): the candidate is judged failed with
 * this reason and the search goes on. On the baseline (nothing to compare with) it is the user's one line.
 */
export class CandidateRefusedError extends InputError {
  readonly candidateOnly = true;
}

/** A failed job's error on the coordinator: a refusal for the run, a refusal of the job alone, or as it came. */
export function jobError(e: Error): Error {
  const m = e?.message;
  if (typeof m !== 'string' || !m.startsWith(REFUSED)) return e;
  const only = /^refused by worker [A-Za-z0-9._-]{1,64} \(this job only\): /.test(m); // REFUSED, a worker's name, THIS_JOB_ONLY
  return only ? new CandidateRefusedError(m) : new JobRefusedError(m);
}

/** Redis could not be reached or was lost: one line, exit 1 (not the user's input). */
export class RedisError extends InferoptError {
  /** Not a failed candidate: the search cannot go on (src/search rethrows it). */
  readonly abortsSearch = true;
  constructor(message: string) {
    super(message, 1);
  }
}

/** Connects, or throws one line saying why not. After the first connection, lost connections are retried. */
export async function connectOrFail(target: RedisTarget, timeoutMs = 5000): Promise<Redis> {
  const r = new Redis(connectionOptions(target, { lazyConnect: true, retryStrategy: () => null, connectTimeout: timeoutMs }) as never);
  let last = '';
  r.on('error', (e: Error) => (last = e.message));
  try {
    await r.connect();
    await r.ping();
  } catch (e) {
    r.disconnect();
    // the socket's own error says why (ECONNREFUSED, WRONGPASS…); the rejection only says the connection closed
    const why = (last || (e as Error).message).split('\n')[0]!;
    throw new RedisError(`cannot reach Redis at ${target.display}: ${why}`);
  }
  r.options.retryStrategy = (times: number) => Math.min(200 * times, 2000);
  return r;
}

export interface WorkerStats {
  worker: string;
  class: string;
  jobs: number;
  busyMs: number;
  kinds: Record<string, number>;
}

/**
 * The coordinator's side of the queues: enqueues jobs under ids derived from their content (the same job
 * is never queued twice; a resumed search finds the results already there), waits for their results, keeps
 * per-worker counts, and notices a lost Redis.
 */
export class Cluster {
  private readonly queues = new Map<string, { queue: Queue; events: QueueEvents }>();
  private readonly connections: Redis[] = [];
  private readonly counted = new Set<string>();
  readonly stats = new Map<string, WorkerStats>();
  /** Every job's wall time here (enqueue to result) and on its worker: the difference is the coordination overhead. */
  readonly timings: { kind: string; wallMs: number; workerMs: number }[] = [];
  running = 0;
  private closed = false;
  private lost?: RedisError;
  private readonly losers = new Set<(e: RedisError) => void>();
  private readonly watchdog: NodeJS.Timeout;
  private lastOk = Date.now();
  /** Called after each job finishes (the live view). */
  onProgress?: () => void;

  private constructor(
    readonly target: RedisTarget,
    readonly redis: Redis,
    private readonly lostAfterMs: number,
  ) {
    this.watchdog = setInterval(() => void this.probe(), 1000);
    this.watchdog.unref();
  }

  static async open(url: string, opts: { lostAfterMs?: number } = {}): Promise<Cluster> {
    const target = parseRedisUrl(url);
    return new Cluster(target, await connectOrFail(target), opts.lostAfterMs ?? 10_000);
  }

  private async probe(): Promise<void> {
    if (this.lost) return;
    if (this.redis.status === 'ready') {
      try {
        await Promise.race([this.redis.ping(), new Promise((_, no) => setTimeout(no, 2000).unref())]);
        this.lastOk = Date.now();
        return;
      } catch {
        // fall through: not answering
      }
    }
    if (Date.now() - this.lastOk > this.lostAfterMs) {
      this.lost = new RedisError(`lost Redis at ${this.target.display} (no answer for ${Math.round(this.lostAfterMs / 1000)} s)`);
      for (const f of this.losers) f(this.lost);
    }
  }

  /** The workers running now (registered and alive). */
  async workers(): Promise<WorkerInfo[]> {
    const all = await this.redis.hgetall(WORKERS_KEY);
    const out: WorkerInfo[] = [];
    for (const [name, json] of Object.entries(all)) {
      if (!(await this.redis.exists(aliveKey(name)))) continue;
      try {
        out.push(JSON.parse(json) as WorkerInfo);
      } catch {
        // a malformed registration is not a worker
      }
    }
    return out.sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  /** Stores a model (hash-addressed); fails with the lost-Redis error rather than waiting for a server that is gone. */
  put(bytes: Uint8Array): Promise<string> {
    return this.whileUp(putBlob(this.redis, bytes));
  }

  /** `p`, or the lost-Redis error as soon as the watchdog declares Redis lost (commands would wait for it forever). */
  private async whileUp<T>(p: Promise<T>): Promise<T> {
    if (this.lost) throw this.lost;
    p.catch(() => {}); // settled after the loss: nobody waits for it any more
    let onLost: ((e: RedisError) => void) | undefined;
    try {
      return await Promise.race([
        p,
        new Promise<never>((_, reject) => {
          onLost = reject;
          this.losers.add(reject);
        }),
      ]);
    } finally {
      if (onLost) this.losers.delete(onLost);
    }
  }

  private async queueFor(name: string): Promise<{ queue: Queue; events: QueueEvents }> {
    let q = this.queues.get(name);
    if (!q) {
      const conn = () => {
        const c = new Redis(connectionOptions(this.target, { retryStrategy: (t: number) => Math.min(200 * t, 2000) }) as never);
        c.on('error', () => {});
        this.connections.push(c);
        return c;
      };
      const queue = new Queue(name, { prefix: PREFIX, connection: conn() });
      const events = new QueueEvents(name, { prefix: PREFIX, connection: conn() });
      queue.on('error', () => {});
      events.on('error', () => {});
      // every job waiting for its result listens on both (an eval has a shard per worker slot)
      queue.setMaxListeners(0);
      events.setMaxListeners(0);
      q = { queue, events };
      this.queues.set(name, q);
      await events.waitUntilReady();
    }
    return q;
  }

  /** A job id from the job's content and the search it belongs to. */
  static jobId(scope: string, data: JobData): string {
    return sha256(new TextEncoder().encode(`${scope}\n${JSON.stringify(data)}`)).slice(0, 40);
  }

  /**
   * Runs a job and returns its value with who computed it. A job whose worker dies is retried by BullMQ on
   * another worker (stalled-job handling); its result is counted once, whatever happened on the way.
   */
  async run<T>(queueName: string, data: JobData, jobId: string): Promise<{ value: T } & ResultMeta> {
    if (this.lost) throw this.lost;
    const { queue, events } = await this.whileUp(this.queueFor(queueName));
    const week = 7 * 24 * 3600;
    const t0 = performance.now();
    const job = await this.whileUp(queue.add(data.kind, data, { jobId, attempts: 1, removeOnComplete: { age: week }, removeOnFail: { age: week } }));
    this.running++;
    try {
      const raw = await this.whileUp(
        job.waitUntilFinished(events).catch((e: Error) => {
          throw jobError(e);
        }),
      );
      const r = decodeResult<{ value: T } & ResultMeta>(raw);
      if (!this.counted.has(jobId)) {
        this.counted.add(jobId);
        this.timings.push({ kind: data.kind, wallMs: performance.now() - t0, workerMs: r.ms });
        const s = this.stats.get(r.worker) ?? { worker: r.worker, class: r.class, jobs: 0, busyMs: 0, kinds: {} };
        s.jobs++;
        s.busyMs += r.ms;
        s.kinds[data.kind] = (s.kinds[data.kind] ?? 0) + 1;
        this.stats.set(r.worker, s);
      }
      return r;
    } finally {
      this.running--;
      this.onProgress?.();
    }
  }

  /** One line for the live view: jobs running, and per worker the jobs done and their busy time. */
  progressLine(): string {
    const per = [...this.stats.values()].map((s) => `${s.worker} ${s.jobs} done (${(s.busyMs / 1000).toFixed(1)} s)`);
    return `workers: ${this.running} job${this.running === 1 ? '' : 's'} running${per.length ? ' · ' + per.join(' · ') : ''}`;
  }

  /** Closes the queues (at most a few seconds: with Redis gone, BullMQ's close would wait for it forever). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.watchdog);
    const all = [...this.queues.values()];
    const closing = Promise.all(all.flatMap((q) => [q.queue.close().catch(() => {}), q.events.close().catch(() => {})]));
    await Promise.race([closing, new Promise((r) => setTimeout(r, 3000).unref())]);
    await disconnectAll([...this.connections, this.redis]);
  }
}
