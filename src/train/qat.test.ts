import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../test/unit/run-cli.js';
import { forTarget, searchCatalog } from '../search/catalog.js';
import { OnnxEvaluator } from '../search/evaluator.js';
import { fidelityMetric } from '../search/metric.js';
import { DEFAULT_SESSION } from '../search/recipe.js';
import { GraphBuilder } from '../ir/builder.js';
import { DataType } from '../ir/dtype.js';
import type { Model, Node } from '../ir/graph.js';
import { loadModel, modelToBytes, saveModel } from '../ir/io.js';
import { Tensor } from '../ir/tensor.js';
import { rng } from '../runtime/inputs.js';
import { Session } from '../runtime/session.js';
import { exportQat, freezeBatchNorm, mseScales, prepareQat, type QatPlan } from '../quantize/qat.js';
import { oscillationTracker } from '../quantize/qat-oscillation.js';
import { runPasses } from '../passes/manager.js';
import { CLEANUP_PASSES } from '../passes/simplify.js';
import { staticQuantizePass } from '../quantize/static.js';
import { resolveParams } from '../passes/pass.js';
import { convBatchNorms, quantizationAwareTraining } from './qat.js';
import { gatherBatch, type TensorData } from './trainer.js';
import { gradCheck } from './gradcheck.js';
import { makeInput } from './training-graph.js';

/** 8×8 one-channel images: class c has a bright c-th quadrant (of 3) plus noise. */
function images(n: number, seed: number): TensorData {
  const r = rng(seed);
  const x = new Float32Array(n * 64);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const c = i % 3;
    labels[i] = c;
    for (let p = 0; p < 64; p++) {
      const [row, col] = [Math.floor(p / 8), p % 8];
      const quadrant = (row < 4 ? 0 : 1) + (col < 4 ? 0 : 1);
      x[i * 64 + p] = (quadrant === c ? 1 : 0) + (r() - 0.5) * 0.8;
    }
  }
  return { inputs: { x: { data: x, dtype: DataType.FLOAT, itemShape: [1, 8, 8] } }, labels, length: n };
}

/** Conv+BN+Relu → MaxPool → Conv+BN+Relu → GAP → Gemm: every kind of Q/DQ the planner writes. */
function cnn(seed = 1): Model {
  const r = rng(seed);
  const w = (dims: number[], scale = 0.5) => Tensor.float(dims, Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => (r() - 0.5) * scale));
  const b = new GraphBuilder();
  const x = b.input('x', DataType.FLOAT, ['N', 1, 8, 8]);
  const convBn = (name: string, h: ReturnType<typeof b.input>, cin: number, cout: number) => {
    const y = b.op('Conv', [h, b.init(`${name}.weight`, w([cout, cin, 3, 3], 1.2)), b.init(`${name}.bias`, w([cout], 0.1))], { pads: [1, 1, 1, 1] });
    const bn = b.op('BatchNormalization', [y, b.init(`${name}.g`, Tensor.float([cout], Array.from({ length: cout }, (_, i) => 0.5 + i * 0.2))), b.init(`${name}.b`, w([cout], 0.2)), b.init(`${name}.m`, w([cout], 0.1)), b.init(`${name}.v`, Tensor.float([cout], new Array(cout).fill(1.3)))]);
    return b.op('Relu', [bn]);
  };
  let h = convBn('c1', x, 1, 4);
  h = b.op('MaxPool', [h], { kernel_shape: [2, 2], strides: [2, 2] });
  h = convBn('c2', h, 4, 8);
  h = b.op('Flatten', [b.op('GlobalAveragePool', [h])], { axis: 1 });
  b.output(b.op('Gemm', [h, b.init('fc.weight', w([3, 8], 1)), b.init('fc.bias', w([3], 0.1))], { transB: 1 }), 'logits');
  return b.model({ opset: 17 });
}

const histogram = (m: Model) => {
  const h: Record<string, number> = {};
  for (const n of m.graph.nodes) h[n.opType] = (h[n.opType] ?? 0) + 1;
  return h;
};
const initTypes = (m: Model) => Object.fromEntries([...m.graph.initializers].map(([k, v]) => [k, `${v.initializer!.dtype}:${v.initializer!.dims.join('x')}`]));

const trainSet = images(192, 1);
const heldOut = images(48, 2);
const calibration = () => [0, 1, 2, 3].map((k) => ({ x: gatherBatch(trainSet, Uint32Array.from({ length: 192 }, (_, i) => i), k * 8, 8).x! }));

