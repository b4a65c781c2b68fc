/**
 * optimize/eval --workers: how throughput scales with workers, and what coordination costs per job.
 *
 * Part 1 (simulated cost): N = 1, 2, 4, 8 BullMQ workers take jobs of a known cost (each sleeps `--cost` ms:
 * a candidate that takes that long on its own machine). This machine has 2 cores, so N CPU-bound workers
 * here would share them; sleeping jobs model N machines. Model: throughput(N) = N / (cost + overhead) while
 * Redis and the coordinator keep up; efficiency = measured / (N / cost). The jobs go through the real
 * coordinator path (Cluster.run: content-derived job ids, QueueEvents, result decoding).
 *
 * Part 2 (real candidates): one `inferopt worker` process, real jobs of a search on the shipped Fashion-MNIST
 * model (time side by side with the baseline, score a shard); per job, the coordinator's wall time (enqueue →
 * result) minus the worker's own time is the coordination overhead (queueing, Redis round trips, JSON).
 *
 * Needs redis-server (Debian); starts it on a random loopback port. `npx tsx bench/distributed.ts
 * [--cost 200] [--jobs 64] [--real 6]`. Under measure-run for figures you report.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { Cluster, PREFIX } from '../src/distributed/cluster.js';
import { distributedSearch } from '../src/distributed/coordinator.js';
import { encodeResult, type JobData } from '../src/distributed/protocol.js';
import { connectionOptions, parseRedisUrl } from '../src/distributed/redis-url.js';
import { loadModel } from '../src/ir/io.js';
import { searchCatalog } from '../src/search/catalog.js';
import { OnnxEvaluator } from '../src/search/evaluator.js';
import { metricSourceFor } from '../src/search/optimize.js';
import { DEFAULT_SESSION, type Recipe } from '../src/search/recipe.js';
import { timingWorkload } from '../src/search/workload.js';
import { quantileSorted } from '../src/util/stats.js';

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const COST = arg('cost', 200);
const JOBS = arg('jobs', 64);
const REAL = arg('real', 6);
const children: ChildProcess[] = [];
const cleanup = () => children.forEach((c) => c.kill('SIGKILL'));
process.on('exit', cleanup);

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

async function waitFor(child: ChildProcess, re: RegExp): Promise<void> {
  let text = '';
  await new Promise<void>((resolve, reject) => {
    const on = (d: Buffer) => {
      text += d.toString();
      if (re.test(text)) resolve();
    };
    child.stdout?.on('data', on);
    child.stderr?.on('data', on);
    child.on('exit', () => reject(new Error(`exited before ${re}: ${text}`)));
  });
}

const median = (xs: number[]) => quantileSorted(Float64Array.from(xs).sort(), 0.5);
const q = (xs: number[], p: number) => quantileSorted(Float64Array.from(xs).sort(), p);

async function main() {
  const port = await freePort();
  const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(redis);
  await waitFor(redis, /Ready to accept connections/);
  const url = `redis://127.0.0.1:${port}`;
  console.log(`machine: ${os.cpus()[0]?.model.trim()}, ${os.cpus().length} cores; Redis ${url}`);

  // Part 1: simulated candidates of known cost
  console.log(`\n## throughput: ${JOBS} jobs of ${COST} ms each (simulated: sleeping workers = separate machines)`);
  console.log('workers  wall (s)  jobs/s  ideal jobs/s  efficiency  overhead per job (ms) = N·wall/jobs − cost');
  const target = parseRedisUrl(url);
  for (const n of [1, 2, 4, 8]) {
    const cluster = await Cluster.open(url);
    const queue = `bench-sim-${n}`;
    const conns: Redis[] = [];
    const workers = Array.from({ length: n }, (_, i) => {
      const c = new Redis(connectionOptions(target) as never);
      conns.push(c);
      return new Worker(queue, async () => {
        const t0 = performance.now();
        await new Promise((r) => setTimeout(r, COST));
        return encodeResult({ worker: `sim${i}`, class: 'sim', ms: performance.now() - t0, value: null });
      }, { prefix: PREFIX, connection: c, concurrency: 1 });
    });
    await Promise.all(workers.map((w) => w.waitUntilReady()));
    const t0 = performance.now();
    await Promise.all(Array.from({ length: JOBS }, (_, k) => {
      const data = { kind: 'score', k } as unknown as JobData;
      return cluster.run(queue, data, Cluster.jobId(`sim-${n}-${Date.now()}`, data));
    }));
    const wall = (performance.now() - t0) / 1000;
    const ideal = n / (COST / 1000);
    const overhead = (n * wall * 1000) / JOBS - COST;
    console.log(`${String(n).padStart(7)}  ${wall.toFixed(2).padStart(8)}  ${(JOBS / wall).toFixed(2).padStart(6)}  ${ideal.toFixed(2).padStart(12)}  ${((JOBS / wall / ideal) * 100).toFixed(0).padStart(9)}%  ${overhead.toFixed(1).padStart(8)}`);
    await Promise.all(workers.map((w) => w.close()));
    conns.forEach((c) => c.disconnect());
    await cluster.close();
  }

  // Part 2: real candidates through one worker process
  console.log(`\n## coordination overhead per job on real candidates (Fashion-MNIST model, ${REAL} recipes, 1 worker process)`);
  const cache = fs.mkdtempSync(path.join(os.tmpdir(), 'inferopt-bench-dist-'));
  const worker = spawn(process.execPath, [path.resolve('bin/inferopt.js'), 'worker', '--redis', url, '--name', 'bench', '--cache', cache], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(worker);
  await waitFor(worker, /joined/);
  const modelFile = path.resolve('models/fashion-mnist/model.onnx');
  const model = loadModel(modelFile);
  const data = path.resolve('data/fashion-mnist-1k');
  const input = {};
  const metric = await metricSourceFor(model, { data, limit: 200, input });
  const workload = await timingWorkload(model, input, metric, data);
  const catalog = searchCatalog();
  const local = new OnnxEvaluator({ modelFile, catalog, metric, backend: 'node', feedSets: workload.feeds });
  const { evaluator, cluster } = await distributedSearch({ cluster: await Cluster.open(url), modelFile, model, metric, feeds: workload.feeds, local, ctx: { data, limit: 200, input, backend: 'node' }, inputs: { bench: Date.now() }, log: () => {} });
  const base: Recipe = { target: 'cpu', steps: [], session: DEFAULT_SESSION };
  const all: Recipe[] = [
    { ...base, session: { ...DEFAULT_SESSION, threads: 1 } },
    { ...base, steps: [{ pass: 'simplify', params: {} }] },
    { ...base, steps: [{ pass: 'quantize-dynamic', params: {} }] },
    { ...base, steps: [{ pass: 'quantize-static', params: {} }] },
    { ...base, steps: [{ pass: 'quantize-dynamic', params: { perChannel: true } }] },
    { ...base, session: { ...DEFAULT_SESSION, optLevel: 'basic' as const } },
    { ...base, steps: [{ pass: 'simplify', params: {} }, { pass: 'quantize-static', params: { perChannel: true } }] },
  ];
  const recipes = all.slice(0, REAL);
  await evaluator.evaluate(base);
  for (const r of recipes) await evaluator.evaluate(r, base);
  const rows = new Map<string, { wall: number[]; work: number[]; over: number[] }>();
  for (const t of cluster.timings) {
    const row = rows.get(t.kind) ?? { wall: [], work: [], over: [] };
    row.wall.push(t.wallMs);
    row.work.push(t.workerMs);
    row.over.push(t.wallMs - t.workerMs);
    rows.set(t.kind, row);
  }
  console.log('job kind  jobs  wall median (ms)  worker median (ms)  overhead median [min–max] (ms)  overhead share');
  for (const [kind, r] of rows) {
    const share = median(r.over) / median(r.wall);
    console.log(`${kind.padEnd(8)}  ${String(r.wall.length).padStart(4)}  ${median(r.wall).toFixed(1).padStart(16)}  ${median(r.work).toFixed(1).padStart(18)}  ${median(r.over).toFixed(1).padStart(6)} [${q(r.over, 0).toFixed(1)}–${q(r.over, 1).toFixed(1)}]  ${(share * 100).toFixed(1).padStart(13)}%`);
  }
  console.log('(score jobs of one candidate run at once with its time job on the same worker: their wall time includes waiting for the machine lock)');
  await cluster.close();
  worker.kill('SIGTERM');
  await new Promise((r) => worker.on('exit', r));
  fs.rmSync(cache, { recursive: true, force: true });
  redis.kill('SIGTERM');
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    cleanup();
    process.exit(1);
  },
);
