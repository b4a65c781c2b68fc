import { InputError } from '../errors.js';
import { DataType } from '../ir/dtype.js';
import type { Value } from '../ir/graph.js';
import type { GraphEmitter } from './emitter.js';

/**
 * Losses appended to a forward graph as ONNX nodes. Classification losses read integer labels from a new
 * graph input `labels` [B] and also emit `correct` (how many argmaxes hit the label) for the progress bar.
 */
export type LossSpec =
  | { kind: 'cross-entropy'; output?: string; labelSmoothing?: number }
  /** Distillation: T²·KL(softmax(teacher/T) ‖ softmax(student/T)) from input `teacher_logits`, mixed with CE by 1−alpha. */
  | { kind: 'kl'; output?: string; temperature?: number; alpha?: number; labelSmoothing?: number; matches?: Match[] }
  /** Regression: mean squared error against input `targets` (same shape as the output). */
  | { kind: 'mse'; output?: string };

/**
 * A feature-matching term added to the distillation loss: weight · mean((value − input)²), `value` a tensor of
 * the model (a hidden state, attention probabilities), `input` a new graph input of the same shape (the
 * teacher's tensor, fed per batch).
 */
export interface Match {
  value: string;
  input: string;
  weight: number;
}

export interface LossValues {
  loss: Value;
  correct?: Value;
  /** New graph inputs the loss reads (labels, targets, teacher logits). */
  inputs: Value[];
}

export function appendLoss(em: GraphEmitter, spec: LossSpec, outputs: readonly Value[]): LossValues {
  const pick = spec.output ? outputs.find((o) => o.name === spec.output) : outputs[0];
  if (!pick) throw new InputError(`the model has no output '${spec.output}' to train`);
  const shape = em.shape(pick);
  const batch = shape[0]!;
  const newInput = (name: string, dtype: DataType, dims: number[]) => {
    const v = em.builder.input(name, dtype, dims);
    em.setShape(v, dims);
    em.facts.get(v)!.dtype = dtype;
    return v;
  };
  const mean = (v: Value) => em.op('Mul', [em.op('ReduceSum', [v], { keepdims: 0 }), em.scalar(1 / batch, pick)]);
  if (spec.kind === 'mse') {
    const targets = newInput('targets', em.dtype(pick), shape);
    const d = em.op('Sub', [pick, targets]);
    const loss = em.op('Mul', [em.op('ReduceSum', [em.op('Mul', [d, d])], { keepdims: 0 }), em.scalar(1 / shape.reduce((a, b) => a * b, 1), pick)]);
    return { loss, inputs: [targets] };
  }
  if (shape.length !== 2) throw new InputError(`a classification loss needs logits [batch, classes]; '${pick.name}' is [${shape.join(',')}]`);
  const classes = shape[1]!;
  const labels = newInput('labels', DataType.INT64, [batch]);
  const eps = spec.labelSmoothing ?? 0;
  const target = em.op('OneHot', [labels, em.constant([], [classes], em.ints([0])), em.constant([2], [eps / classes, 1 - eps + eps / classes], pick)], { axis: -1 });
  const ce = em.op('Neg', [mean(em.op('Mul', [em.op('LogSoftmax', [pick], { axis: -1 }), target]))]);
  const hits = em.op('Equal', [em.op('ArgMax', [pick], { axis: -1, keepdims: 0 }), labels]);
  const correct = em.op('ReduceSum', [em.op('Cast', [hits], { to: DataType.FLOAT })], { keepdims: 0 });
  if (spec.kind === 'cross-entropy') return { loss: ce, correct, inputs: [labels] };

  const t = spec.temperature ?? 1;
  const alpha = spec.alpha ?? 1;
  const teacher = newInput('teacher_logits', em.dtype(pick), shape);
  const invT = em.scalar(1 / t, pick);
  const logPt = em.op('LogSoftmax', [em.op('Mul', [teacher, invT])], { axis: -1 });
  const logPs = em.op('LogSoftmax', [em.op('Mul', [pick, invT])], { axis: -1 });
  const kl = em.op('Mul', [mean(em.op('Mul', [em.op('Exp', [logPt]), em.op('Sub', [logPt, logPs])])), em.scalar(t * t, pick)]);
  let loss = alpha === 1 ? kl : em.op('Add', [em.op('Mul', [kl, em.scalar(alpha, pick)]), em.op('Mul', [ce, em.scalar(1 - alpha, pick)])]);
  const inputs = [labels, teacher];
  for (const m of spec.matches ?? []) {
    const v = em.graph.findValue(m.value);
    if (!v || !em.facts.has(v)) throw new InputError(`distillation: the model has no tensor '${m.value}' to match`);
    const dims = em.shape(v);
    const target = newInput(m.input, em.dtype(v), dims);
    const d = em.op('Sub', [v, target]);
    const mse = em.op('Mul', [em.op('ReduceSum', [em.op('Mul', [d, d])], { keepdims: 0 }), em.scalar(m.weight / dims.reduce((a, b) => a * b, 1), v)]);
    loss = em.op('Add', [loss, mse]);
    inputs.push(target);
  }
  return { loss, correct, inputs };
}
