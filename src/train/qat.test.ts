import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../ir/builder.js';
import { DataType } from '../ir/dtype.js';
import type { Model } from '../ir/graph.js';
import { loadModel, modelToBytes } from '../ir/io.js';
import { Tensor } from '../ir/tensor.js';
import { rng } from '../runtime/inputs.js';
import { Session } from '../runtime/session.js';
import { exportQat, prepareQat } from '../quantize/qat.js';
import { staticQuantizePass } from '../quantize/static.js';
import { resolveParams } from '../passes/pass.js';
import { quantizationAwareTraining } from './qat.js';
import { gatherBatch, type TensorData } from './trainer.js';

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

  for (const [lsq, weightBits] of [[false, 8], [true, 8], [false, 4]] as const) {
    it(`trains and exports to the PTQ op histogram${lsq ? ' (LSQ: scales learned, pass-through pairs stay tied)' : ''}${weightBits < 8 ? ' (4-bit weight grid)' : ''}`, async () => {
      const r = await quantizationAwareTraining(cnn(), { calibration: calibration(), train: trainSet, test: heldOut, epochs: 2, batch: 16, lr: 0.01, optimizer: { kind: 'adamw' }, threads: 1, lsq, seed: 3, quantize: { weightBits } });
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
