import { describe, expect, it } from 'vitest';
import { DataType } from '../ir/dtype.js';
import { GraphBuilder } from '../ir/builder.js';
import { loadModel, modelToBytes } from '../ir/io.js';
import type { Model } from '../ir/graph.js';
import { Tensor } from '../ir/tensor.js';
import { resolveParams } from '../passes/pass.js';
import { randomInputs } from '../runtime/inputs.js';
import { compareModels } from './fidelity.js';
import { cnnModel, mlpModel } from './fixtures.js';
import { halfPrecisionPass, type HalfConfig } from './float16.js';

const copy = (m: Model) => loadModel(modelToBytes(m));
const half = (m: Model, cfg: Partial<HalfConfig> = {}) => halfPrecisionPass.run(copy(m), { target: 'cpu' }, resolveParams(halfPrecisionPass, cfg));

/**
 * x → MatMul → Mul 300 → LayerNormalization: the product exceeds fp16's 65504, the normalized output does
 * not. (ORT's CPU runs fp16 Mul in fp32, but LayerNormalization has a real fp16 kernel, so a naive
 * conversion overflows to inf at the Cast before it and the output becomes NaN.)
 */
function overflowModel(): Model {
  const b = new GraphBuilder();
  const x = b.input('x', DataType.FLOAT, [2, 8]);
  const h = b.op('MatMul', [x, b.floats('w', [8, 8], Array.from({ length: 64 }, (_, i) => (i % 7) * 50 - 150))], {}, { name: 'mm' });
  const big = b.op('Mul', [h, b.scalar('k', 300)], {}, { name: 'scale_up' });
  const y = b.op('LayerNormalization', [big, b.floats('gamma', [8], new Array(8).fill(1)), b.floats('beta', [8], new Array(8).fill(0))], { axis: -1 }, { name: 'norm' });
  b.output(y, 'y');
  const huge = b.op('Add', [x, b.floats('c', [8], Array.from({ length: 8 }, (_, i) => (i === 3 ? 1e6 : 1)))], {}, { name: 'huge_const' });
  b.output(huge, 'z');
  return b.model({ opset: 17 });
}

const nodesOf = (m: Model, op: string) => m.graph.nodes.filter((n) => n.opType === op);

describe('fp16 conversion', () => {
  it('before opset 19 a DequantizeLinear keeps its float32 scale (an int8 embedding table under q4f16): the model loads and runs', async () => {
    const b = new GraphBuilder();
    const ids = b.input('ids', DataType.INT64, [2]);
    const table = b.init('table_q', Tensor.fromArray(DataType.INT8, [4, 8], Array.from({ length: 32 }, (_, i) => (i % 9) - 4)));
    const deq = b.op('DequantizeLinear', [table, b.scalar('table_scale', 0.05), b.init('table_zp', Tensor.fromArray(DataType.INT8, [], [0]))], {}, { name: 'deq' });
    const g = b.op('Gather', [deq, ids], { axis: 0 }, { name: 'gather' });
    const y = b.op('MatMul', [g, b.floats('w', [8, 3], Array.from({ length: 24 }, (_, i) => (i % 5) * 0.1 - 0.2))], {}, { name: 'mm' });
    b.output(y, 'y');
    const ref = b.model({ opset: 17 });
    const feeds = { ids: Tensor.fromArray(DataType.INT64, [2], [1, 3]) };
    const m = (await half(ref, { calibration: [feeds] })).model;
    expect(m.graph.nodes.find((n) => n.name === 'deq')!.inputs[1]!.constTensor()!.dtype).toBe(DataType.FLOAT);
    expect(m.graph.nodes.find((n) => n.name === 'mm')!.inputs[1]!.constTensor()!.dtype).toBe(DataType.FLOAT16);
    const [f] = await compareModels(ref, m, [feeds]);
    expect(f!.relMaxDiff).toBeLessThan(5e-3);
  });

  it('CNN and MLP: fp16 weights, fp32 inputs/outputs, one Cast at each edge, outputs close', async () => {
    for (const ref of [cnnModel(), mlpModel()]) {
      const r = await half(ref);
      const m = r.model;
      expect(nodesOf(m, 'Cast')).toHaveLength(2);
      for (const t of m.graph.initializers.values()) if (t.initializer!.dims.length > 0) expect(t.initializer!.dtype).toBe(DataType.FLOAT16);
      expect(m.graph.inputs[0]!.type).toMatchObject({ elemType: DataType.FLOAT });
      const feeds = [randomInputs(ref, { dims: { N: 4 }, seed: 1 })];
      const [f] = await compareModels(ref, m, feeds);
      expect(f!.relMaxDiff).toBeLessThan(5e-3);
      expect(f!.sqnr).toBeGreaterThan(45);
    }
  });

  it('keeps out-of-range activations and initializers in fp32; outputs stay finite', async () => {
    const ref = overflowModel();
    const r = await half(ref);
    const feeds = [0, 1].map((seed) => randomInputs(ref, { seed }));
    const fs = await compareModels(ref, r.model, feeds);
    for (const f of fs) {
      expect(f.maxAbs).toBeLessThan(Infinity);
      expect(f.relMaxDiff).toBeLessThan(5e-3);
    }
    // the constant 1e6 stayed float32
    const c = nodesOf(r.model, 'Add')[0]!.input(1)!.constTensor()!;
    expect(c.dtype).toBe(DataType.FLOAT);
    // the overflowing product and its reader compute in fp32
    for (const name of ['scale_up', 'norm']) {
      const n = r.model.graph.nodes.find((x) => x.name === name)!;
      expect(n.input(1)!.constTensor()!.dtype).toBe(DataType.FLOAT);
    }
    // without the range check, the same model overflows
    const naive = await half(ref, { headroom: 0 });
    const [g] = await compareModels(ref, naive.model, feeds);
    expect(g!.maxAbs).toBe(Infinity); // overflow: Infinity or NaN where the reference is finite
  });

  it('never writes Cast→Cast chains', async () => {
    const b = new GraphBuilder();
    const x = b.input('ids', DataType.INT64, [4]);
    const f = b.op('Cast', [x], { to: DataType.FLOAT }, { name: 'to_float' });
    const [y] = b.opN('TopK', [f, b.ints('k', [2])], { axis: 0 }, { name: 'topk', outputs: 2 }) as [ReturnType<typeof b.input>];
    const z = b.op('Mul', [f, b.scalar('two', 2)], {}, { name: 'double' });
    b.output(y, 'y');
    b.output(z, 'z');
    const m = b.model({ opset: 17 });
    const r = await half(m);
    for (const n of nodesOf(r.model, 'Cast')) expect(n.input(0)!.producer?.opType).not.toBe('Cast');
    const feeds = [{ ids: randomInputs(m, { seed: 2 })['ids']! }];
    const fs = await compareModels(m, r.model, feeds);
    for (const d of fs) expect(d.maxAbs).toBe(0);
  });
});
