import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadModel, modelToBytes } from '../ir/io.js';
import { GraphBuilder } from '../ir/builder.js';
import { DataType } from '../ir/dtype.js';
import type { Model } from '../ir/graph.js';
import { resolveParams, type Target } from '../passes/pass.js';
import { randomInputs } from '../runtime/inputs.js';
import { Session } from '../runtime/session.js';
import { compareModels } from './fidelity.js';
import { cnnModel, mlpModel } from './fixtures.js';
import { staticQuantizePass, type StaticConfig } from './static.js';
import { feedsOf } from './stream.js';

const calib = (m: Model, n = 32) => Array.from({ length: n }, (_, seed) => randomInputs(m, { dims: { N: 2 }, seed: 100 + seed }));
const copy = (m: Model) => loadModel(modelToBytes(m));

async function quantize(ref: Model, cfg: Partial<StaticConfig> = {}, target: Target = 'cpu') {
  return staticQuantizePass.run(copy(ref), { target }, resolveParams(staticQuantizePass, { calibration: feedsOf(calib(ref)), ...cfg }));
}

/** The op types ONNX Runtime actually executes after its own (QDQ fusion) optimizations. */
async function ortOpTypes(m: Model): Promise<string[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'inferopt-q-'));
  const file = path.join(dir, 'opt.onnx');
  const s = await Session.create(m, { optimizedModelPath: file, optLevel: 'all' });
  await s.release();
  const types = loadModel(file).graph.nodes.map((n) => n.opType);
  fs.rmSync(dir, { recursive: true, force: true });
  return types;
}

describe('static QDQ quantization', () => {
  it('CNN: per-channel (U8S8 on cpu); ORT fuses every Conv into QLinearConv and folds ReLUs; outputs close', async () => {
    const ref = cnnModel();
    const r = await quantize(ref);
    expect(r.stats?.quantizedNodes).toBeGreaterThanOrEqual(7);
    const convW = r.model.graph.nodes.find((n) => n.opType === 'Conv')!.input(1)!.producer!;
    expect(convW.opType).toBe('DequantizeLinear');
    expect(convW.input(1)!.constTensor()!.dims).toEqual([8]); // per-channel scales
    const executed = await ortOpTypes(r.model);
    expect(executed).not.toContain('Conv');
    expect(executed.filter((t) => t === 'QLinearConv')).toHaveLength(3);
    expect(executed).not.toContain('Relu');
    const feeds = calib(ref, 4).map((f, i) => randomInputs(ref, { dims: { N: 2 }, seed: i }));
    const [f] = await compareModels(ref, r.model, feeds);
    expect(f!.sqnr).toBeGreaterThan(20);
  });

  it('CNN: U8S8 and entropy/percentile calibration also run and stay close', async () => {
    const ref = cnnModel();
    for (const calibMethod of ['percentile', 'entropy'] as const) {
      const r = await quantize(ref, { activationType: 'uint8', calibMethod });
      const feeds = [randomInputs(ref, { dims: { N: 4 }, seed: 7 })];
      const [f] = await compareModels(ref, r.model, feeds);
      expect(f!.sqnr).toBeGreaterThan(15);
    }
  });

  it('wasm target: uint8 weights everywhere', async () => {
    const r = await quantize(cnnModel(), {}, 'wasm');
    const weights = r.model.graph.nodes.filter((n) => n.opType === 'DequantizeLinear').map((n) => n.input(0)!.constTensor()?.dtype);
    expect(weights.filter((d) => d !== undefined && d !== 6 /* int32 bias */).every((d) => d === 2 /* uint8 */)).toBe(true);
  });

  it('MLP: MatMul/Gemm run as integer kernels; exclude keeps a node float', async () => {
    const ref = mlpModel();
    const r = await quantize(ref, { exclude: ['fc3'] });
    const executed = await ortOpTypes(r.model);
    const fc3 = r.model.graph.nodes.find((n) => n.name === 'fc3')!;
    expect(fc3.input(1)!.constTensor()?.dtype).toBe(1); // fc3 stayed float
    expect(executed.some((t) => t === 'QLinearMatMul' || t === 'QGemm' || t === 'MatMulIntegerToFloat')).toBe(true);
    const [f] = await compareModels(ref, r.model, [randomInputs(ref, { dims: { N: 16 }, seed: 3 })]);
    expect(f!.sqnr).toBeGreaterThan(20);
  });

  it('a dead channel (weights ≈ 0) with a live bias keeps its bias: the weight scale is raised to fit int32', async () => {
    const b = new GraphBuilder();
    const x = b.input('x', DataType.FLOAT, [1, 2, 4, 4]);
    const w = b.floats('w', [2, 2, 1, 1], [0.5, -0.3, 1e-9, -1e-9]);
    b.output(b.op('Conv', [x, w, b.floats('bias', [2], [0.1, 5])], {}, { name: 'conv' }), 'y');
    const ref = b.model();
    const r = await quantize(ref);
    const [f] = await compareModels(ref, r.model, [randomInputs(ref, { seed: 1 })]);
    expect(f!.relMaxDiff).toBeLessThan(0.02);
  });

  it('refuses to run without calibration data', async () => {
    await expect(staticQuantizePass.run(cnnModel(), { target: 'cpu' }, resolveParams(staticQuantizePass))).rejects.toThrow(/calibration data/);
  });
});