describe('quantization-aware training', () => {
  it('made trainable and exported untrained, it is the PTQ model again, tensor for tensor', async () => {
    const ptq = loadModel(modelToBytes(cnn()));
    await staticQuantizePass.run(ptq, { target: 'cpu' }, resolveParams(staticQuantizePass, { calibration: calibration() }));
    const plan = prepareQat(ptq);
    expect(plan.weights.length).toBe(3);
    expect(plan.biases.length).toBe(3);
    expect(plan.model.graph.nodes.some((n) => n.opType === 'QuantizeLinear' && n.input(0)?.initializer)).toBe(true);
    const back = exportQat(plan.model, plan);
    expect(histogram(back)).toEqual(histogram(ptq));
    expect(initTypes(back)).toEqual(initTypes(ptq));
    // integers exactly; bias scales (x_scale·w_scale) within an ulp: PTQ multiplies the scales before rounding them to float32
    for (const [name, v] of ptq.graph.initializers) {
      const want = Array.from(v.initializer!.toFloat32());
      const got = Array.from(back.graph.initializers.get(name)!.initializer!.toFloat32());
      if (v.initializer!.dtype !== DataType.FLOAT) expect(got, name).toEqual(want);
      else got.forEach((g, i) => expect(Math.abs(g - want[i]!), name).toBeLessThanOrEqual(Math.abs(want[i]!) * 1.2e-7));
    }
  });

  it('4-bit weights with 8-bit ends (wideEnds): the first Conv and the Gemm keep the 8-bit grid in PTQ, QAT clamps only the middle one', async () => {
    const float = loadModel(modelToBytes(cnn()));
    await runPasses(float, CLEANUP_PASSES, { target: 'cpu' });
    const maxInt = (m: Model) => Object.fromEntries([...m.graph.initializers].filter(([, v]) => v.initializer!.dtype === DataType.INT8 && v.initializer!.rank > 1).map(([k, v]) => [k.replace(/_quantized$/, ''), Math.max(...Array.from(v.initializer!.toFloat32(), Math.abs))]));
    const ptq = loadModel(modelToBytes(float));
    await staticQuantizePass.run(ptq, { target: 'cpu' }, resolveParams(staticQuantizePass, { calibration: calibration(), weightBits: 4, wideEnds: true }));
    const ints = maxInt(ptq);
    expect(Object.keys(ints).length).toBe(3);
    // the first and last weighted layers on the 8-bit grid (min-max puts a weight at ±127), the middle one on ±7
    expect(Object.entries(ints).filter(([, v]) => v === 127).map(([k]) => k).sort()).toEqual(['c1.weight', 'fc.weight'].map((k) => Object.keys(ints).find((n) => n.startsWith(k))!).sort());
    expect(Object.values(ints).filter((v) => v <= 7).length).toBe(1);
    const plan = prepareQat(ptq, { weightBits: 4 });
    expect(plan.weights.filter((w) => w.limit === 7).length).toBe(1);
    const back = exportQat(plan.model, plan);
    expect(maxInt(back)).toEqual(ints);
    // without wideEnds all three are on ±7
    const all = loadModel(modelToBytes(float));
    await staticQuantizePass.run(all, { target: 'cpu' }, resolveParams(staticQuantizePass, { calibration: calibration(), weightBits: 4 }));
    expect(Object.values(maxInt(all)).every((v) => v <= 7)).toBe(true);
  });

  it('BatchNorm frozen: untrained, the graph computes the PTQ model (W·γ/σ and β + (b − μ)·γ/σ rebuild the folded values)', async () => {
    const model = cnn();
    const float = loadModel(modelToBytes(model));
    await runPasses(float, CLEANUP_PASSES, { target: 'cpu' });
    const ptq = loadModel(modelToBytes(float));
    await staticQuantizePass.run(ptq, { target: 'cpu' }, resolveParams(staticQuantizePass, { calibration: calibration() }));
    const plan = prepareQat(ptq);
    expect(freezeBatchNorm(plan, convBatchNorms(model))).toBe(2);
    expect(plan.model.graph.nodes.some((n) => n.opType === 'BatchNormalization')).toBe(false);
    const bn = plan.batchNorm[0]!;
    // γ, β and the raw bias train (they are in extraParams), μ and 1/σ do not
    expect(plan.extraParams).toEqual(expect.arrayContaining([bn.gamma, bn.beta, bn.rawBias]));
    expect(plan.frozen).toEqual(expect.arrayContaining([bn.mean, bn.invStd]));
    expect(plan.model.graph.initializers.get(bn.gamma)!.initializer!.toFloat32()[1]).toBeCloseTo(0.7, 6);
    const feeds = gatherBatch(heldOut, Uint32Array.from({ length: 48 }, (_, i) => i), 0, 48);
    const run = async (m: Model) => {
      const s = await Session.create(m, { threads: 1, optLevel: 'disabled' });
      const out = (await s.run({ x: feeds.x! })).logits!.toFloat32();
      await s.release();
      return out;
    };
    const [want, got] = [await run(ptq), await run(plan.model)];
    got.forEach((v, i) => expect(v).toBeCloseTo(want[i]!, 4));
    const back = exportQat(plan.model, plan);
    expect(histogram(back)).toEqual(histogram(ptq));
    expect(initTypes(back)).toEqual(initTypes(ptq));
  });

  for (const [lsq, weightBits, batchNorm, alpha] of [[false, 8, 'fold', 0], [true, 8, 'fold', 0], [false, 4, 'fold', 0], [false, 4, 'freeze', 0], [false, 4, 'freeze', 0.7]] as const) {
    it(`trains and exports to the PTQ op histogram${lsq ? ' (LSQ: scales learned, pass-through pairs stay tied)' : ''}${weightBits < 8 ? ' (4-bit weight grid)' : ''}${batchNorm === 'freeze' ? ' (BatchNorm frozen, folded at export)' : ''}${alpha ? ' (distilled from the float model)' : ''}`, async () => {
      const logs: string[] = [];
      const r = await quantizationAwareTraining(cnn(), { calibration: calibration(), train: trainSet, test: heldOut, epochs: 2, batch: 16, lr: 0.01, optimizer: { kind: 'adamw' }, threads: 1, lsq, seed: 3, quantize: { weightBits }, batchNorm, ...(alpha ? { distill: { alpha } } : {}), log: (m) => logs.push(m) });
      // the distillation loss has the teacher's logits as a graph input
      expect(r.training.graph.dataInputs.includes('teacher_logits')).toBe(alpha > 0);
      if (batchNorm === 'freeze') expect(logs).toContain('QAT: 2 of 2 BatchNorms frozen (folded at export)');
      if (weightBits < 8) for (const v of r.qat.graph.initializers.values()) if (v.initializer!.dtype === DataType.INT8) expect(Math.max(...Array.from(v.initializer!.toFloat32(), Math.abs)), v.name).toBeLessThanOrEqual(7);
      expect(Object.keys(initTypes(r.qat)).filter((k) => !(k in initTypes(r.ptq)))).toEqual([]);
      expect(histogram(r.qat)).toEqual(histogram(r.ptq));
      expect(initTypes(r.qat)).toEqual(initTypes(r.ptq));
      expect(r.float.graph.nodes.some((n) => n.opType === 'BatchNormalization')).toBe(false);
      // training changed integer weights; and with LSQ the scales
      const changed = (name: string) => Array.from(r.qat.graph.initializers.get(name)!.initializer!.toFloat32()).some((v, i) => v !== r.ptq.graph.initializers.get(name)!.initializer!.toFloat32()[i]);
      const weightInts = [...r.ptq.graph.initializers.values()].filter((v) => v.initializer!.dtype === DataType.INT8).map((v) => v.name);
      expect(weightInts.some(changed)).toBe(true);
      const actScales = [...r.ptq.graph.initializers.values()].filter((v) => v.initializer!.dtype === DataType.FLOAT && v.initializer!.size === 1 && v.name.endsWith('_scale')).map((v) => v.name);
      expect(actScales.some(changed)).toBe(lsq);
      // a pass-through op (MaxPool) keeps identical parameters on both sides, so ORT still drops its pair
      const pool = r.qat.graph.nodes.find((n) => n.opType === 'MaxPool')!;
      const before = pool.input(0)!.producer!;
      const after = pool.outputs[0]!.uses[0]!.node;
      expect(after.opType).toBe('QuantizeLinear');
      expect(after.input(1)!.initializer!.toFloat32()[0]).toBe(before.input(1)!.initializer!.toFloat32()[0]);
      // the exported model computes what the trained fake-quantized model computed
      const feeds = gatherBatch(heldOut, Uint32Array.from({ length: 48 }, (_, i) => i), 0, 48);
      const a = await Session.create(r.qat, { threads: 1, optLevel: 'disabled' });
      const out = (await a.run({ x: feeds.x! })).logits!.toFloat32();
      const accuracy = (logits: Float32Array) => feeds.labels!.toNumbers().filter((l, i) => logits.subarray(i * 3, i * 3 + 3).indexOf(Math.max(...logits.subarray(i * 3, i * 3 + 3))) === l).length / 48;
      expect(Math.abs(accuracy(out) - (r.training.best ?? r.training.history.at(-1)!.testAccuracy!))).toBeLessThanOrEqual(1 / 48);
      await a.release();
    });
  }
});

