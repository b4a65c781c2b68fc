import { describe, expect, it, vi } from 'vitest';
import { GraphBuilder } from '../ir/builder.js';
import { DataType } from '../ir/dtype.js';
import { Tensor } from '../ir/tensor.js';
import { benchmark, compare } from './bench.js';
import { Session } from './session.js';

/** x[N,width] → (MatMul → Relu) × depth. */
function mlp(depth: number, width = 64) {
  const b = new GraphBuilder();
  let h = b.input('x', DataType.FLOAT, ['N', width]);
  for (let i = 0; i < depth; i++) {
    const w = b.floats('w', [width, width], Array.from({ length: width * width }, (_, k) => Math.sin(k + i) / width));
    h = b.op('Relu', [b.op('MatMul', [h, w])]);
  }
  b.output(h, 'y');
  return b.model({ opset: 17 });
}

/**
 * A clock that only the models' runs move on: each run takes `msOf(its feeds)` (fake) ms, and performance.now()
 * returns that sum, so what is timed does not hang on the machine's speed or load.
 */
async function withRunClock<T>(msOf: (feeds: Record<string, Tensor>) => number, fn: () => Promise<T>): Promise<T> {
  let fake = 0;
  const now = vi.spyOn(performance, 'now').mockImplementation(() => fake);
  const prepareFeeds = Session.prototype.prepareFeeds;
  const runs = vi.spyOn(Session.prototype, 'prepareFeeds').mockImplementation(function (this: Session, feeds) {
    const run = prepareFeeds.call(this, feeds);
    const ms = msOf(feeds);
    return async () => {
      const out = await run();
      fake += ms;
      return out;
    };
  });
  try {
    return await fn();
  } finally {
    now.mockRestore();
    runs.mockRestore();
  }
}

describe('benchmark', () => {
  it('returns sane fields for a tiny model', async () => {
    const progress: number[] = [];
    const r = await benchmark(mlp(2), { runs: 8, warmup: 2, threads: 1, dims: { N: 4 }, onProgress: (f) => progress.push(f) });
    expect(r.backend).toBe('node');
    expect(r.threads).toBe(1);
    expect(r.inputs).toEqual([{ name: 'x', type: 'float32', shape: [4, 64] }]);
    expect(r.batch).toBe(4);
    expect(r.timesMs).toHaveLength(8);
    expect(r.latencyMs.n).toBe(8);
    const { min, p50, p90, p99, max, mean, stdev } = r.latencyMs;
    expect(min).toBeGreaterThan(0);
    expect(min).toBeLessThanOrEqual(p50);
    expect(p50).toBeLessThanOrEqual(p90);
    expect(p90).toBeLessThanOrEqual(p99);
    expect(p99).toBeLessThanOrEqual(max);
    expect(mean).toBeGreaterThanOrEqual(min);
    expect(mean).toBeLessThanOrEqual(max);
    expect(stdev).toBeGreaterThanOrEqual(0);
    expect(r.sessionCreateMs).toBeGreaterThan(0);
    expect(r.throughput.inferencesPerSec).toBeCloseTo(1000 / mean, 6);
    expect(r.throughput.samplesPerSec).toBeCloseTo(4 * r.throughput.inferencesPerSec, 6);
    expect(r.memory.peakRssBytes).toBeGreaterThan(10 * 2 ** 20);
    expect(r.memory.sessionRssBytes).toBeGreaterThanOrEqual(0);
    expect(progress).toHaveLength(8);
    expect(progress.at(-1)).toBe(1);
  });

  it('runs for a given time, uses given inputs, and refuses runs together with seconds', async () => {
    const feeds = { x: Tensor.float([2, 64], new Array(128).fill(0.25)) };
    // runs of 10 (fake) ms: 0.2 s is 20 of them, the last one reaching 0.2 s (the warm-up run is not timed);
    // a batch of 3 takes 500 ms a run: still the two runs a latency needs
    await withRunClock((f) => (f.x!.dims[0] === 3 ? 500 : 10), async () => {
      const r = await benchmark(mlp(1), { seconds: 0.2, warmup: 1, threads: 1, feeds });
      expect(r.inputs[0]!.shape).toEqual([2, 64]);
      expect(r.timesMs).toEqual(new Array(20).fill(10));
      // at least two runs, however long one takes
      const slow = await benchmark(mlp(1), { seconds: 0.2, warmup: 1, threads: 1, feeds: { x: Tensor.float([3, 64], new Array(192).fill(0.25)) } });
      expect(slow.timesMs).toEqual([500, 500]);
    });
    await expect(benchmark(mlp(1), { runs: 3, seconds: 1 })).rejects.toThrow(/not both/);
  });

  it('bounds runs, warm-up, seconds, threads and generated input bytes as the CLI flags do, before any work', async () => {
    // each of these hung (1e12 runs or seconds), crashed ORT (1e9 threads: bad_alloc) or slipped through
    const cases: [object, RegExp][] = [
      [{ runs: 1e12 }, /^runs 1000000000000: at most 10000000$/],
      [{ runs: 0 }, /^runs must be an integer ≥ 1, not '0'$/],
      [{ warmup: 1e12 }, /^warmup 1000000000000: at most 10000000$/],
      [{ warmup: -1 }, /^warmup must be an integer ≥ 0/],
      [{ seconds: 1e12 }, /^seconds 1000000000000: at most 604800 \(a week\)$/],
      [{ seconds: Infinity }, /^seconds must be a positive number, not 'Infinity'$/],
      [{ seconds: NaN }, /^seconds must be a positive number/],
      [{ threads: 1e9 }, /^threads 1000000000: at most 1024$/],
      [{ threads: 0 }, /^threads must be an integer ≥ 1, not '0'$/],
      [{ threads: 1.5 }, /^threads must be an integer ≥ 1, not '1.5'$/],
      [{ dims: { N: 1e9 } }, /input 'x' \[1000000000x64\] would take .* over the 2.15 GB limit for generated data/],
    ];
    const create = vi.spyOn(Session, 'create');
    try {
      for (const [o, re] of cases) {
        const err = await benchmark(mlp(1), { dims: { N: 1 }, ...o }).then(() => undefined, (e: Error) => e);
        expect(err?.name, JSON.stringify(o)).toBe('InputError');
        expect(err?.message).toMatch(re);
        // refused before any work: no session was made (so nothing was run, and no input data was generated)
        expect(create, JSON.stringify(o)).not.toHaveBeenCalled();
      }
    } finally {
      create.mockRestore();
    }
    // compare checks B's own settings too
    await expect(compare(mlp(1), mlp(1), { runs: 2, dims: { N: 1 } }, { threads: 5000 })).rejects.toThrow(/^threads 5000: at most 1024$/);
  });
});

