import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { InputError } from '../errors.js';
import { GraphBuilder } from '../ir/builder.js';
import { DataType } from '../ir/dtype.js';
import type { Model } from '../ir/graph.js';
import { Tensor } from '../ir/tensor.js';
import { rng } from '../runtime/inputs.js';
import { Session } from '../runtime/session.js';
import { adamBiasCorrections, type OptimizerSpec } from './optimizer.js';
import { train, type TensorData } from './trainer.js';
import { buildTrainingGraph } from './training-graph.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'inferopt-train-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Two Gaussian blobs per class in 4-D: separable, so a small MLP gets near 100%. */
function blobs(n: number, seed: number): TensorData {
  const r = rng(seed);
  const x = new Float32Array(n * 4);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const c = i % 3;
    labels[i] = c;
    for (let j = 0; j < 4; j++) x[i * 4 + j] = (j === c ? 2 : 0) + (r() - 0.5);
  }
  return { inputs: { x: { data: x, dtype: DataType.FLOAT, itemShape: [4] } }, labels, length: n };
}

function mlp(seed = 1, withBn = false): Model {
  const r = rng(seed);
  const w = (dims: number[]) => Tensor.float(dims, Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => (r() - 0.5) * 0.8));
  const b = new GraphBuilder();
  const x = b.input('x', DataType.FLOAT, ['N', 4]);
  let h = b.op('Gemm', [x, b.init('fc1.weight', w([4, 8])), b.init('fc1.bias', w([8]))]);
  if (withBn) {
    const ones = Tensor.float([8], new Array(8).fill(1));
    const zeros = Tensor.float([8], new Array(8).fill(0));
    h = b.op('BatchNormalization', [h, b.init('bn.weight', ones), b.init('bn.bias', zeros), b.init('bn.running_mean', zeros), b.init('bn.running_var', ones)]);
  }
  h = b.op('Relu', [h]);
  b.output(b.op('Gemm', [h, b.init('fc2.weight', w([8, 3])), b.init('fc2.bias', w([3]))]), 'logits');
  return b.model({ opset: 17 });
}

const weights = (m: Model) => new Map([...m.graph.initializers].map(([k, v]) => [k, Array.from(v.initializer!.toFloat32())]));