describe('QAT with weight averaging (averageLast)', () => {
  it('exports the mean of the last steps’ weights and learned scales (BatchNorm frozen, 4-bit, LSQ) to the PTQ op histogram and initializer types', async () => {
    // every float tensor the loop carries, after every step (weights, log-scales, γ/β; optimizer state too)
    const snaps = new Map<number, Map<string, Float32Array>>();
    const afterStep = (step: number, t: Map<string, Tensor>) => void snaps.set(step, new Map([...t].filter(([, v]) => v.dtype === DataType.FLOAT).map(([k, v]) => [k, Float32Array.from(v.toFloat32())])));
    // 192 samples, batch 16: 12 steps an epoch, 24 in all; 0.25 of them: the weights after steps 19–24
    const r = await quantizationAwareTraining(cnn(), { calibration: calibration(), train: trainSet, test: heldOut, epochs: 2, batch: 16, lr: 0.01, optimizer: { kind: 'adamw' }, threads: 1, lsq: true, seed: 3, quantize: { weightBits: 4 }, batchNorm: 'freeze', patience: 100, evalEvery: 4, averageLast: 0.25, afterStep });
    expect(r.training.steps).toBe(24);
    expect(r.training.averaged).toMatchObject({ from: 19, to: 24, count: 6 });
    const mean = (name: string) => {
      const sum = new Float64Array(snaps.get(19)!.get(name)!.length);
      for (let s = 19; s <= 24; s++) snaps.get(s)!.get(name)!.forEach((v, i) => (sum[i]! += v));
      return Array.from(Float32Array.from(sum, (x) => x / 6));
    };
    // the trained model's tensors are the means of those that train (the log-scales and γ/β among them)
    const trained = [...r.training.model.graph.initializers.keys()].filter((k) => snaps.get(24)!.has(k));
    const moved = trained.filter((k) => mean(k).some((v, i) => v !== snaps.get(24)!.get(k)![i]));
    expect(moved.filter((k) => k.endsWith('_log')).length).toBeGreaterThan(0);
    // BatchNorm frozen with no log callback too (the freeze once ran only inside `log?.(…)`): γ trains
    expect(moved.filter((k) => k.includes('_bn_gamma')).length).toBe(2);
    for (const k of trained) expect(Array.from(r.training.model.graph.initializers.get(k)!.initializer!.toFloat32()), k).toEqual(mean(k));
    // exported: each learned activation scale is exp of its mean log-scale (no Clip here, nothing aligned)
    for (const k of moved.filter((n) => n.endsWith('_log') && snaps.get(24)!.get(n)!.length === 1)) {
      const scale = r.qat.graph.initializers.get(k.slice(0, -'_log'.length))!.initializer!.toFloat32()[0];
      expect(scale, k).toBe(Math.fround(Math.exp(mean(k)[0]!)));
    }
    expect(histogram(r.qat)).toEqual(histogram(r.ptq));
    expect(initTypes(r.qat)).toEqual(initTypes(r.ptq));
    for (const v of r.qat.graph.initializers.values()) if (v.initializer!.dtype === DataType.INT8 && v.name.startsWith('c2')) expect(Math.max(...Array.from(v.initializer!.toFloat32(), Math.abs))).toBeLessThanOrEqual(7);
    // the exported model scores what the average scored on the held-out split (integer rounding aside)
    const feeds = gatherBatch(heldOut, Uint32Array.from({ length: 48 }, (_, i) => i), 0, 48);
    const a = await Session.create(r.qat, { threads: 1, optLevel: 'disabled' });
    const out = (await a.run({ x: feeds.x! })).logits!.toFloat32();
    await a.release();
    const hits = feeds.labels!.toNumbers().filter((l, i) => out.subarray(i * 3, i * 3 + 3).indexOf(Math.max(...out.subarray(i * 3, i * 3 + 3))) === l).length;
    expect(Math.abs(hits / 48 - r.training.averaged!.testAccuracy!)).toBeLessThanOrEqual(1 / 48);
  });
});

