import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { saveModel } from '../ir/io.js';
import { Tensor } from '../ir/tensor.js';
import { cnnModel } from '../quantize/fixtures.js';
import { randomInputs } from '../runtime/inputs.js';
import { searchCatalog } from './catalog.js';
import { OnnxEvaluator, type Timer } from './evaluator.js';
import { PAIRED_SPINNING, type BenchOptions, type BenchResult, type CompareResult } from '../runtime/bench.js';
import { bootstrapMedianRatio, summarize } from '../util/stats.js';
import type { MetricSource } from './metric.js';
import { DEFAULT_SESSION, type Recipe } from './recipe.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'inferopt-evaluator-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A metric source whose calibration feeds are given; its name and note are the same for every data. */
function source(calibration: Record<string, Tensor>[]): MetricSource {
  const unused = () => Promise.reject(new Error('not scored in this test'));
  return { name: 'top1', source: 'data', note: 'on the same-named data', score: unused, select: unused, calibration: async () => calibration, scoreShard: unused, fromRecords: () => { throw new Error('unused'); } };
}

describe('OnnxEvaluator caches', () => {
  // the calibration cache was keyed on the metric's note and the sample count: other data with the same name
  // and count reused the first data's statistics
  it('keys calibration statistics on the feeds’ content: same note and count, other data, other scales', async () => {
    const modelFile = path.join(dir, 'cnn.onnx');
    saveModel(cnnModel(), modelFile);
    const model = cnnModel();
    const feeds = (scale: number) =>
      [0, 1, 2, 3].map((seed) => {
        const f = randomInputs(model, { dims: { N: 1 }, seed });
        return Object.fromEntries(Object.entries(f).map(([k, x]) => [k, Tensor.float([...x.dims], x.toNumbers().map((v) => v * scale))]));
      });
    const recipe: Recipe = { target: 'cpu', steps: [{ pass: 'quantize-static', params: {} }], session: DEFAULT_SESSION };
    const cacheDir = path.join(dir, 'cache');
    const build = async (scale: number) => (await new OnnxEvaluator({ modelFile, catalog: searchCatalog(), metric: source(feeds(scale)), backend: 'node', cacheDir }).build(recipe)).bytes;
    const small = await build(1);
    const again = await build(1);
    const large = await build(50);
    expect(Buffer.from(again).equals(Buffer.from(small))).toBe(true); // same data: the same model (cached or not)
    expect(Buffer.from(large).equals(Buffer.from(small))).toBe(false); // other data: its own activation scales
    expect(fs.readdirSync(cacheDir).length).toBeGreaterThanOrEqual(2);
  });

  it('builds recipes that start with the same graph steps from one simplified copy: the same bytes as a fresh build', async () => {
    const modelFile = path.join(dir, 'cnn-prefix.onnx');
    saveModel(cnnModel(), modelFile);
    const model = cnnModel();
    const feeds = [0, 1].map((seed) => randomInputs(model, { dims: { N: 1 }, seed }));
    const cacheDir = path.join(dir, 'cache-prefix');
    const evaluator = () => new OnnxEvaluator({ modelFile, catalog: searchCatalog(), metric: source(feeds), backend: 'node', cacheDir });
    const recipe = (pass: string, params: Record<string, unknown> = {}): Recipe => ({ target: 'cpu', steps: [{ pass: 'simplify', params: {} }, { pass, params }], session: DEFAULT_SESSION });
    const warm = evaluator();
    const first = await warm.build(recipe('quantize-static'));
    const second = await warm.build(recipe('quantize-dynamic', { perChannel: true }));
    const third = await warm.build(recipe('convert-half'));
    for (const [r, b] of [[recipe('quantize-static'), first], [recipe('quantize-dynamic', { perChannel: true }), second], [recipe('convert-half'), third]] as const) {
      const fresh = await evaluator().build(r);
      expect(Buffer.from(b.bytes).equals(Buffer.from(fresh.bytes)), r.steps[1]!.pass).toBe(true);
      expect(b.steps.map((s) => s.pass)).toEqual(['simplify', r.steps[1]!.pass]);
    }
    // the simplified copy is never changed by the steps after it (the first build is out of the last-two cache: rebuilt)
    const again = await warm.build(recipe('quantize-static'));
    expect(again).not.toBe(first);
    expect(Buffer.from(again.bytes).equals(Buffer.from(first.bytes))).toBe(true);
  });

  it('stops timing a candidate whose paired interval cannot reach the bar, unless it could win on size', async () => {
    const modelFile = path.join(dir, 'cnn-bar.onnx');
    saveModel(cnnModel(), modelFile);
    const ev = new OnnxEvaluator({ modelFile, catalog: searchCatalog(), metric: source([]), backend: 'node', runs: 30, dims: { N: 1 } });
    const base: Recipe = { target: 'cpu', steps: [], session: DEFAULT_SESSION };
    const cand: Recipe = { target: 'cpu', steps: [{ pass: 'simplify', params: {} }], session: DEFAULT_SESSION };
    await ev.time(base);
    const size = (await ev.build(cand)).bytes.length;
    // nothing is 100× faster than the baseline: stopped at the first look (a third of the rounds)
    const hopeless = await ev.time(cand, base, { speedup: 100, sizeBytes: size });
    expect(hopeless.stoppedEarly).toEqual({ rounds: 10, of: 30, bar: 100 });
    expect(hopeless.vsBaseline!.high).toBeLessThan(100);
    // a bar below anything it could be: timed to the end
    const easy = await ev.time(cand, base, { speedup: 0.01, sizeBytes: size });
    expect(easy.stoppedEarly).toBeUndefined();
    expect(easy.latency.samples).toHaveLength(30);
    // as much smaller than the incumbent as wins on size alone: timed to the end whatever its speed
    const smaller = await ev.time(cand, base, { speedup: 100, sizeBytes: size * 2 });
    expect(smaller.stoppedEarly).toBeUndefined();
    expect(smaller.latency.samples).toHaveLength(30);
  });

  // optimize --workers printed "p50 0.21 ms (1.53× vs baseline side by side)" under a baseline p50 of 0.14 ms:
  // the p50 and the ratio were of one paired run (the baseline ran at 0.32 ms there), the 0.14 ms of another
  // run, the baseline alone — and with ORT's threads spinning between runs, which the pairs did not allow
  it('gives the baseline p50 of the same paired run beside the ratio, and times the baseline alone as the pairs do', async () => {
    const modelFile = path.join(dir, 'cnn-p50.onnx');
    saveModel(cnnModel(), modelFile);
    const seen: BenchOptions[] = [];
    const result = (times: number[]) => ({ latencyMs: summarize(times), timesMs: times }) as unknown as BenchResult;
    const timer: Timer = {
      async benchmark(_m, opts) {
        seen.push(opts);
        return result([0.13, 0.14, 0.15]);
      },
      async compare(_a, _b, opts) {
        seen.push(opts);
        const a = Array.from({ length: 20 }, (_, i) => 0.32 + (i % 3) * 0.001);
        const b = Array.from({ length: 20 }, (_, i) => 0.21 + (i % 3) * 0.001);
        return { a: result(a), b: result(b), ratio: bootstrapMedianRatio(a, b, { paired: true }), order: [] } as CompareResult;
      },
    };
    const ev = new OnnxEvaluator({ modelFile, catalog: searchCatalog(), metric: source([]), backend: 'node', runs: 20, dims: { N: 1 }, timer });
    const base: Recipe = { target: 'cpu', steps: [], session: DEFAULT_SESSION };
    const cand: Recipe = { target: 'cpu', steps: [{ pass: 'simplify', params: {} }], session: { ...DEFAULT_SESSION, threads: 1 } };
    const alone = await ev.time(base);
    expect(alone.latency.p50).toBeCloseTo(0.14, 9);
    const t = await ev.time(cand, base);
    expect(t.latency.p50).toBeCloseTo(0.211, 9);
    expect(t.vsBaseline!.baselineP50).toBeCloseTo(0.321, 9);
    expect(t.vsBaseline!.speedup).toBeCloseTo(0.321 / 0.211, 2);
    // every timing of the search, alone or paired, with the same spinning setting
    expect(new Set(seen.map((o) => o.spinning))).toEqual(new Set([PAIRED_SPINNING]));
  });
});
