import type { Dim, ValueType } from '../ir/types.js';
import { defineTraits, registerOp, type Cost, type InferContext } from './registry.js';
import { INT64, int64Input, intsAttrOrInput, like, normAxis, numel, perElementCost, shapeIn, tensorOf } from './util.js';

/**
 * Reductions: Reduce* (axes as an attribute, or as an input from opset 13 for ReduceSum and 18 for the
 * others), ArgMax/ArgMin and TopK. Cost: one operation per input element.
 */

const REDUCE = ['ReduceSum', 'ReduceMean', 'ReduceMax', 'ReduceMin', 'ReduceProd', 'ReduceL1', 'ReduceL2', 'ReduceLogSum', 'ReduceLogSumExp', 'ReduceSumSquare'];

function reduceShape(ctx: InferContext): Dim[] | undefined {
  const x = shapeIn(ctx, 0);
  if (!x) return undefined;
  const keep = ctx.node.attrInt('keepdims', 1) === 1;
  const axes = intsAttrOrInput(ctx.node, ctx, 'axes', 1);
  if (axes === 'unknown') return keep ? x.map(() => null) : undefined;
  let reduced: Set<number>;
  if (axes === 'missing' || axes.length === 0) {
    if (ctx.node.attrInt('noop_with_empty_axes', 0) === 1) return [...x];
    reduced = new Set(x.map((_, i) => i));
  } else reduced = new Set(axes.map((a) => normAxis(a, x.length)));
  const out: Dim[] = [];
  x.forEach((d, i) => {
    if (!reduced.has(i)) out.push(d);
    else if (keep) out.push(1);
  });
  return out;
}

/** One operation per input element (the reduction reads everything once). */
function readAllCost(ctx: InferContext, outputs: readonly (ValueType | undefined)[]): Cost | undefined {
  const c = perElementCost(1)(ctx, outputs);
  const n = numel(ctx.inputs[0]);
  return c && n !== undefined ? { ...c, flops: n } : undefined;
}

for (const opType of REDUCE) {
  registerOp({ domain: '', opType, infer: (ctx) => [like(ctx, 0, reduceShape(ctx))], cost: readAllCost });
}
// axes became an optional int64 input 1: ReduceSum-13, the others at 18
defineTraits('', 'ReduceSum', { signatureChanges: [{ at: 13, attrsToInputs: [int64Input('axes', 1)] }] });
defineTraits('', REDUCE.filter((op) => op !== 'ReduceSum'), { signatureChanges: [{ at: 18, attrsToInputs: [int64Input('axes', 1)] }] });

function reduceOneAxis(x: Dim[] | undefined, axis: number, keep: boolean, replacement: Dim = 1): Dim[] | undefined {
  if (!x) return undefined;
  const a = normAxis(axis, x.length);
  return keep ? x.map((d, i) => (i === a ? replacement : d)) : x.filter((_, i) => i !== a);
}

for (const opType of ['ArgMax', 'ArgMin']) {
  registerOp({
    domain: '',
    opType,
    infer: (ctx) => [tensorOf(INT64, reduceOneAxis(shapeIn(ctx, 0), ctx.node.attrInt('axis', 0), ctx.node.attrInt('keepdims', 1) === 1))],
    cost: readAllCost,
  });
}

registerOp({
  domain: '',
  opType: 'TopK',
  // TopK-10: k is an int64 input of shape [1]
  traits: { halfUnsafe: 'ordering and ties change under fp16 rounding', signatureChanges: [{ at: 10, attrsToInputs: [int64Input('k', 1)] }] },
  infer: (ctx) => {
    const k: Dim = ctx.opset < 10 ? ctx.node.attrInt('k', 1) : (ctx.inputValue(1)?.[0] ?? null);
    const s = reduceOneAxis(shapeIn(ctx, 0), ctx.node.attrInt('axis', -1), true, k);
    return [like(ctx, 0, s), tensorOf(INT64, s)];
  },
  cost: readAllCost,
});