describe('LSQ scale after a Clip (ReLU6) at export', () => {
  // Conv → Clip(0, 6) → Conv → Clip(0, 6) → GAP → Gemm: both Clip outputs calibrate to 6/255 and share one log-scale
  async function relu6Plan(): Promise<QatPlan> {
    const r = rng(5);
    const w = (dims: number[]) => Tensor.float(dims, Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => (r() - 0.5) * 4));
    const b = new GraphBuilder();
    const x = b.input('x', DataType.FLOAT, ['N', 1, 8, 8]);
    const relu6 = (h: ReturnType<typeof b.input>) => b.op('Clip', [h, b.init(`zero${h.name}`, Tensor.float([], [0])), b.init(`six${h.name}`, Tensor.float([], [6]))]);
    let h = relu6(b.op('Conv', [x, b.init('c1.weight', w([4, 1, 3, 3])), b.init('c1.bias', w([4]))], { pads: [1, 1, 1, 1] }));
    h = relu6(b.op('Conv', [h, b.init('c2.weight', w([4, 4, 3, 3])), b.init('c2.bias', w([4]))], { pads: [1, 1, 1, 1] }));
    b.output(b.op('Gemm', [b.op('Flatten', [b.op('GlobalAveragePool', [h])], { axis: 1 }), b.init('fc.weight', w([3, 4])), b.init('fc.bias', w([3]))], { transB: 1 }), 'logits');
    const ptq = b.model({ opset: 17 });
    await staticQuantizePass.run(ptq, { target: 'cpu' }, resolveParams(staticQuantizePass, { calibration: calibration().map((c) => ({ x: Tensor.float([...c.x.dims], Array.from(c.x.toFloat32(), (v) => 4 * v)) })) }));
    return prepareQat(ptq, { lsq: true });
  }
  /** The Clips' output scales (exported) and whether ONNX Runtime loads the model at level 'all'. */
  async function exportWith(plan: QatPlan, top: number) {
    const g = plan.model.graph;
    const clipQs = g.nodes.filter((n) => n.opType === 'QuantizeLinear' && n.input(0)?.producer?.opType === 'Clip');
    expect(clipQs.length).toBe(2);
    const logs = new Set(clipQs.map((q) => plan.logScales.find((l) => l.exp === q.input(1)!.producer!.name)!.log));
    expect(logs.size).toBe(1); // tied: one learned scale
    const log = g.initializers.get([...logs][0]!)!;
    expect(log.initializer!.toFloat32()[0]).toBeCloseTo(Math.log(6 / 255), 6);
    log.initializer = Tensor.float([], [Math.log(top / 255)]);
    const back = exportQat(plan.model, plan);
    const scales = back.graph.nodes.filter((n) => n.opType === 'QuantizeLinear' && n.input(0)?.producer?.opType === 'Clip').map((q) => q.input(1)!.initializer!.toFloat32()[0]!);
    let loads = true;
    try {
      await (await Session.create(back, { threads: 1, optLevel: 'all' })).release();
    } catch {
      loads = false;
    }
    return { back, scales, loads };
  }

  it('a learned scale that puts 6 within half a step below the grid top becomes 6/255 (ORT refuses the model otherwise); others stay', async () => {
    const six = Math.fround(6 / 255);
    for (const top of [6.00004, 6.005, 6.0117]) {
      const { back, scales, loads } = await exportWith(await relu6Plan(), top);
      expect(scales, `top ${top}`).toEqual([six, six]);
      expect(loads, `top ${top}`).toBe(true);
      // the bias after the second Clip is quantized with the scale written (x_scale · w_scale)
      const bias = back.graph.nodes.find((n) => n.opType === 'DequantizeLinear' && n.input(0)!.initializer?.dtype === DataType.INT32 && n.name.startsWith('c2'))!;
      const wScale = bias.outputs[0]!.uses[0]!.node.input(1)!.producer!.input(1)!.initializer!.toFloat32();
      // (float32: within an ulp; the unaligned scale would be 1e-5 to 2e-3 off)
      Array.from(bias.input(1)!.initializer!.toFloat32()).forEach((v, i) => expect(Math.abs(v / (six * wScale[i]!) - 1)).toBeLessThan(2e-7));
    }
    // outside the window nothing moves: below 6 (the Clip is redundant) and half a step or more above it
    for (const top of [5.9, 6.0118, 6.5]) {
      const { scales, loads } = await exportWith(await relu6Plan(), top);
      expect(scales.length).toBe(2);
      for (const v of scales) expect(Math.abs((v * 255) / top - 1), `top ${top}`).toBeLessThan(1e-6);
      expect(loads, `top ${top}`).toBe(true);
    }
  });
  it('the aligned export computes what the unaligned one does, within what one step of the Clip grid explains', async () => {
    const top = 6.005;
    const plan = await relu6Plan();
    const g = plan.model.graph;
    const log = g.initializers.get(plan.logScales.find((l) => g.nodes.find((n) => n.name === l.exp)!.outputs[0]!.uses.some((u) => u.node.input(0)?.producer?.opType === 'Clip'))!.log)!;
    log.initializer = Tensor.float([], [Math.log(top / 255)]);
    const aligned = exportQat(plan.model, plan);
    const unaligned = exportQat(plan.model, plan, { alignToClip: false });
    const sa = Math.fround(6 / 255);
    const su = Math.fround(Math.exp(Math.fround(Math.log(top / 255))));
    const clipScale = (m: Model) => m.graph.nodes.filter((n) => n.opType === 'QuantizeLinear' && n.input(0)?.producer?.opType === 'Clip').map((q) => q.input(1)!.initializer!.toFloat32()[0]);
    expect(clipScale(aligned)).toEqual([sa, sa]);
    expect(clipScale(unaligned)).toEqual([su, su]);
    const step = (sa + su) / 2; // two grids' roundings of one value differ by at most half a step of each
    // the first Clip's fake-quantized output and the logits, on inputs that drive the Clips into saturation
    const run = async (m: Model) => {
      const c = loadModel(modelToBytes(m));
      const q1 = c.graph.nodes.find((n) => n.opType === 'QuantizeLinear' && n.input(0)?.producer?.opType === 'Clip')!;
      c.graph.outputs.push(q1.outputs[0]!.uses[0]!.node.outputs[0]!);
      const s = await Session.create(c, { threads: 1, optLevel: 'disabled' });
      const x = gatherBatch(heldOut, Uint32Array.from({ length: 48 }, (_, i) => i), 0, 48).x!;
      const out = await s.run({ x: Tensor.float([...x.dims], Array.from(x.toFloat32(), (v) => 4 * v)) });
      await s.release();
      return { act: out[c.graph.outputs[1]!.name]!.toFloat32(), logits: out.logits!.toFloat32() };
    };
    const [a, u] = [await run(aligned), await run(unaligned)];
    const maxDiff = (p: Float32Array, q: Float32Array) => p.reduce((m, v, i) => Math.max(m, Math.abs(v - q[i]!)), 0);
    expect(Math.max(...a.act)).toBe(Math.fround(255 * sa)); // saturated: the tops are 6 and 6.005
    expect(Math.max(...u.act)).toBe(Math.fround(255 * su));
    expect(maxDiff(a.act, u.act)).toBeGreaterThan(0);
    expect(maxDiff(a.act, u.act)).toBeLessThanOrEqual(step);
    // the logits: that step carried through Conv (|W|₁ per channel, the bias's own rounding), the second Clip's grid
    // (one step more), the pool's grid (one of its steps) and the classifier (|fc| per logit)
    const w = (name: string) => aligned.graph.nodes.find((n) => n.opType === 'DequantizeLinear' && n.input(0)!.name.startsWith(name))!;
    const deq = (n: Node) => {
      const q = n.input(0)!.initializer!.toFloat32();
      const sc = n.input(1)!.initializer!.toFloat32();
      return Float32Array.from(q, (v, i) => v * sc[sc.length === 1 ? 0 : Math.floor(i / (q.length / sc.length))]!);
    };
    const w2 = deq(w('c2.weight'));
    const w2s = w('c2.weight').input(1)!.initializer!.toFloat32();
    const fc = deq(w('fc.weight'));
    const pool = aligned.graph.nodes.find((n) => n.opType === 'QuantizeLinear' && n.input(0)?.producer?.opType === 'GlobalAveragePool')!.input(1)!.initializer!.toFloat32()[0]!;
    const perChannel = Array.from({ length: 4 }, (_, c) => {
      const l1 = w2.subarray(c * 36, (c + 1) * 36).reduce((t, v) => t + Math.abs(v), 0);
      return l1 * step + w2s[c]! * step + step + pool;
    });
    const bound = Array.from({ length: 3 }, (_, k) => perChannel.reduce((t, d, c) => t + Math.abs(fc[k * 4 + c]!) * d, 0));
    expect(maxDiff(a.logits, u.logits)).toBeGreaterThan(0);
    a.logits.forEach((v, i) => expect(Math.abs(v - u.logits[i]!), `logit ${i}`).toBeLessThanOrEqual(bound[i % 3]! * (1 + 1e-6)));
  });
});

