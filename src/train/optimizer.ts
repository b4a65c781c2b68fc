import { DataType } from '../ir/dtype.js';
import type { Value } from '../ir/graph.js';
import type { GraphEmitter } from './emitter.js';

/**
 * Optimizers as ONNX nodes fused into the training graph: one session.run does forward, backward and the
 * update. Hyper-parameters that change per step (learning rate, Adam's bias corrections) are scalar inputs
 * the loop feeds; everything else is constant in the graph.
 */
export type OptimizerSpec =
  | { kind: 'sgd'; momentum?: number; nesterov?: boolean; weightDecay?: number }
  | { kind: 'adamw'; beta1?: number; beta2?: number; eps?: number; weightDecay?: number };

/** A tensor carried from one step to the next: fed as `input`, returned as `output`. */
export interface Carried {
  input: string;
  output: string;
  dims: number[];
  /** What it holds initially: the weight itself, or zeros (optimizer state). */
  init: 'param' | 'zeros' | 'state';
}

/** Scalar inputs the loop feeds each step. */
export const STEP_INPUTS = { lr: 'lr', bias1: 'adam_bias1', bias2: 'adam_bias2' } as const;

/** Adam's bias-correction factors for step t (1-based): 1/(1−β1ᵗ), 1/(1−β2ᵗ). */
export function adamBiasCorrections(spec: OptimizerSpec, t: number): [number, number] {
  if (spec.kind !== 'adamw') return [1, 1];
  return [1 / (1 - (spec.beta1 ?? 0.9) ** t), 1 / (1 - (spec.beta2 ?? 0.999) ** t)];
}

/**
 * Appends the update of every parameter. Weight decay applies to weights of rank ≥ 2 only (not to biases
 * and normalisation scales), as is usual. Returns the carried tensors (new weights and optimizer state).
 */
export function appendOptimizer(em: GraphEmitter, spec: OptimizerSpec, grads: Map<Value, Value>): Carried[] {
  const scalarIn = (name: string) => {
    const v = em.builder.input(name, DataType.FLOAT, []);
    em.setShape(v, []);
    return v;
  };
  const lr = scalarIn(STEP_INPUTS.lr);
  const bias = spec.kind === 'adamw' ? [scalarIn(STEP_INPUTS.bias1), scalarIn(STEP_INPUTS.bias2)] : [];
  const carried: Carried[] = [];
  const out = (v: Value, name: string, dims: number[], input: string, init: Carried['init']) => {
    em.builder.output(v, name);
    carried.push({ input, output: v.name, dims, init });
  };
  const state = (p: Value, suffix: string) => {
    const dims = em.shape(p);
    const v = em.builder.input(`${p.name}__${suffix}`, DataType.FLOAT, dims);
    em.setShape(v, dims);
    return v;
  };
  const c = (x: number) => em.scalar(x);
  const mul = (a: Value, b: Value) => em.op('Mul', [a, b]);
  const add = (a: Value, b: Value) => em.op('Add', [a, b]);

  for (const [p, g0] of grads) {
    const dims = em.shape(p);
    const decay = dims.length >= 2 ? (spec.weightDecay ?? 0) : 0;
    let next: Value;
    if (spec.kind === 'sgd') {
      const mu = spec.momentum ?? 0;
      const g = decay ? add(g0, mul(p, c(decay))) : g0;
      let step = g;
      if (mu) {
        const buf = state(p, 'momentum');
        const v = add(mul(buf, c(mu)), g);
        out(v, `${buf.name}__next`, dims, buf.name, 'zeros');
        step = spec.nesterov ? add(g, mul(v, c(mu))) : v;
      }
      next = em.op('Sub', [p, mul(step, lr)]);
    } else {
      const [b1, b2] = [spec.beta1 ?? 0.9, spec.beta2 ?? 0.999];
      const m0 = state(p, 'adam_m');
      const v0 = state(p, 'adam_v');
      const m = add(mul(m0, c(b1)), mul(g0, c(1 - b1)));
      const v = add(mul(v0, c(b2)), mul(mul(g0, g0), c(1 - b2)));
      out(m, `${m0.name}__next`, dims, m0.name, 'zeros');
      out(v, `${v0.name}__next`, dims, v0.name, 'zeros');
      const denom = add(em.op('Sqrt', [mul(v, bias[1]!)]), c(spec.eps ?? 1e-8));
      const stepDir = em.op('Div', [mul(m, bias[0]!), denom]);
      const decayed = decay ? mul(p, em.op('Sub', [c(1), mul(lr, c(decay))])) : p;
      next = em.op('Sub', [decayed, mul(stepDir, lr)]);
    }
    out(next, `${p.name}__next`, dims, p.name, 'param');
  }
  return carried;
}

/** Scales every gradient so that their global L2 norm is at most `maxNorm` (computed in-graph). */
export function clipGlobalNorm(em: GraphEmitter, grads: Map<Value, Value>, maxNorm: number): Map<Value, Value> {
  const squares = [...grads.values()].map((g) => em.op('ReduceSum', [em.op('Mul', [g, g])], { keepdims: 0 }));
  const total = squares.length === 1 ? squares[0]! : em.op('Sum', squares);
  const norm = em.op('Sqrt', [total]);
  const scale = em.op('Min', [em.scalar(1), em.op('Div', [em.scalar(maxNorm), em.op('Add', [norm, em.scalar(1e-6)])])]);
  const out = new Map<Value, Value>();
  for (const [p, g] of grads) out.set(p, em.op('Mul', [g, scale]));
  return out;
}
