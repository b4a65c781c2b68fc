import { describe, expect, it, vi } from 'vitest';
import { randomInputs } from '../runtime/inputs.js';
import { collectStats, computeRanges } from './calibrate.js';
import { cnnModel } from './fixtures.js';
import * as methods from './range-methods.js';
import { nodeSensitivity } from './sensitivity.js';
import { calibrateFor } from './static.js';
import { planStatic, QUANTIZED_OPS } from './static-plan.js';
import { feedsOf } from './stream.js';

// rangeFrom counted: the entropy method's threshold search is what re-deriving ranges costs
vi.mock('./range-methods.js', async (original) => {
  const m = await original<typeof import('./range-methods.js')>();
  return { ...m, rangeFrom: vi.fn(m.rangeFrom) };
});
const rangeFrom = vi.mocked(methods.rangeFrom);

describe('ranges derived from calibration statistics', () => {
  const model = cnnModel();
  const names = [...planStatic(model.graph, { opTypes: Object.keys(QUANTIZED_OPS), perChannel: 'conv', symmetricActivations: false }).activations].map((v) => v.name);
  const batches = [0, 1, 2].map((seed) => randomInputs(model, { dims: { N: 2 }, seed }));

  it('are derived once per statistics, method and options; the caller gets its own Map', async () => {
    const stats = await collectStats(model, feedsOf(batches), names);
    rangeFrom.mockClear();
    const a = computeRanges(stats, 'entropy');
    expect(rangeFrom).toHaveBeenCalledTimes(stats.tensors.size);
    const b = computeRanges(stats, 'entropy');
    expect(rangeFrom).toHaveBeenCalledTimes(stats.tensors.size); // not again
    expect(b).toEqual(a);
    b.set(names[0]!, { min: -1, max: 1 }); // static quantization ties ranges in the Map it gets
    expect(computeRanges(stats, 'entropy').get(names[0]!)).toEqual(a.get(names[0]!));
    // other options or another method: derived anew
    computeRanges(stats, 'entropy', { symmetric: true });
    computeRanges(stats, 'percentile', { percentile: 99.9 });
    expect(rangeFrom).toHaveBeenCalledTimes(3 * stats.tensors.size);
    // statistics that took more samples since: derived anew, from what they hold now
    const before = stats.tensors.get(names[0]!)!.count;
    stats.tensors.get(names[0]!)!.update(Float32Array.from([1e3, -1e3]));
    expect(stats.tensors.get(names[0]!)!.count).toBe(before + 2);
    const grown = computeRanges(stats, 'entropy');
    expect(rangeFrom).toHaveBeenCalledTimes(4 * stats.tensors.size);
    expect(computeRanges(stats, 'minmax').get(names[0]!)).toMatchObject({ min: -1e3, max: 1e3 });
    expect(grown.size).toBe(a.size);
  });

  it('per-node sensitivity of a static model derives them once, not once per node', async () => {
    const cfg = { mode: 'static' as const, calibMethod: 'entropy' as const, calibration: batches };
    const tensors = (await calibrateFor(model, { ...cfg, opTypes: Object.keys(QUANTIZED_OPS), perChannel: 'conv', symmetricActivations: false, include: [], exclude: [] })).tensors.size;
    rangeFrom.mockClear();
    const ranking = await nodeSensitivity(model, cfg, batches.slice(0, 1));
    expect(ranking.length).toBeGreaterThan(2);
    expect(rangeFrom.mock.calls.length).toBe(tensors);
  });
});