describe('4-bit weights in QAT (saturation to ±7·s before an int8 QuantizeLinear): gradients against finite differences', () => {
  // x[1,6,1,1] → 1×1 Conv with 2 output channels: 6 weights per channel, per-channel 4-bit scales
  // (x goes through its own activation Q/DQ: it is fed a value on its grid, so the Conv sees it exactly)
  async function fakeQuant4(): Promise<{ model: Model; w: string; scales: number[]; x: number }> {
    const b = new GraphBuilder();
    const xi = b.input('x', DataType.FLOAT, ['N', 6, 1, 1]);
    const w0 = Tensor.float([2, 6, 1, 1], [0.7, -0.3, 0.1, 0.5, -0.2, 0.4, -1.4, 0.6, 0.2, -0.8, 1.0, 0.3]);
    b.output(b.op('Conv', [xi, b.init('w', w0)]), 'y');
    const ptq = b.model({ opset: 17 });
    const r = rng(3);
    const calib = [0, 1].map(() => ({ x: Tensor.float([4, 6, 1, 1], Array.from({ length: 24 }, () => r() * 2 - 1)) }));
    await staticQuantizePass.run(ptq, { target: 'cpu' }, resolveParams(staticQuantizePass, { calibration: calib, weightBits: 4 }));
    const plan = prepareQat(ptq, { weightBits: 4 });
    expect(plan.weights.map((p) => p.limit)).toEqual([7]);
    const g = plan.model.graph;
    const wv = g.initializers.get(plan.weights[0]!.float)!;
    const scales = Array.from(g.nodes.find((n) => n.name === plan.weights[0]!.quantizer)!.input(1)!.initializer!.toFloat32());
    makeInput(g, wv);
    const x = 100 * g.initializers.get('x_scale')!.initializer!.toFloat32()[0]!;
    return { model: plan.model, w: wv.name, scales, x };
  }
  const feedsFor = (x: number, w: string, values: number[]) => ({ x: Tensor.float([1, 6, 1, 1], new Array<number>(6).fill(x)), [w]: Tensor.float([2, 6, 1, 1], values) });

  it('inside the grid: the secant over whole steps (h = 4·s) is 1; far beyond ±7·s it is 0', async () => {
    const { model, w, scales, x } = await fakeQuant4();
    const ks = [[-3, -1, 0, 1, 2.5, 12], [2, -2.5, 0.5, -12, 1.5, -3]];
    const values = ks.flatMap((row, c) => row.map((k) => (k + 0.25) * scales[c]!));
    // one finite-difference step per channel: h = 4·s of the channel the element is in
    for (const c of [0, 1]) {
      const elements = [0, 1, 2, 3, 4, 5].map((i) => c * 6 + i);
      const [r] = await gradCheck(model, { feeds: feedsFor(x, w, values), wrt: [w], eps: 4 * scales[c]!, elements });
      expect(r!.maxError, JSON.stringify(r!.worst)).toBeLessThan(1e-4);
      const R = Array.from({ length: 2 }, rng(7)).map((u) => u * 2 - 1);
      for (const i of elements) expect(r!.analytic[i]).toBeCloseTo(Math.abs(ks[c]![i - c * 6]!) > 7 ? 0 : R[c]! * x, 5);
    }
  });

  it('at the edges: the mask is round(w/s) within ±7 (|w| < 7.5·s, as the 8-bit rule and PyTorch), not a clamp at ±7·s', async () => {
    const { model, w, scales, x } = await fakeQuant4();
    const ks = [[6.8, 7.2, 7.4, -6.8, -7.6, -7.4], [6.9, 7.55, -6.9, -7.1, 7.45, -7.8]];
    const values = ks.flatMap((row, c) => row.map((k) => k * scales[c]!));
    const clampTo = (lim: number) => {
      const b = new GraphBuilder();
      const x = b.input('x', DataType.FLOAT, ['N', 6, 1, 1]);
      const wi = b.input(w, DataType.FLOAT, [2, 6, 1, 1]);
      const hi = b.init('hi', Tensor.float([2, 1, 1, 1], scales.map((s) => lim * s)));
      const lo = b.init('lo', Tensor.float([2, 1, 1, 1], scales.map((s) => -lim * s)));
      b.output(b.op('Conv', [x, b.op('Max', [b.op('Min', [wi, hi]), lo])]), 'y');
      return b.model({ opset: 17 });
    };
    const feeds = feedsFor(x, w, values);
    const eps = Math.min(...scales) / 40;
    const [r] = await gradCheck(model, { feeds, wrt: [w], surrogate: clampTo(7.5), eps, elements: [...values.keys()] });
    expect(r!.maxError, JSON.stringify(r!.worst)).toBeLessThan(1e-3);
    // 7.2·s, 7.4·s, 7.45·s round to 7: they keep their gradient; only beyond 7.5·s is it 0
    expect([...values.keys()].filter((i) => r!.analytic[i] === 0)).toEqual([4, 7, 11]);
    // the old clamp at ±7·s cut 7.2·s … 7.45·s too
    const [wrong] = await gradCheck(model, { feeds, wrt: [w], surrogate: clampTo(7), eps, elements: [...values.keys()] });
    expect(wrong!.maxError).toBeGreaterThan(0.1);
    // the forward pass is the export's rounding: s·clamp(round(w/s), −7, 7) (7.45 → 7, 7.55 → 7, −7.8 → −7)
    const session = await Session.create(model, { threads: 1 });
    const y = (await session.run(feeds)).y!.toFloat32();
    await session.release();
    const xin = feeds.x!.toFloat32()[0]!;
    ks.forEach((row, c) => {
      const expected = row.reduce((a, k) => a + xin * scales[c]! * Math.min(7, Math.max(-7, Math.round(k))), 0);
      expect(y[c]).toBeCloseTo(expected, 4);
    });
  });
});

