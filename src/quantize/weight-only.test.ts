import { describe, expect, it } from 'vitest';
import { loadModel, modelToBytes } from '../ir/io.js';
import type { Model } from '../ir/graph.js';
import { resolveParams } from '../passes/pass.js';
import { randomInputs } from '../runtime/inputs.js';
import { dequantizeBlockwise, quantizeBlockwise } from './blockwise.js';
import { compareModels } from './fidelity.js';
import { mlpModel } from './fixtures.js';
import { compareArrays } from '../verify/compare.js';
import { feedsOf } from './stream.js';
import { weightOnlyQuantizePass, type WeightOnlyConfig } from './weight-only.js';

const copy = (m: Model) => loadModel(modelToBytes(m));
const evalFeeds = (m: Model) => [randomInputs(m, { dims: { N: 32 }, seed: 9 })];

async function run(cfg: Partial<WeightOnlyConfig>) {
  const ref = mlpModel();
  const r = await weightOnlyQuantizePass.run(copy(ref), { target: 'cpu' }, resolveParams(weightOnlyQuantizePass, cfg));
  const [f] = await compareModels(ref, r.model, evalFeeds(ref));
  return { r, f: f! };
}

describe('weight-only quantization (MatMulNBits)', () => {
  it('block-wise packing round-trips (4-bit, K not a multiple of the block)', () => {
    const K = 40;
    const N = 3;
    const w = Float32Array.from({ length: K * N }, (_, i) => Math.sin(i * 1.7) * (1 + (i % 5)));
    for (const symmetric of [true, false]) {
      const spec = { bits: 4 as const, blockSize: 16, symmetric };
      const back = dequantizeBlockwise(quantizeBlockwise(w, K, N, spec), spec);
      expect(compareArrays(w, back).sqnr).toBeGreaterThan(12);
    }
  });

  it('4-bit symmetric and asymmetric, 8-bit: MatMulNBits runs in ORT and stays close', async () => {
    const four = await run({ bits: 4, blockSize: 16 });
    expect(four.r.model.graph.nodes.filter((n) => n.opType === 'MatMulNBits')).toHaveLength(3);
    expect(four.r.model.graph.nodes.map((n) => n.opType)).not.toContain('MatMul');
    expect(four.f.sqnr).toBeGreaterThan(12);
    const asym = await run({ bits: 4, blockSize: 16, symmetric: false, accuracyLevel: 4 });
    expect(asym.f.sqnr).toBeGreaterThan(12);
    const eight = await run({ bits: 8, blockSize: 32 });
    expect(eight.f.sqnr).toBeGreaterThan(30);
    expect(eight.f.sqnr).toBeGreaterThan(four.f.sqnr + 10);
  });

  it('GPTQ beats round-to-nearest on the data it was calibrated for', async () => {
    const ref = mlpModel();
    const calib = Array.from({ length: 8 }, (_, seed) => randomInputs(ref, { dims: { N: 16 }, seed: 50 + seed }));
    const rtn = await weightOnlyQuantizePass.run(copy(ref), { target: 'cpu' }, resolveParams(weightOnlyQuantizePass, { blockSize: 16 }));
    const gptq = await weightOnlyQuantizePass.run(copy(ref), { target: 'cpu' }, resolveParams(weightOnlyQuantizePass, { blockSize: 16, algorithm: 'gptq', calibration: feedsOf(calib) }));
    const [a] = await compareModels(ref, rtn.model, calib);
    const [b] = await compareModels(ref, gptq.model, calib);
    expect(b!.sqnr).toBeGreaterThan(a!.sqnr);
  });

  it('rejects bad block sizes and non-cpu targets', async () => {
    expect(() => resolveParams(weightOnlyQuantizePass, { blockSize: 24 })).toThrow(/power of two/);
    await expect(weightOnlyQuantizePass.run(mlpModel(), { target: 'std' }, resolveParams(weightOnlyQuantizePass))).rejects.toThrow(/--target cpu/);
  });
});
