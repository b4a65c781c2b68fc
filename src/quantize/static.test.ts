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
  it('splits a bias shared by Convs with different scales (CSE-merged, as in exported ResNets): every Conv fuses to QLinearConv', async () => {
    // two 3×3 Convs in sequence with one bias initializer (identical values merged); their inputs and weights
    // have different ranges, so each int32 bias needs its own scale x_scale·w_scale
    const b = new GraphBuilder();
    const x = b.input('x', DataType.FLOAT, ['N', 4, 8, 8]);
    const bias = b.floats('shared_bias', [4], [0.1, -0.2, 0.3, 0.05]);
    const w = (name: string, k: number) => b.floats(name, [4, 4, 3, 3], Array.from({ length: 144 }, (_, i) => k * Math.sin(i * 1.3)));
    const c1 = b.op('Relu', [b.op('Conv', [x, w('w1', 0.2), bias], { pads: [1, 1, 1, 1] })]);
    const c2 = b.op('Relu', [b.op('Conv', [c1, w('w2', 1.5), bias], { pads: [1, 1, 1, 1] })]);
    const c3 = b.op('Conv', [c2, w('w3', 0.7), bias], { pads: [1, 1, 1, 1] });
    b.output(b.op('Add', [c3, c1]), 'y'); // the residual Add (quantized too) lets the last Conv's output be int8
    const ref = b.model({ opset: 13 });
    const r = await quantize(ref);
    const convs = r.model.graph.nodes.filter((n) => n.opType === 'Conv');
    expect(new Set(convs.map((n) => n.input(2)))).toHaveProperty('size', 3);
    for (const n of convs) {
      const dq = n.input(2)!.producer!;
      expect(dq.opType).toBe('DequantizeLinear');
      const xScale = n.input(0)!.producer!.input(1)!.constTensor()!.toFloat32()[0]!;
      const wScales = n.input(1)!.producer!.input(1)!.constTensor()!.toFloat32();
      const bScales = dq.input(1)!.constTensor()!.toFloat32();
      // float32 storage: equal to the product within float32 rounding
      bScales.forEach((s, i) => expect(Math.abs(s / (xScale * wScales[wScales.length === 1 ? 0 : i]!) - 1)).toBeLessThan(1e-6));
    }
    const ops = await ortOpTypes(r.model);
    expect(ops.filter((t) => t === 'QLinearConv')).toHaveLength(3);
    expect(ops).not.toContain('Conv');
    const [f] = await compareModels(ref, r.model, calib(ref, 4));
    expect(f!.cosine).toBeGreaterThan(0.99);
  });

  it('depthwise Conv: left float for --target wasm (auto) or when asked, int8 otherwise; outputs close either way', async () => {
    // pointwise → depthwise 3×3 (group = channels) → pointwise, as in a MobileNet block
    const b = new GraphBuilder();
    const x = b.input('x', DataType.FLOAT, ['N', 4, 8, 8]);
    const w = (name: string, dims: number[], k: number) => b.floats(name, dims, Array.from({ length: dims.reduce((a, c) => a * c, 1) }, (_, i) => k * Math.sin(i * 1.7 + 0.3)));
    const p1 = b.op('Relu', [b.op('Conv', [x, w('pw1', [8, 4, 1, 1], 0.5), w('b1', [8], 0.1)])]);
    const dw = b.op('Relu', [b.op('Conv', [p1, w('dw', [8, 1, 3, 3], 0.4), w('b2', [8], 0.1)], { group: 8, pads: [1, 1, 1, 1] }, { name: 'depthwise' })]);
    b.output(b.op('Conv', [dw, w('pw2', [4, 8, 1, 1], 0.3), w('b3', [4], 0.1)]), 'y');
    const ref = b.model({ opset: 13 });
    const weightQuantized = (m: Model, name: string) => m.graph.nodes.find((n) => n.name === name)!.input(1)!.producer?.opType === 'DequantizeLinear';
    const wasm = await quantize(ref, {}, 'wasm');
    expect(wasm.stats?.quantizedNodes).toBe(2);
    expect(weightQuantized(wasm.model, 'depthwise')).toBe(false);
    const asked = await quantize(ref, { depthwise: 'float' }, 'cpu');
    expect(weightQuantized(asked.model, 'depthwise')).toBe(false);
    for (const r of [await quantize(ref, {}, 'cpu'), await quantize(ref, { depthwise: 'int8' }, 'wasm')]) {
      expect(r.stats?.quantizedNodes).toBe(3);
      expect(weightQuantized(r.model, 'depthwise')).toBe(true);
    }
    for (const r of [wasm, asked]) {
      const [f] = await compareModels(ref, r.model, calib(ref, 4));
      expect(f!.cosine).toBeGreaterThan(0.99);
    }
  });

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
