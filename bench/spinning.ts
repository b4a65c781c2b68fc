/**
 * ORT pool threads spinning, and what it does to side-by-side timings (issue 10: a candidate's paired p50 did
 * not match the baseline's own p50). Three settings of the node backend's intra-op pool:
 *   on   — ORT's default: threads spin (busy-wait) after a run, for the next one;
 *   stop — they spin during a run and stop as it returns (session.force_spinning_stop);
 *   off  — they never spin (session.intra_op.allow_spinning 0).
 * For each, the Fashion-MNIST CNN at batch 1 (~0.1 ms) and 32 (~2 ms): a 2-thread session alone, then pairs
 * run in turn (seeded random order per round): 2 threads vs 1 thread, and 2 threads vs 2 threads (the same
 * model in two sessions: any difference is the other session's idle threads taking the cores).
 * Medians of `--runs` rounds (default 300). Run under measure-run (about a minute):
 *   npx tsx bench/spinning.ts [--runs 300]
 */
import * as ort from 'onnxruntime-node';
import { rng } from '../src/util/random.js';

const i = process.argv.indexOf('--runs');
const runs = i > 0 ? Number(process.argv[i + 1]) : 300;
const model = 'models/fashion-mnist/model.onnx';
const CONFIG = {
  on: undefined,
  stop: { session: { force_spinning_stop: '1' } },
  off: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } },
} as const;
type Mode = keyof typeof CONFIG;

const make = (threads: number, mode: Mode) =>
  ort.InferenceSession.create(model, { intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all', ...(CONFIG[mode] ? { extra: CONFIG[mode] } : {}) });
const median = (a: number[]) => [...a].sort((p, q) => p - q)[a.length >> 1]!;

async function time(s: ort.InferenceSession, feeds: Record<string, ort.Tensor>, out: number[]): Promise<void> {
  const t0 = performance.now();
  await s.run(feeds);
  out.push(performance.now() - t0);
}

for (const batch of [1, 32]) {
  const r = rng(batch);
  const x = new ort.Tensor('float32', new Float32Array(batch * 784).map(() => r()), [batch, 1, 28, 28]);
  for (const mode of ['on', 'stop', 'off'] as Mode[]) {
    const [a, b1, b2] = [await make(2, mode), await make(1, mode), await make(2, mode)];
    const feeds = { [a.inputNames[0]!]: x };
    for (const s of [a, b1, b2]) for (let k = 0; k < 10; k++) await s.run(feeds);
    const alone: number[] = [];
    for (let k = 0; k < runs; k++) await time(a, feeds, alone);
    const coin = rng(7);
    const pair = async (b: ort.InferenceSession) => {
      const ta: number[] = [];
      const tb: number[] = [];
      for (let k = 0; k < runs; k++) {
        if (coin() < 0.5) {
          await time(a, feeds, ta);
          await time(b, feeds, tb);
        } else {
          await time(b, feeds, tb);
          await time(a, feeds, ta);
        }
      }
      return [median(ta), median(tb)] as const;
    };
    const [p2, p1] = await pair(b1);
    const [q2, q2b] = await pair(b2);
    const f = (x: number) => x.toFixed(3);
    console.log(
      `batch ${batch}, spinning ${mode.padEnd(4)}: 2t alone p50 ${f(median(alone))} ms | in turn: 2t ${f(p2)} vs 1t ${f(p1)} ms (1t ${f(p2 / p1)}× faster) | 2t ${f(q2)} vs 2t ${f(q2b)} ms`,
    );
    for (const s of [a, b1, b2]) await s.release();
  }
}
