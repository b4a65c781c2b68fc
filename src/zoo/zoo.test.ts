import { describe, expect, it } from 'vitest';
import { DataType } from '../ir/dtype.js';
import type { Model } from '../ir/graph.js';
import { modelToBytes } from '../ir/io.js';
import { Tensor } from '../ir/tensor.js';
import { randomInputs } from '../runtime/inputs.js';
import { Session } from '../runtime/session.js';
import { buildZooModel, countParameters, zooNames, type ZooOptions } from './index.js';

/** Runs the graph as built: ORT's own fusions are off, so our patterns are what gets computed. */
async function run(model: Model, feeds: Record<string, Tensor>, dims: Record<string, number>): Promise<Record<string, Tensor>> {
  const session = await Session.create(model, { dims, threads: 1, optLevel: 'disabled' });
  try {
    return await session.run(feeds);
  } finally {
    await session.release();
  }
}

/** Finite everywhere and not (nearly) constant. */
function expectLively(t: Tensor): void {
  const a = t.toFloat32();
  let min = Infinity;
  let max = -Infinity;
  for (const x of a) {
    expect(Number.isFinite(x)).toBe(true);
    min = Math.min(min, x);
    max = Math.max(max, x);
  }
  expect(max - min).toBeGreaterThan(1e-3);
}

function maxAbsDiff(a: Tensor, b: Tensor): number {
  const x = a.toFloat32();
  const y = b.toFloat32();
  expect(x.length).toBe(y.length);
  let d = 0;
  for (let i = 0; i < x.length; i++) d = Math.max(d, Math.abs(x[i]! - y[i]!));
  return d;
}

function opCount(model: Model, opType: string): number {
  return model.graph.nodes.filter((n) => n.opType === opType).length;
}

/** Elements in BatchNormalization running statistics (buffers, not parameters, in torch's count). */
function runningStats(model: Model): number {
  let n = 0;
  for (const [name, v] of model.graph.initializers) if (/running_(mean|var)$/.test(name)) n += v.initializer!.size;
  return n;
}

const bytesOf = (name: string, opts: ZooOptions) => Buffer.from(modelToBytes(buildZooModel(name, opts)));

describe('zoo builders', () => {
  it('are deterministic per seed', () => {
    for (const name of ['mlp', 'cnn-small', 'bert-tiny']) {
      const a = bytesOf(name, { seed: 7 });
      expect(a.equals(bytesOf(name, { seed: 7 })), `${name} same seed`).toBe(true);
      expect(a.equals(bytesOf(name, { seed: 8 })), `${name} other seed`).toBe(false);
    }
  });

  it('reject unknown names and bad seeds', () => {
    expect(() => buildZooModel('resnet101')).toThrow(/unknown zoo model 'resnet101'.*mlp, cnn-small/);
    expect(() => buildZooModel('mlp', { seed: -1 })).toThrow(/seed/);
  });

  it('match the reference parameter counts (torchvision, Hugging Face)', () => {
    const trainable = (name: string) => {
      const m = buildZooModel(name, { zeroWeights: true });
      return countParameters(m) - runningStats(m);
    };
    expect(trainable('resnet18')).toBe(11_689_512);
    expect(trainable('resnet50')).toBe(25_557_032);
    expect(trainable('mobilenetv2')).toBe(3_504_872);
    // BertModel (with pooler) 109,482,240 + classifier 768·2 + 2
    expect(trainable('bert-base')).toBe(109_483_778);
    expect(trainable('bert-tiny')).toBe(4_386_178);
    const resnet50 = buildZooModel('resnet50', { zeroWeights: true });
    expect(countParameters(resnet50) * 4).toBeGreaterThan(98e6);
    expect(opCount(resnet50, 'BatchNormalization')).toBe(53);
    expect(opCount(resnet50, 'Conv')).toBe(53);
  });

  it('zero-weight builds have the same structure as random ones', () => {
    for (const name of ['cnn-small', 'bert-tiny']) {
      const a = buildZooModel(name, { zeroWeights: true });
      const b = buildZooModel(name, { seed: 1 });
      expect(a.graph.nodes.map((n) => n.opType)).toEqual(b.graph.nodes.map((n) => n.opType));
      expect([...a.graph.initializers.keys()]).toEqual([...b.graph.initializers.keys()]);
    }
  });

  it('declare opset 17, IR 8 and float32 weights', () => {
    const m = buildZooModel('cnn-small');
    expect(m.opset()).toBe(17);
    expect(m.irVersion).toBe(8);
    for (const v of m.graph.initializers.values()) expect(v.initializer!.dtype).toBe(DataType.FLOAT);
  });
});

