import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Tensor } from '../ir/tensor.js';
import { randomInputs } from '../runtime/inputs.js';
import { collectStats, computeRanges, dataContentKey } from './calibrate.js';
import { cnnModel } from './fixtures.js';
import { StreamingHistogram } from './histogram.js';
import type { CalibMethod } from './range-methods.js';
import { planStatic } from './static-plan.js';
import { QUANTIZED_OPS } from './static-plan.js';
import { feedsOf } from './stream.js';

/** Rows [from, to) of a batch-major tensor. */
function rows(t: Tensor, from: number, to: number): Tensor {
  const per = t.bytes.length / t.dims[0]!;
  return new Tensor(t.dtype, [to - from, ...t.dims.slice(1)], t.bytes.slice(from * per, to * per), t.name);
}

describe('streaming calibration', () => {
  const model = cnnModel();
  const names = [...planStatic(model.graph, { opTypes: Object.keys(QUANTIZED_OPS), perChannel: 'conv', symmetricActivations: false }).activations].map((v) => v.name);
  const all = randomInputs(model, { dims: { N: 32 }, seed: 5 });
  const batches = Array.from({ length: 16 }, (_, i) => ({ x: rows(all['x']!, 2 * i, 2 * i + 2) }));

  it('gives exactly the same statistics and ranges batch by batch as in one shot, for every method', async () => {
    const streamed = await collectStats(model, feedsOf(batches), names);
    const oneShot = await collectStats(model, feedsOf([all]), names);
    expect(streamed.batches).toBe(16);
    for (const [name, h] of streamed.tensors) expect(Array.from(h.bins), name).toEqual(Array.from(oneShot.tensors.get(name)!.bins));
    for (const method of ['minmax', 'percentile', 'entropy'] as CalibMethod[]) {
      const a = computeRanges(streamed, method, { percentile: 99.9 });
      const b = computeRanges(oneShot, method, { percentile: 99.9 });
      expect([...a.keys()].sort()).toEqual([...b.keys()].sort());
      for (const [name, r] of a) {
        expect(r, `${method} ${name}`).toEqual(b.get(name));
      }
    }
  });

  it('histogram counts do not depend on batch size or order (exact merges, constant memory)', () => {
    const data = Float32Array.from({ length: 4000 }, (_, i) => Math.sin(i * 0.37) * (1 + (i % 13)) * (i > 3000 ? 5 : 1));
    const oneShot = new StreamingHistogram(256);
    oneShot.update(data);
    for (const size of [7, 50, 999]) {
      const streamed = new StreamingHistogram(256);
      for (let i = 0; i < data.length; i += size) streamed.update(data.subarray(i, i + size));
      expect(streamed.bins.length).toBe(256);
      expect(streamed.R).toBe(oneShot.R);
      expect(Array.from(streamed.bins)).toEqual(Array.from(oneShot.bins));
      expect([streamed.min, streamed.max]).toEqual([oneShot.min, oneShot.max]);
    }
  });

  it('caches statistics beside the model and reuses them without reading the data again', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'inferopt-calib-'));
    try {
      const cache = { dir, dataKey: 'fixture-batches' };
      const first = await collectStats(model, feedsOf(batches), names, { cache });
      expect(fs.readdirSync(dir)).toHaveLength(1);
      const untouchable = {
        [Symbol.asyncIterator]() {
          throw new Error('calibration data read although cached');
        },
      } as AsyncIterable<Record<string, Tensor>>;
      const again = await collectStats(model, untouchable, names, { cache });
      expect(computeRanges(again, 'entropy')).toEqual(computeRanges(first, 'entropy'));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('keys the cache on the data\'s content and on every parameter that changes the statistics (bins)', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'inferopt-calib-'));
    try {
      const key = await dataContentKey(feedsOf(batches));
      // the same values under another name or date give the same key; one changed value does not
      const renamed = batches.map((b) => ({ x: new Tensor(b.x.dtype, b.x.dims, b.x.bytes.slice(), 'other') }));
      expect(await dataContentKey(feedsOf(renamed))).toBe(key);
      const changed = renamed.map((b, i) => (i === 3 ? { x: Tensor.float(b.x.dims, b.x.toFloat32().map((v, j) => (j === 0 ? v + 1 : v))) } : b));
      expect(await dataContentKey(feedsOf(changed))).not.toBe(key);
      expect(await dataContentKey(feedsOf(batches.slice(1)))).not.toBe(key);
      const cache = { dir, dataKey: key };
      await collectStats(model, feedsOf(batches), names, { cache, bins: 2048 });
      // other bins: the cached 2048-bin statistics must not be handed back
      const coarse = await collectStats(model, feedsOf(batches), names, { cache, bins: 64 });
      expect([...coarse.tensors.values()][0]!.size).toBe(64);
      expect(fs.readdirSync(dir)).toHaveLength(2);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