describe('oscillation tracking and freezing in QAT (the integer values after every step)', () => {
  async function plan4(): Promise<QatPlan> {
    const b = new GraphBuilder();
    const xi = b.input('x', DataType.FLOAT, ['N', 6, 1, 1]);
    b.output(b.op('Conv', [xi, b.init('w', Tensor.float([2, 6, 1, 1], [0.7, -0.3, 0.1, 0.5, -0.2, 0.4, -1.4, 0.6, 0.2, -0.8, 1.0, 0.3]))]), 'y');
    const ptq = b.model({ opset: 17 });
    const r = rng(3);
    const calib = [0, 1].map(() => ({ x: Tensor.float([4, 6, 1, 1], Array.from({ length: 24 }, () => r() * 2 - 1)) }));
    await staticQuantizePass.run(ptq, { target: 'cpu' }, resolveParams(staticQuantizePass, { calibration: calib, weightBits: 4 }));
    return prepareQat(ptq, { weightBits: 4 });
  }

  it('counts changes and back-and-forth changes of round(w/s), and freezes a weight that keeps flipping at its usual grid point', async () => {
    const plan = await plan4();
    const name = plan.weights[0]!.float;
    const scales = Array.from(plan.model.graph.nodes.find((n) => n.name === plan.weights[0]!.quantizer)!.input(1)!.initializer!.toFloat32());
    // element 0 flips 2 ↔ 3 every step (mostly at 2: 2.4, 2.6, 2.4, 2.4, 2.6 …); element 7 moves up steadily; the rest stay
    const at = (step: number) => Float32Array.from({ length: 12 }, (_, i) => {
      const c = Math.floor(i / 6);
      const k = i === 0 ? (step % 3 === 1 ? 2.6 : 2.4) : i === 7 ? -6 + step * 0.5 : 1.2;
      return k * scales[c]!;
    });
    const tracker = oscillationTracker(plan, { momentum: 0.5, window: 6 });
    for (let step = 1; step <= 12; step++) tracker.afterStep(step, new Map([[name, Tensor.float([2, 6, 1, 1], at(step))]]));
    const st = tracker.stats();
    expect(st.weights).toBe(12);
    expect(st.steps).toBe(12);
    // in steps 7…12 element 0 changes at 7, 8, 10 and 11 (each time back), element 7 at 10 and 11 (on its way up)
    expect(st.changed).toBe(2);
    expect(st.oscillating).toBe(1);
    expect(st.frozen).toBe(0);

    const freezer = oscillationTracker(plan, { momentum: 0.5, freezeAbove: 0.6, window: 6 });
    let written: Float32Array | undefined;
    for (let step = 1; step <= 12; step++) {
      const tensors = new Map([[name, Tensor.float([2, 6, 1, 1], at(step))]]);
      freezer.afterStep(step, tensors);
      written = tensors.get(name)!.toFloat32();
    }
    expect(freezer.stats().frozen).toBe(1);
    // frozen at 2 (where it spent two steps in three), written back as 2·s; the others untouched
    expect(written![0]).toBeCloseTo(2 * scales[0]!, 6);
    expect(Array.from(written!.slice(1))).toEqual(Array.from(at(12).slice(1)));
  });
});