describe('zoo models run in ONNX Runtime', () => {
  const vision: [string, number[]][] = [
    ['mlp', [3, 10]],
    ['cnn-small', [3, 10]],
    ['mobilenetv2', [2, 1000]],
    ['resnet18', [2, 1000]],
  ];
  for (const [name, shape] of vision) {
    it(`${name}: finite, input-dependent logits of shape [${shape}]`, async () => {
      const model = buildZooModel(name, { seed: 3 });
      const dims = { N: shape[0]! };
      const out = await run(model, randomInputs(model, { dims, seed: 1 }), dims);
      expect(Object.keys(out)).toEqual(['logits']);
      expect(out.logits!.dims).toEqual(shape);
      expectLively(out.logits!);
      // rows come from different random inputs, so they must differ
      const a = out.logits!.toFloat32();
      const width = shape[1]!;
      expect(maxAbsDiff(Tensor.float([width], a.subarray(0, width)), Tensor.float([width], a.subarray(width, 2 * width)))).toBeGreaterThan(1e-4);
    });
  }

  for (const name of ['bert-tiny', 'bert-mini']) {
    it(`${name}: last_hidden_state and logits with symbolic batch and seq`, async () => {
      const model = buildZooModel(name, { seed: 3 });
      const hidden = name === 'bert-tiny' ? 128 : 256;
      for (const [batch, seq] of [
        [2, 8],
        [1, 13],
      ] as const) {
        const dims = { batch, seq };
        const out = await run(model, randomInputs(model, { dims, seed: 1 }, 30522), dims);
        expect(out.last_hidden_state!.dims).toEqual([batch, seq, hidden]);
        expect(out.logits!.dims).toEqual([batch, 2]);
        expectLively(out.last_hidden_state!);
        expectLively(out.logits!);
      }
    });
  }

  it('folding BatchNormalization into Conv keeps the function (cnn-small, mobilenetv2)', async () => {
    for (const name of ['cnn-small', 'mobilenetv2']) {
      const plain = buildZooModel(name, { seed: 9 });
      const folded = buildZooModel(name, { seed: 9, foldBatchNorm: true });
      expect(opCount(plain, 'BatchNormalization')).toBe(opCount(plain, 'Conv'));
      expect(opCount(folded, 'BatchNormalization')).toBe(0);
      expect(opCount(folded, 'Conv')).toBe(opCount(plain, 'Conv'));
      for (const n of folded.graph.nodes) if (n.opType === 'Conv') expect(n.inputs).toHaveLength(3);
      const dims = { N: 2 };
      const feeds = randomInputs(plain, { dims, seed: 1 });
      const [a, b] = [await run(plain, feeds, dims), await run(folded, feeds, dims)];
      const scale = Math.max(...Array.from(a.logits!.toFloat32(), Math.abs));
      expect(maxAbsDiff(a.logits!, b.logits!), name).toBeLessThan(1e-5 * Math.max(1, scale));
    }
  });

  it('bert-tiny: every LayerNorm form and reshape form computes the same function', async () => {
    const dims = { batch: 2, seq: 6 };
    const reference = buildZooModel('bert-tiny', { seed: 5 });
    const feeds = randomInputs(reference, { dims, seed: 2 }, 30522);
    const expected = await run(reference, feeds, dims);
    expect(opCount(reference, 'LayerNormalization')).toBe(0);
    expect(opCount(reference, 'ReduceMean')).toBe(2 * 5);
    expect(opCount(reference, 'Erf')).toBe(2);
    expect(opCount(reference, 'Softmax')).toBe(2);
    const variants: [ZooOptions, number][] = [
      [{ layerNorm: 'fused' }, 5],
      [{ layerNorm: 'mixed' }, 4],
      [{ reshape: 'constant' }, 0],
    ];
    for (const [opts, layerNorms] of variants) {
      const model = buildZooModel('bert-tiny', { seed: 5, ...opts });
      expect(opCount(model, 'LayerNormalization'), JSON.stringify(opts)).toBe(layerNorms);
      const got = await run(model, feeds, dims);
      expect(maxAbsDiff(got.last_hidden_state!, expected.last_hidden_state!), JSON.stringify(opts)).toBeLessThan(1e-4);
      expect(maxAbsDiff(got.logits!, expected.logits!), JSON.stringify(opts)).toBeLessThan(1e-4);
    }
  });

  it('bert-tiny: masked positions do not influence the others; batch rows are independent', async () => {
    const model = buildZooModel('bert-tiny', { seed: 5 });
    const dims = { batch: 2, seq: 8 };
    const feeds = randomInputs(model, { dims, seed: 4 }, 30522);
    const base = await run(model, feeds, dims);
    // change the last 3 tokens of row 0 and mask them out: the first 5 positions must not move
    const ids = feeds.input_ids!.toNumbers();
    const mask = feeds.attention_mask!.toNumbers();
    for (const j of [5, 6, 7]) {
      ids[j] = (ids[j]! + 17) % 30522;
      mask[j] = 0;
    }
    const maskedOnly = { ...feeds, attention_mask: Tensor.int64([2, 8], mask) };
    const masked = await run(model, maskedOnly, dims);
    const changed = await run(model, { ...maskedOnly, input_ids: Tensor.int64([2, 8], ids) }, dims);
    const firstFive = (t: Tensor) => Tensor.float([5 * 128], t.toFloat32().subarray(0, 5 * 128));
    expect(maxAbsDiff(firstFive(changed.last_hidden_state!), firstFive(masked.last_hidden_state!))).toBeLessThan(1e-5);
    // ...while masking itself does change them
    expect(maxAbsDiff(firstFive(masked.last_hidden_state!), firstFive(base.last_hidden_state!))).toBeGreaterThan(1e-3);
    // row 1 alone gives the same result as row 1 in the batch
    const row1 = (t: Tensor) => Tensor.int64([1, 8], t.toNumbers().slice(8));
    const single = await run(
      model,
      { input_ids: row1(feeds.input_ids!), attention_mask: row1(feeds.attention_mask!), token_type_ids: row1(feeds.token_type_ids!) },
      { batch: 1, seq: 8 },
    );
    const second = Tensor.float([8 * 128], base.last_hidden_state!.toFloat32().subarray(8 * 128));
    expect(maxAbsDiff(single.last_hidden_state!, second)).toBeLessThan(1e-5);
  });

  it('lists every model', () => {
    expect(zooNames).toEqual(['mlp', 'cnn-small', 'resnet18', 'resnet50', 'mobilenetv2', 'bert-tiny', 'bert-mini', 'bert-base']);
  });
});
