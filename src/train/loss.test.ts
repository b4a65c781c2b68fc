import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../ir/builder.js';
import { DataType } from '../ir/dtype.js';
import { Tensor } from '../ir/tensor.js';
import { Session } from '../runtime/session.js';
import { GraphEmitter } from './emitter.js';
import { appendLoss, type LossSpec } from './loss.js';

/** Loss values computed by ONNX Runtime against a JS reference (the gradients come from the checked rules). */
const logits = [1, 2, 0.5, -1, 0, 3];
const teacher = [0.5, 1, 2, 1, -2, 0];
const labels = [1, 2];

function logSoftmax(row: number[], t = 1): number[] {
  const z = row.map((v) => v / t);
  const m = Math.max(...z);
  const lse = m + Math.log(z.reduce((s, v) => s + Math.exp(v - m), 0));
  return z.map((v) => v - lse);
}

const rows = (v: number[]) => [v.slice(0, 3), v.slice(3)];

function crossEntropy(eps: number): number {
  return rows(logits).reduce((s, r, i) => s - logSoftmax(r).reduce((a, lp, k) => a + lp * ((k === labels[i] ? 1 - eps : 0) + eps / 3), 0), 0) / 2;
}

function kl(t: number): number {
  const student = rows(logits).map((r) => logSoftmax(r, t));
  return (rows(teacher).map((r) => logSoftmax(r, t)).reduce((s, lt, i) => s + lt.reduce((a, v, k) => a + Math.exp(v) * (v - student[i]![k]!), 0), 0) / 2) * t * t;
}

async function lossValue(spec: LossSpec): Promise<{ loss: number; correct?: number }> {
  const b = new GraphBuilder();
  const x = b.input('x', DataType.FLOAT, [2, 3]);
  const y = b.op('Identity', [x]);
  b.output(y);
  const em = new GraphEmitter(b.graph, new Map([[x, { dims: [2, 3], dtype: DataType.FLOAT }], [y, { dims: [2, 3], dtype: DataType.FLOAT }]]));
  const out = appendLoss(em, spec, [y]);
  b.graph.outputs = [out.loss, ...(out.correct ? [out.correct] : [])];
  const s = await Session.create(b.model({ opset: 17 }), { threads: 1 });
  const feeds: Record<string, Tensor> = { x: Tensor.float([2, 3], logits), labels: Tensor.int64([2], labels) };
  if (spec.kind === 'kl') feeds.teacher_logits = Tensor.float([2, 3], teacher);
  if (spec.kind === 'kl') for (const m of spec.matches ?? []) feeds[m.input] = Tensor.float([2, 3], hidden);
  const r = await s.run(feeds);
  return { loss: r[out.loss.name]!.toFloat32()[0]!, correct: out.correct ? r[out.correct.name]!.toFloat32()[0]! : undefined };
}

const hidden = [0.5, -1, 2, 0, 0.25, -0.75];

describe('losses', () => {
  it('distillation with a matched hidden state: KL·α + CE·(1 − α) + w·mean((h − h_teacher)²), by hand', async () => {
    const mse = logits.reduce((s, v, i) => s + (v - hidden[i]!) ** 2, 0) / 6;
    const want = 0.6 * kl(2) + 0.4 * crossEntropy(0) + 0.3 * mse;
    expect((await lossValue({ kind: 'kl', temperature: 2, alpha: 0.6, matches: [{ value: 'x', input: 'teacher_hidden_0', weight: 0.3 }] })).loss).toBeCloseTo(want, 5);
  });

  it('softmax cross-entropy, with and without label smoothing, and the correct count', async () => {
    const plain = await lossValue({ kind: 'cross-entropy' });
    expect(plain.loss).toBeCloseTo(crossEntropy(0), 5);
    expect(plain.correct).toBe(2); // row 0 predicts class 1, row 1 class 2: both labels hit
    expect((await lossValue({ kind: 'cross-entropy', labelSmoothing: 0.1 })).loss).toBeCloseTo(crossEntropy(0.1), 5);
  });

  it('KL distillation with temperature, alone and mixed with cross-entropy', async () => {
    expect((await lossValue({ kind: 'kl', temperature: 2 })).loss).toBeCloseTo(kl(2), 5);
    expect((await lossValue({ kind: 'kl', temperature: 3, alpha: 0.7 })).loss).toBeCloseTo(0.7 * kl(3) + 0.3 * crossEntropy(0), 5);
  });
});
