import { InputError } from '../errors.js';
import { DataType } from '../ir/dtype.js';
import type { Graph, Node, Value } from '../ir/graph.js';
import type { GradContext, GradRule } from '../ops/grad-rule.js';
import { getGrad } from '../ops/registry.js';
import '../ops/grad/index.js';
import type { GraphEmitter } from './emitter.js';

const FLOATS = new Set([DataType.FLOAT, DataType.DOUBLE, DataType.FLOAT16, DataType.BFLOAT16]);

export function gradRuleOf(node: Node): GradRule | undefined {
  return getGrad(node.domain, node.opType) as GradRule | undefined;
}

/** The error for a node on the path from the weights to the loss that has no gradient rule. */
export function noGradError(node: Node): InputError {
  return new InputError(`no gradient rule for op '${node.qualifiedType}' (node '${node.name || '?'}'): it cannot be trained through`);
}

/**
 * Appends the backward pass of `loss` (a scalar) with respect to `wrt` to the graph and returns each one's
 * gradient. Nodes are visited in reverse topological order; a value read by several nodes gets the sum of
 * their gradients; only gradients on a path from `wrt` to the loss are built.
 */
export function buildBackward(graph: Graph, em: GraphEmitter, loss: Value, wrt: readonly Value[]): Map<Value, Value> {
  graph.topologicalSort();
  const forward = [...graph.nodes];
  const needs = new Set<Value>(wrt);
  for (const n of forward) {
    if (!n.inputs.some((v) => v && needs.has(v))) continue;
    const straight = !!gradRuleOf(n)?.integerOutputGrads;
    for (const o of n.outputs) if (straight || FLOATS.has(em.dtype(o))) needs.add(o);
  }
  // a gradient is a float tensor, also for the integer values of a straight-through op
  const gradLike = (v: Value) => (FLOATS.has(em.dtype(v)) ? v : undefined);
  if (!needs.has(loss)) throw new InputError(`the loss '${loss.name}' does not depend on any trainable weight`);

  const parts = new Map<Value, Value[]>();
  const add = (v: Value, g: Value) => (parts.get(v) ?? parts.set(v, []).get(v)!).push(g);
  const summed = new Map<Value, Value>();
  const total = (v: Value): Value | null => {
    const hit = summed.get(v);
    if (hit) return hit;
    const list = parts.get(v);
    if (!list || list.length === 0) return null;
    const g = list.length === 1 ? list[0]! : em.setShape(em.op('Sum', list), em.shape(v), gradLike(v));
    summed.set(v, g);
    return g;
  };
  add(loss, em.constant(em.shape(loss), [1], loss));

  for (let k = forward.length - 1; k >= 0; k--) {
    const node = forward[k]!;
    if (!node.outputs.some((o) => parts.has(o))) continue;
    const wanted = node.inputs.map((v) => !!v && needs.has(v));
    if (!wanted.some(Boolean)) continue;
    const rule = gradRuleOf(node);
    if (!rule) throw noGradError(node);
    const builders = rule.grads(gradContext(em, node, total));
    wanted.forEach((want, i) => {
      const build = builders[i];
      if (!want || !build) return;
      const x = node.inputs[i]!;
      const g = build();
      if (!em.facts.has(g)) em.setShape(g, em.shape(x), gradLike(x));
      add(x, g);
    });
  }
  const out = new Map<Value, Value>();
  for (const w of wrt) out.set(w, total(w) ?? em.constant(em.shape(w), new Float32Array(em.shape(w).reduce((a, b) => a * b, 1)), w));
  return out;
}

/** The context a rule sees for one node. */
export function gradContext(em: GraphEmitter, node: Node, total: (v: Value) => Value | null): GradContext {
  const x = (i: number): Value => {
    const v = node.inputs[i];
    if (!v) throw new Error(`${node.opType} '${node.name}': input ${i} is missing`);
    return v;
  };
  const ctx: GradContext = Object.assign(Object.create(em) as GraphEmitter, {
    node,
    x,
    has: (i: number) => !!node.inputs[i],
    y: (i: number) => node.outputs[i]!,
    dy: (i = 0) => (node.outputs[i] ? total(node.outputs[i]!) : null),
    reduceTo: (g: Value, i: number, gShape?: readonly number[]) => reduceToShape(em, g, gShape ?? em.shape(node.outputs[0]!), x(i)),
  });
  return ctx;
}

/** Sums a broadcast gradient back to `target`'s shape (ReduceSum over broadcast axes, then Reshape). */
export function reduceToShape(em: GraphEmitter, g: Value, gShape: readonly number[], target: Value): Value {
  const want = em.shape(target);
  if (want.length === gShape.length && want.every((d, i) => d === gShape[i])) return g;
  const padded = [...new Array<number>(gShape.length - want.length).fill(1), ...want];
  const axes = gShape.flatMap((d, i) => (padded[i] === 1 && d !== 1 ? [i] : []));
  let r = axes.length ? em.op('ReduceSum', [g, em.ints(axes)], { keepdims: 1 }) : g;
  if (padded.length !== want.length || axes.length === 0) r = em.op('Reshape', [r, em.ints(want)]);
  return em.setShape(r, want, target);
}