describe('compare', () => {
  it('interleaves A and B in a seeded random order and reports B/A', async () => {
    const opts = { runs: 12, warmup: 1, threads: 1, dims: { N: 16 }, seed: 7 };
    // B (x[16,512], 256× the arithmetic of A) takes 4 (fake) ms a run, A 1 ms: the clock moves only with their runs
    const c = await withRunClock((f) => (f.x!.dims[1] === 512 ? 4 : 1), () => compare(mlp(1, 64), mlp(4, 512), opts));
    expect(c.order).toHaveLength(24);
    // every round runs both, once each, and both orders occur
    const rounds = Array.from({ length: 12 }, (_, i) => c.order.slice(2 * i, 2 * i + 2).join(''));
    expect(rounds.every((r) => r === 'AB' || r === 'BA')).toBe(true);
    expect(rounds).toContain('AB');
    expect(rounds).toContain('BA');
    expect(c.a.timesMs).toHaveLength(12);
    expect(c.b.timesMs).toHaveLength(12);
    expect(c.ratio.ratio).toBeCloseTo(c.b.latencyMs.p50 / c.a.latencyMs.p50, 10);
    expect(c.ratio.low).toBeLessThanOrEqual(c.ratio.ratio);
    expect(c.ratio.high).toBeGreaterThanOrEqual(c.ratio.ratio);
    expect(c.ratio.confidence).toBe(0.95);
    // each side timed over its own runs only: B/A, not A/B, and nothing of the other side's runs in either
    expect(c.a.timesMs).toEqual(new Array(12).fill(1));
    expect(c.b.timesMs).toEqual(new Array(12).fill(4));
    expect(c.ratio).toMatchObject({ ratio: 4, low: 4, high: 4 });
    // the order depends on the seed only
    const again = await compare(mlp(1, 64), mlp(1, 64), opts);
    expect(again.order).toEqual(c.order);
  });

  it('ends after the round `enough` says so, with both sides timed equally often', async () => {
    const seen: number[] = [];
    const c = await compare(mlp(1, 64), mlp(1, 64), { runs: 12, warmup: 1, threads: 1, dims: { N: 4 } }, {}, (a, b) => {
      seen.push(a.length, b.length);
      return a.length >= 4;
    });
    expect(c.a.timesMs).toHaveLength(4);
    expect(c.b.timesMs).toHaveLength(4);
    expect(c.order).toHaveLength(8);
    expect(seen).toEqual([2, 2, 3, 3, 4, 4]); // asked from the second round on (a ratio needs two)
  });

  it('gives B its own session settings when asked (A keeps the shared ones)', async () => {
    const opts = { runs: 3, warmup: 1, threads: 1, optLevel: 'all' as const, dims: { N: 4 } };
    const c = await compare(mlp(1, 64), mlp(1, 64), opts, { threads: 2, optLevel: 'basic' });
    expect([c.a.threads, c.a.optLevel]).toEqual([1, 'all']);
    expect([c.b.threads, c.b.optLevel]).toEqual([2, 'basic']);
  });

  // Two 2-thread ResNet-18 sessions timed in turn ran at 18.8 ms each against 9.5 ms alone: the waiting
  // session's threads spun on the cores the timed one needed (measured: bench --compare of a model with itself)
  // Never spinning (the fix for that) slowed a 0.14 ms model on 2 threads by half in the pair, and a 1-thread
  // candidate looked 1.5× faster than it was alone: both sides spin during their runs, not after (bench/spinning.ts)
  it('times both sides with ORT threads that spin during a run and sleep between runs; a lone benchmark keeps ORT’s default', async () => {
    const create = vi.spyOn(Session, 'create');
    try {
      const opts = { runs: 2, warmup: 1, threads: 2, dims: { N: 4 } };
      await compare(mlp(1, 64), mlp(1, 64), opts, { threads: 1 });
      const compared = create.mock.calls.map((c) => c[1]).filter((o) => o?.dims?.N === 4);
      expect(compared.map((o) => [o?.threads, o?.spinning])).toEqual([
        [2, 'run'],
        [1, 'run'],
      ]);
      create.mockClear();
      await benchmark(mlp(1, 64), opts);
      expect(create.mock.calls.map((c) => c[1]).filter((o) => o?.dims?.N === 4).map((o) => o?.spinning)).toEqual([undefined]);
    } finally {
      create.mockRestore();
    }
  });
});

