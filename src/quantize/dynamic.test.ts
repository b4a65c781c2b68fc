import { describe, expect, it } from 'vitest';
import { randomInputs } from '../runtime/inputs.js';
import { resolveParams } from '../passes/pass.js';
import { dynamicQuantizePass } from './dynamic.js';
import { compareModels } from './fidelity.js';
import { mlpModel } from './fixtures.js';
import { loadModel, modelToBytes } from '../ir/io.js';

const feeds = (m: ReturnType<typeof mlpModel>) => [0, 1, 2].map((seed) => randomInputs(m, { dims: { N: 8 }, seed }));
const ops = (m: ReturnType<typeof mlpModel>) => m.graph.nodes.map((n) => n.opType);

describe('dynamic quantization', () => {
  for (const target of ['cpu', 'std'] as const) {
    for (const perChannel of [false, true]) {
      it(`target ${target}, per-channel ${perChannel}: int8 weights, outputs close to fp32`, async () => {
        const ref = mlpModel();
        const m = loadModel(modelToBytes(ref));
        const r = await dynamicQuantizePass.run(m, { target }, resolveParams(dynamicQuantizePass, { perChannel }));
        expect(r.stats?.quantized).toBe(3);
        const types = ops(r.model);
        if (target === 'cpu') expect(types.filter((t) => t === 'DynamicQuantizeMatMul')).toHaveLength(3);
        else {
          expect(types.filter((t) => t === 'MatMulInteger')).toHaveLength(3);
          expect(types.filter((t) => t === 'DynamicQuantizeLinear')).toHaveLength(3);
          expect(types).not.toContain('MatMul');
        }
        expect(types).not.toContain('Gemm');
        // the float weights are gone
        expect([...r.model.graph.initializers.keys()].filter((k) => /^w\d$/.test(k))).toEqual([]);
        const [f] = await compareModels(ref, loadModel(modelToBytes(r.model)), feeds(ref));
        expect(f!.sqnr).toBeGreaterThan(25);
        expect(f!.top1).toBeGreaterThan(0.9);
      });
    }
  }

  it('honours include and exclude lists', async () => {
    const m = mlpModel();
    const r = await dynamicQuantizePass.run(m, { target: 'cpu' }, resolveParams(dynamicQuantizePass, { exclude: ['fc2'], include: ['MatMul', 'Gemm'] }));
    expect(r.stats?.quantized).toBe(2);
    expect(ops(r.model)).toContain('Gemm');
  });
});