describe('training loop (ONNX Runtime does forward, backward and update)', () => {
  const data = blobs(240, 3);
  const test = blobs(60, 4);

  it('learns a separable problem; the result is a plain inference model', async () => {
    const r = await train(mlp(), { train: data, test, epochs: 4, batch: 16, lr: 0.1, seed: 1, threads: 1 });
    const last = r.history[r.history.length - 1]!;
    expect(last.testAccuracy).toBeGreaterThan(0.95);
    expect(r.history[0]!.loss).toBeGreaterThan(last.loss);
    const s = await Session.create(r.model, { threads: 1 });
    expect(s.inputNames).toEqual(['x']);
    const out = await s.run({ x: Tensor.float([1, 4], [2, 0, 0, 0]) });
    const logits = out.logits!.toFloat32();
    expect(logits.indexOf(Math.max(...logits))).toBe(0);
  });

  it('is reproducible, and a resumed run equals an uninterrupted one', async () => {
    const opts = { train: data, epochs: 2, batch: 16, lr: 0.05, seed: 5, threads: 1, optimizer: { kind: 'adamw', weightDecay: 0.01 } as const };
    const a = await train(mlp(), opts);
    const b = await train(mlp(), opts);
    expect(weights(b.model)).toEqual(weights(a.model));
    const ck = path.join(dir, 'ck.onnx');
    await train(mlp(), { ...opts, epochs: 2, checkpoint: ck, maxSteps: 15 }); // one epoch = 15 steps
    const resumed = await train(mlp(), { ...opts, resume: ck });
    expect(weights(resumed.model)).toEqual(weights(a.model));
  });

  it('keeps frozen weights, updates BatchNorm running statistics', async () => {
    const r = await train(mlp(2, true), { train: data, epochs: 1, batch: 16, lr: 0.1, threads: 1, frozen: (n) => n.startsWith('fc1.') });
    const before = weights(mlp(2, true));
    const after = weights(r.model);
    expect(after.get('fc1.weight')).toEqual(before.get('fc1.weight'));
    expect(after.get('fc2.weight')).not.toEqual(before.get('fc2.weight'));
    expect(after.get('bn.running_mean')).not.toEqual(before.get('bn.running_mean'));
    expect(r.graph.params).not.toContain('fc1.weight');
  });

  it('SGD with momentum/Nesterov, AdamW and gradient clipping match a reference update on a linear MSE model', async () => {
    // y = x·W, loss = mean((y − t)²): the gradient is 2/(B·O)·xᵀ(y − t), the updates follow PyTorch's formulas
    const x = [1, 2, -1, 0.5, 0, 1];
    const t = [0.5, -1, 2, 1];
    const w0 = [0.1, -0.2, 0.3, 0.4, -0.5, 0.6];
    const build = () => {
      const b = new GraphBuilder();
      const xi = b.input('x', DataType.FLOAT, [2, 3]);
      b.output(b.op('MatMul', [xi, b.init('w', Tensor.float([3, 2], w0))]), 'y');
      return b.model({ opset: 17 });
    };
    const grad = (w: number[]) => {
      const g = new Array<number>(6).fill(0);
      for (let i = 0; i < 2; i++) {
        for (let o = 0; o < 2; o++) {
          const y = x[i * 3]! * w[o]! + x[i * 3 + 1]! * w[2 + o]! + x[i * 3 + 2]! * w[4 + o]!;
          for (let k = 0; k < 3; k++) g[k * 2 + o]! += (2 / 4) * (y - t[i * 2 + o]!) * x[i * 3 + k]!;
        }
      }
      return g;
    };
    const targets = Tensor.float([2, 2], t);
    const run = async (optimizer: OptimizerSpec, steps: number, clipNorm?: number) => {
      const g = await buildTrainingGraph(build(), { loss: { kind: 'mse' }, optimizer, sample: { x: Tensor.float([2, 3], x), targets }, clipNorm });
      const s = await Session.create(g.model, { threads: 1 });
      const feeds: Record<string, Tensor> = { x: Tensor.float([2, 3], x), targets, lr: Tensor.float([], [0.1]) };
      for (const c of g.carried) feeds[c.input] = c.init === 'param' ? Tensor.float([3, 2], w0) : Tensor.float(c.dims, new Array(6).fill(0));
      for (let step = 1; step <= steps; step++) {
        const [b1, b2] = adamBiasCorrections(optimizer, step);
        Object.assign(feeds, { adam_bias1: Tensor.float([], [b1]), adam_bias2: Tensor.float([], [b2]) });
        if (optimizer.kind === 'sgd') for (const k of ['adam_bias1', 'adam_bias2']) delete feeds[k];
        const out = await s.run(feeds);
        for (const c of g.carried) feeds[c.input] = out[c.output]!;
      }
      return Array.from(feeds.w!.toFloat32());
    };
    // SGD, momentum 0.9, Nesterov, weight decay 0.1 (rank-2 weight → decayed)
    let w = [...w0];
    let v = new Array<number>(6).fill(0);
    for (let s = 0; s < 3; s++) {
      const g = grad(w).map((gi, i) => gi + 0.1 * w[i]!);
      v = v.map((vi, i) => 0.9 * vi + g[i]!);
      w = w.map((wi, i) => wi - 0.1 * (g[i]! + 0.9 * v[i]!));
    }
    const sgd = await run({ kind: 'sgd', momentum: 0.9, nesterov: true, weightDecay: 0.1 }, 3);
    sgd.forEach((wi, i) => expect(wi).toBeCloseTo(w[i]!, 5));
    // AdamW
    w = [...w0];
    let m = new Array<number>(6).fill(0);
    v = new Array<number>(6).fill(0);
    for (let s = 1; s <= 3; s++) {
      const g = grad(w);
      m = m.map((mi, i) => 0.9 * mi + 0.1 * g[i]!);
      v = v.map((vi, i) => 0.999 * vi + 0.001 * g[i]! ** 2);
      w = w.map((wi, i) => wi * (1 - 0.1 * 0.01) - (0.1 * (m[i]! / (1 - 0.9 ** s))) / (Math.sqrt(v[i]! / (1 - 0.999 ** s)) + 1e-8));
    }
    const adam = await run({ kind: 'adamw', weightDecay: 0.01 }, 3);
    adam.forEach((wi, i) => expect(wi).toBeCloseTo(w[i]!, 5));
    // global-norm clipping: the step is g·min(1, c/‖g‖)
    const g0 = grad(w0);
    const norm = Math.sqrt(g0.reduce((a, v) => a + v * v, 0));
    const clipped = await run({ kind: 'sgd' }, 1, 0.05);
    expect(norm).toBeGreaterThan(0.05);
    clipped.forEach((wi, i) => expect(wi).toBeCloseTo(w0[i]! - (0.1 * g0[i]! * 0.05) / norm, 5));
  });

  it('refuses a model with an op that has no gradient rule, naming op and node', async () => {
    const b = new GraphBuilder();
    const x = b.input('x', DataType.FLOAT, ['N', 4]);
    const h = b.op('Gemm', [x, b.floats('w', [4, 3], new Array(12).fill(0.1))]);
    b.output(b.op('Round', [h], {}, { name: 'rounding' }), 'logits');
    const err = await train(b.model({ opset: 17 }), { train: data, epochs: 1, batch: 16, lr: 0.1, threads: 1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect(String(err)).toMatch(/no gradient rule for op 'Round' \(node 'rounding'\)/);
  });
});

describe('weight averaging over the end of training (averageLast)', () => {
  const data = blobs(240, 3); // 15 steps of 16 per epoch: 30 steps in 2 epochs
  const test = blobs(60, 4);
  const opts = { train: data, epochs: 2, batch: 16, lr: 0.05, seed: 5, threads: 1, optimizer: { kind: 'adamw', weightDecay: 0.01 } as const };
  const names = ['fc1.weight', 'fc1.bias', 'fc2.weight', 'fc2.bias'];
  /** Copies of the trained weights after every step. */
  const recorder = () => {
    const snaps = new Map<number, Map<string, Float32Array>>();
    return { snaps, afterStep: (step: number, t: Map<string, Tensor>) => void snaps.set(step, new Map(names.map((n) => [n, Float32Array.from(t.get(n)!.toFloat32())]))) };
  };
  /** The float32 mean, summed in float64 in step order, of the snapshots `from`…`to`. */
  const mean = (snaps: Map<number, Map<string, Float32Array>>, from: number, to: number) =>
    new Map(names.map((n) => {
      const sum = new Float64Array(snaps.get(from)!.get(n)!.length);
      for (let s = from; s <= to; s++) snaps.get(s)!.get(n)!.forEach((v, i) => (sum[i]! += v));
      return [n, Array.from(Float32Array.from(sum, (x) => x / (to - from + 1)))];
    }));
  const pick = (m: Model) => new Map(names.map((n) => [n, weights(m).get(n)!]));

  it('returns the mean of the weights after the schedule’s last round(f·steps) steps, evaluated on the held-out split, in place of the best evaluation', async () => {
    const rec = recorder();
    // 0.2 of 30 steps: the weights after steps 25–30; early stopping would otherwise return its best evaluation
    const r = await train(mlp(), { ...opts, test, patience: 100, evalEvery: 5, averageLast: 0.2, afterStep: rec.afterStep });
    expect(r.steps).toBe(30);
    expect(r.averaged).toMatchObject({ from: 25, to: 30, count: 6 });
    expect(pick(r.model)).toEqual(mean(rec.snaps, 25, 30));
    // not the last weights, nor a window one step shorter or longer
    for (const other of [mean(rec.snaps, 30, 30), mean(rec.snaps, 26, 30), mean(rec.snaps, 24, 30)]) expect(pick(r.model)).not.toEqual(other);
    // the average's held-out figures are those of the returned model
    const s = await Session.create(r.model, { threads: 1 });
    const logits = (await s.run({ x: Tensor.float([60, 4], test.inputs.x!.data as Float32Array) })).logits!.toFloat32();
    await s.release();
    let hits = 0;
    let loss = 0;
    for (let i = 0; i < 60; i++) {
      const row = Array.from(logits.subarray(i * 3, i * 3 + 3));
      const max = Math.max(...row);
      if (row.indexOf(max) === test.labels[i]) hits++;
      loss += Math.log(row.reduce((z, v) => z + Math.exp(v - max), 0)) + max - row[test.labels[i]!]!;
    }
    expect(r.averaged!.testAccuracy).toBe(hits / 60);
    expect(Math.abs(r.averaged!.testLoss! - loss / 60)).toBeLessThan(1e-5);
  });

  it('a window of one step is the last weights, bit for bit; a run that stops before the window returns its last weights, no average', async () => {
    const plain = await train(mlp(), opts);
    const one = await train(mlp(), { ...opts, averageLast: 1 / 30 });
    expect(one.averaged).toMatchObject({ from: 30, to: 30, count: 1 });
    expect(weights(one.model)).toEqual(weights(plain.model));
    const early = await train(mlp(), { ...opts, scheduleSteps: 30, maxSteps: 20, averageLast: 0.2 });
    expect(early.averaged).toBeUndefined();
    expect(weights(early.model)).toEqual(weights((await train(mlp(), { ...opts, scheduleSteps: 30, maxSteps: 20 })).model));
  });

  it('a run resumed from a checkpoint inside the window averages the same steps (the sums are in the checkpoint)', async () => {
    const rec = recorder();
    const a = await train(mlp(), { ...opts, averageLast: 0.6, afterStep: rec.afterStep }); // steps 13–30
    expect(a.averaged).toMatchObject({ from: 13, to: 30, count: 18 });
    expect(pick(a.model)).toEqual(mean(rec.snaps, 13, 30));
    const ck = path.join(dir, 'avg-ck.onnx');
    await train(mlp(), { ...opts, averageLast: 0.6, checkpoint: ck, scheduleSteps: 30, maxSteps: 15 }); // steps 13–15 summed
    const resumed = await train(mlp(), { ...opts, averageLast: 0.6, resume: ck });
    expect(resumed.averaged).toMatchObject({ from: 13, to: 30, count: 18 });
    expect(weights(resumed.model)).toEqual(weights(a.model));
    // a checkpoint made without averaging is refused for an averaged run (different configuration)
    const plainCk = path.join(dir, 'plain-ck.onnx');
    await train(mlp(), { ...opts, checkpoint: plainCk, maxSteps: 15 });
    await expect(train(mlp(), { ...opts, averageLast: 0.6, resume: plainCk })).rejects.toThrow(/different configuration/);
  });

  it('a fraction outside (0, 1] is refused', async () => {
    for (const f of [0, -0.5, 1.5, Number.NaN]) await expect(train(mlp(), { ...opts, averageLast: f })).rejects.toThrow(InputError);
  });
});