describe('the timed inputs', () => {
  /** x[N, W] → Relu: W is a workload size (a line's width), not a batch. */
  function widthModel() {
    const b = new GraphBuilder();
    b.output(b.op('Relu', [b.input('x', DataType.FLOAT, ['N', 'W'])]), 'y');
    return b.model({ opset: 17 });
  }

  it('refuses a non-batch dim nothing sizes instead of timing it at 1', async () => {
    await expect(benchmark(widthModel(), { runs: 2 })).rejects.toThrow(/dim 'W' \(axis 1\) has no size and would be timed at 1; give it with --dim W=N or --shape x=1xN/);
    const r = await benchmark(widthModel(), { runs: 2, warmup: 0, dims: { W: 300 } });
    expect(r.inputs[0]!.shape).toEqual([1, 300]);
  });

  it('cycles through several input sets, keeps dims that vary symbolic, and reports each shape', async () => {
    const set = (w: number) => ({ x: Tensor.float([1, w], new Array(w).fill(1)) });
    const r = await benchmark(widthModel(), { runs: 6, warmup: 0, threads: 1, feedSets: [set(320), set(320), set(160)] });
    expect(r.shapes).toEqual([{ shapes: 'x=1x320', count: 2 }, { shapes: 'x=1x160', count: 1 }]);
    expect(r.inputs[0]!.shape).toEqual([1, 320]);
    expect(r.timesMs).toHaveLength(6);
    expect(r.warmup).toBe(3); // one untimed run per set at least, and it says so (it said 0)
    await expect(benchmark(widthModel(), { runs: 1, feeds: set(8), feedSets: [set(8)] })).rejects.toThrow(/not both/);
  });
});