describe('weight scales with the least rounding error (QAT --weight-scales mse)', () => {
  const err = (w: number[], s: number, limit: number) => w.reduce((e, v) => e + (v - s * Math.min(limit, Math.max(-limit, Math.round(v / s)))) ** 2, 0);
  it('a channel already on the min-max grid keeps max/limit; a bell-shaped channel clips its tails and rounds the rest better', () => {
    const onGrid = [-7, -3, 0, 2, 5, 7].map((k) => k * 0.1);
    const r = rng(7);
    // 600 roughly normal weights (sum of 4 uniforms): the few extreme ones set max|w|, most sit near 0
    const bell = Array.from({ length: 600 }, () => Math.fround((r() + r() + r() + r() - 2) * 0.1));
    const onGridPadded = [...onGrid, ...new Array(600 - onGrid.length).fill(0)];
    const s = mseScales(Float32Array.from([...onGridPadded, ...bell]), [2, 600], 0, 7);
    expect(s[0]).toBeCloseTo(0.1, 6);
    const max = Math.max(...bell.map(Math.abs));
    expect(s[1]!).toBeLessThan((0.95 * max) / 7);
    expect(err(bell, s[1]!, 7)).toBeLessThan(err(bell, max / 7, 7) * 0.9);
    // none of the clipping ratios it searched does better
    for (const k of [1, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3]) expect(err(bell, s[1]!, 7)).toBeLessThanOrEqual(err(bell, (k * max) / 7, 7) + 1e-9);
  });
});

