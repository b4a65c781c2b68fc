import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DataType } from '../../ir/dtype.js';
import { GraphBuilder } from '../../ir/builder.js';
import type { Model } from '../../ir/graph.js';
import { randomInputs } from '../../runtime/inputs.js';
import { Session, type Backend } from '../../runtime/session.js';
import type { Peak } from './roofline.js';

/**
 * Measures this machine's ceilings through ONNX Runtime itself: fp32 GEMM GFLOP/s (a 512³ MatMul) and memory
 * bandwidth (a ReduceSum reading 64 MB; an op that writes as much as it reads would time the allocation too). Cached per CPU model, backend and threads in
 * ~/.cache/inferopt (or $INFEROPT_CACHE), since it costs a couple of seconds and does not change; the cache keeps
 * the highest figures measured and is not written while the load average exceeds 3/4 of the cores.
 */
export async function measuredPeak(backend: Backend, threads: number, opts: { cacheDir?: string; refresh?: boolean } = {}): Promise<Peak & { cached: boolean }> {
  const cpu = os.cpus()[0]?.model ?? 'cpu';
  const key = crypto.createHash('sha256').update(`${cpu}|${os.cpus().length}|${backend}|${threads}|v2`).digest('hex').slice(0, 16);
  const dir = opts.cacheDir ?? process.env.INFEROPT_CACHE ?? path.join(os.homedir(), '.cache', 'inferopt');
  const file = path.join(dir, `peak-${key}.json`);
  if (!opts.refresh) {
    try {
      const p = JSON.parse(fs.readFileSync(file, 'utf8')) as Peak;
      if (p.gflops > 0 && p.gbps > 0) return { ...p, cached: true };
    } catch {
      /* not cached yet */
    }
  }
  const n = 512;
  const gemmMs = await fastestRunMs(gemmModel(n), backend, threads, 15);
  const elems = 16 * 1024 * 1024;
  const readMs = await fastestRunMs(streamModel(elems), backend, threads, 10);
  const measured: Peak = { gflops: (2 * n ** 3) / (gemmMs * 1e6), gbps: (4 * elems) / (readMs * 1e6) };
  // A ceiling only goes up: a measurement taken while other work shared the cores reads low, so the cache keeps
  // the best figure seen, and a measurement made on a busy machine is used once but not remembered.
  let previous: Peak | undefined;
  try {
    previous = JSON.parse(fs.readFileSync(file, 'utf8')) as Peak;
  } catch {
    /* nothing cached */
  }
  const peak = mergePeak(previous, measured);
  const busy = os.loadavg()[0]! > os.cpus().length * 0.75;
  if (!busy) {
    try {
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(file, JSON.stringify({ ...peak, cpu, backend, threads }));
    } catch {
      /* an unwritable cache only costs time */
    }
  }
  return { ...peak, cached: false };
}

/** The cached ceilings after a new measurement: the higher of each (a busy machine only ever reads low). */
export function mergePeak(previous: Peak | undefined, measured: Peak): Peak {
  return { gflops: Math.max(measured.gflops, previous?.gflops ?? 0), gbps: Math.max(measured.gbps, previous?.gbps ?? 0) };
}

function gemmModel(n: number): Model {
  const b = new GraphBuilder();
  const a = b.input('a', DataType.FLOAT, [n, n]);
  const c = b.input('b', DataType.FLOAT, [n, n]);
  b.output(b.op('MatMul', [a, c]), 'y');
  return b.model({ opset: 17 });
}

function streamModel(elems: number): Model {
  const b = new GraphBuilder();
  const x = b.input('x', DataType.FLOAT, [elems]);
  b.output(b.op('ReduceSum', [x], { keepdims: 0 }), 'y');
  return b.model({ opset: 17 });
}

async function fastestRunMs(model: Model, backend: Backend, threads: number, runs: number): Promise<number> {
  const s = await Session.create(model, { backend, threads });
  try {
    const run = s.prepareFeeds(randomInputs(model));
    for (let i = 0; i < 3; i++) await run();
    const times: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      await run();
      times.push(performance.now() - t0);
    }
    // the fastest run is the best estimate of a ceiling (slower runs met other work on shared cores)
    return Math.min(...times);
  } finally {
    await s.release();
  }
}
