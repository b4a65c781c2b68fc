import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDataset } from '../data/dataset.js';
import { tempDir } from '../data/test-fixtures.js';
import { DataType } from '../ir/dtype.js';
import { GraphBuilder } from '../ir/builder.js';
import { saveModel } from '../ir/io.js';
import { rng } from '../util/random.js';
import { evaluate, resultFromRecords, type EvalRecords } from './evaluate.js';

const FASHION = resolve('data/fashion-mnist-1k');

function linear(seed: number) {
  const rand = rng(seed);
  const w = Float32Array.from({ length: 784 * 10 }, () => rand() - 0.5);
  const b = new GraphBuilder();
  const x = b.input('x', DataType.FLOAT, ['N', 1, 28, 28]);
  b.output(b.op('MatMul', [b.op('Flatten', [x], { axis: 1 }), b.floats('w', [784, 10], w)]), 'logits');
  return b.model({ opset: 17 });
}

describe('evaluation records (sharded evaluation)', () => {
  it('shards merged in any order give exactly the local metrics, intervals and confusion', async () => {
    const model = linear(1);
    const ref = join(tempDir(), 'ref.onnx');
    saveModel(linear(2), ref);
    const opts = { batch: 8, reference: ref, bootstrap: { iterations: 300 } };
    const local = await evaluate(model, await openDataset(FASHION, { limit: 203 }), opts);
    const shards: EvalRecords[] = [];
    for (let index = 0; index < 3; index++) {
      const r = await evaluate(model, await openDataset(FASHION, { limit: 203 }), { ...opts, shard: { index, count: 3 }, records: true });
      // through JSON, as records travel between machines
      shards.push(JSON.parse(JSON.stringify(r.records)) as EvalRecords);
    }
    expect(shards.map((s) => s.samples.length)).toEqual([72, 67, 64]);
    const merged = resultFromRecords([shards[2]!, shards[0]!, shards[1]!], { bootstrap: opts.bootstrap });
    expect(merged.samples).toBe(203);
    expect(merged.task).toBe(local.task);
    expect(merged.metrics).toEqual(local.metrics);
    expect(merged.confusion).toEqual(local.confusion);
    expect(merged.classes).toEqual(local.classes);
    // a different model differs: the comparison can fail
    const other = await evaluate(linear(3), await openDataset(FASHION, { limit: 203 }), { ...opts, records: true });
    expect(resultFromRecords([other.records!], { bootstrap: opts.bootstrap }).metrics.top1).not.toEqual(local.metrics.top1);
  });

  it('refuses a missing or a duplicated shard', async () => {
    const model = linear(1);
    const shard = async (index: number) => (await evaluate(model, await openDataset(FASHION, { limit: 40 }), { batch: 8, shard: { index, count: 2 }, records: true })).records!;
    const [a, b] = [await shard(0), await shard(1)];
    expect(() => resultFromRecords([a])).toThrow(/miss sample 8/);
    expect(() => resultFromRecords([a, b, a])).toThrow(/twice/);
    expect(resultFromRecords([a, b]).samples).toBe(40);
  });
});