/** The cnn saved in a temporary folder, and the OnnxEvaluator options the recipe-step tests start from. */
async function onCnn(fn: (common: Omit<ConstructorParameters<typeof OnnxEvaluator>[0], 'training'>, base: Model) => Promise<void>): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'inferopt-qat-step-'));
  try {
    const file = path.join(dir, 'cnn.onnx');
    saveModel(cnn(), file);
    const base = loadModel(file);
    await fn({ modelFile: file, catalog: forTarget(searchCatalog(), 'cpu'), metric: fidelityMetric(base, { samples: 4 }), backend: 'node', runs: 2, cacheDir: dir }, base);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe('QAT as an optimize recipe step', () => {
  it('OnnxEvaluator.train swaps static int8 for qat (same parameters, bounded by steps); the built model is the static QDQ graph, trained', async () => {
    await onCnn(async (common) => {
      const recipe = { target: 'cpu' as const, steps: [{ pass: 'simplify', params: {} }, { pass: 'quantize-static', params: { calibMethod: 'percentile' } }], session: DEFAULT_SESSION };
      expect(new OnnxEvaluator(common).train(recipe, 30)).toBeUndefined(); // no training data: no QAT
      const training = async () => ({ train: trainSet, test: heldOut });
      const ev = new OnnxEvaluator({ ...common, training, trainSteps: 7 });
      expect(ev.train({ ...recipe, steps: recipe.steps.slice(0, 1) }, 30)).toBeUndefined(); // nothing to train
      const qat = ev.train(recipe, 30.4)!;
      expect(qat.recipe.steps).toEqual([{ pass: 'simplify', params: {} }, { pass: 'qat', params: { distill: 0.5, calibMethod: 'percentile', steps: 7, seconds: 30 } }]);
      const [ptq, trained] = [await ev.build(recipe), await ev.build(qat.recipe)];
      expect(histogram(trained.model)).toEqual(histogram(ptq.model));
      expect(initTypes(trained.model)).toEqual(initTypes(ptq.model));
      // its step count ends it (not the clock; one epoch would be 3 steps): the same recipe rebuilds to the same
      // bytes in a fresh evaluator
      expect(trained.steps.at(-1)!.stats.steps).toBe(7);
      expect(trained.steps.at(-1)!.stats.stoppedByTime).toBeUndefined();
      const again = await new OnnxEvaluator({ ...common, training, trainSteps: 7 }).build(qat.recipe);
      expect(Buffer.from(again.bytes).equals(Buffer.from(trained.bytes))).toBe(true);
      const m = await ev.evaluate(qat.recipe);
      expect(Number.isFinite(m.metric.value) && m.latency.p50 > 0).toBe(true);
    });
  });
});

describe('prune → QAT in one optimize recipe', () => {
  const zeros = (m: Model) => [...m.graph.initializers.values()].reduce((n, v) => n + (v.initializer!.dtype === DataType.FLOAT ? v.initializer!.toFloat32().filter((x) => x === 0).length : 0), 0);
  it('a prune step fine-tunes (distilled) for its step count and rebuilds byte for byte; static int8 and QAT go on top; masks stay zero', async () => {
    await onCnn(async (common, base) => {
      const training = async () => ({ train: trainSet, test: heldOut });
      const prune = { pass: 'prune', params: { granularity: 'channel', sparsity: 0.5, align: 1, steps: 12, batch: 16 } };
      // as the search builds it: pruned (and fine-tuned) with BatchNorm still there, then simplify
      const pruned = { target: 'cpu' as const, steps: [prune, { pass: 'simplify', params: {} }], session: DEFAULT_SESSION };
      const [a, b] = [await new OnnxEvaluator({ ...common, training }).build(pruned), await new OnnxEvaluator({ ...common, training }).build(pruned)];
      expect(Buffer.from(a.bytes).equals(Buffer.from(b.bytes))).toBe(true); // the recipe re-runs identically
      const st = a.steps[0]!.stats;
      expect(st.finetuneSteps).toBe(12);
      expect(st.groupsRemoved).toBeGreaterThan(0);
      const convOut = (m: Model) => m.graph.nodes.filter((n) => n.opType === 'Conv').map((n) => n.inputs[1]!.initializer!.dims[0] ?? 0);
      expect(convOut(a.model).reduce((x, y) => x + y, 0)).toBeLessThan(4 + 8);
      expect(st.sparsity).toBeCloseTo(st.removed! / (st.removed! + st.params!), 9);
      // without training data the fine-tuning step refuses in one line
      await expect(new OnnxEvaluator(common).build(pruned)).rejects.toThrow(/^the prune step fine-tunes \(12 steps\): it needs training data \(--train-data\)$/);

      // prune → static int8, and QAT in its place: the QAT export has the PTQ op histogram of the pruned model
      const ev = new OnnxEvaluator({ ...common, training });
      const ptqRecipe = { ...pruned, steps: [...pruned.steps, { pass: 'quantize-static', params: {} }] };
      const qat = ev.train(ptqRecipe, 20)!;
      expect(qat.recipe.steps.map((s) => s.pass)).toEqual(['prune', 'simplify', 'qat']);
      expect(qat.recipe.steps[2]!.params.distill).toBe(0.5);
      const ptq = await ev.build(ptqRecipe);
      const trained = await ev.build(qat.recipe);
      expect(ev.trainedReuses).toBe(1); // QAT on [prune, simplify] started from the pruned model PTQ was built on
      expect(histogram(trained.model)).toEqual(histogram(ptq.model));
      // a quantizer on a pruned model the search measured before starts from it: the same bytes as built anew
      const ev2 = new OnnxEvaluator({ ...common, training });
      await ev2.build(pruned);
      const again = await ev2.build(ptqRecipe);
      expect(ev2.trainedReuses).toBe(1);
      expect(again.steps.map((s) => s.pass)).toEqual(['prune', 'simplify', 'quantize-static']);
      expect(again.steps[0]!.stats.finetuneSteps).toBe(12);
      expect(Buffer.from(again.bytes).equals(Buffer.from(ptq.bytes))).toBe(true);
      // (the pruned PTQ model still carries the biases mean compensation replaced, unread; the export drops them)
      const used = (m: Model) => Object.fromEntries(Object.entries(initTypes(m)).filter(([k]) => m.graph.initializers.get(k)!.uses.length > 0));
      expect(used(trained.model)).toEqual(used(ptq.model));

      // unstructured, fine-tuned: every masked weight is still zero afterwards
      const un = await new OnnxEvaluator({ ...common, training }).build({ ...pruned, steps: [{ pass: 'prune', params: { granularity: 'unstructured', sparsity: 0.6, steps: 12, batch: 16 } }] });
      const removed = un.steps[0]!.stats.removed!;
      expect(removed).toBeGreaterThan(0);
      expect(zeros(un.model)).toBe(removed + zeros(base));
    });
  });
});

describe('inferopt qat: bad input → one line, exit 2', () => {
  it('an unknown --batch-norm or --weight-scales, a --average-last outside (0, 1], before any data is read', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'inferopt-qat-cli-'));
    try {
      const file = path.join(dir, 'cnn.onnx');
      saveModel(cnn(), file);
      const common = [file, '--train-data', path.join(dir, 'none.json'), '--data', path.join(dir, 'none.json'), '-o', path.join(dir, 'out.onnx')];
      for (const [flag, value, message] of [['--batch-norm', 'frozen', '--batch-norm must be fold or freeze'], ['--weight-scales', 'l2', '--weight-scales must be ptq or mse'], ['--average-last', '0', "--average-last must be a fraction in (0, 1], not '0'"], ['--average-last', '1.5', "--average-last must be a fraction in (0, 1], not '1.5'"], ['--average-last', 'half', "--average-last must be a fraction in (0, 1], not 'half'"]]) {
        const r = await runCli('qat', ...common, flag!, value!);
        expect(r.code).toBe(2);
        expect(r.stderr).toBe(`inferopt: ${message}\n`);
      }
      expect(fs.existsSync(path.join(dir, 'out.onnx'))).toBe(false);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
