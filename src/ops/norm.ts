import type { Dim } from '../ir/types.js';
import { defineTraits, registerOp, type InferContext } from './registry.js';
import { elemIn, FLOAT, like, normAxis, perElementCost, shapeIn, tensorOf } from './util.js';

/**
 * Normalizations and softmax: Softmax/LogSoftmax/Hardmax, LayerNormalization, BatchNormalization,
 * InstanceNormalization, GroupNormalization, LpNormalization, MeanVarianceNormalization. Costs are a small
 * number of operations per element (mean, variance, scale and shift; exp, sum and divide for softmax).
 */

for (const opType of ['Softmax', 'LogSoftmax', 'Hardmax']) {
  registerOp({ domain: '', opType, infer: (ctx) => [like(ctx, 0, shapeIn(ctx, 0))], cost: perElementCost(opType === 'Hardmax' ? 1 : 3) });
}
// an unfused attention's softmax runs over heads × seq × seq: cutting heads shrinks it
defineTraits('', 'Softmax', { prunedBy: ['head'], outputRange: () => ({ min: 0, max: 1 }) });

/** Shape of LayerNormalization's Mean / InvStdDev outputs: normalized axes become 1. */
export function statsShape(x: Dim[] | undefined, axis: number): Dim[] | undefined {
  if (!x) return undefined;
  const a = normAxis(axis, x.length);
  return x.map((d, i) => (i < a ? d : 1));
}

/** Y, Mean, InvStdDev; the statistics are float32 unless stash_type says otherwise. */
function layerNormOutputs(ctx: InferContext) {
  const x = shapeIn(ctx, 0);
  const statsElem = ctx.node.attrInt('stash_type', 1) === 1 ? FLOAT : elemIn(ctx, 0);
  const stats = tensorOf(statsElem, statsShape(x, ctx.node.attrInt('axis', -1)));
  return [like(ctx, 0, x), stats, stats];
}

registerOp({ domain: '', opType: 'LayerNormalization', infer: (ctx) => layerNormOutputs(ctx), cost: perElementCost(5) });
registerOp({ domain: '', opType: 'RMSNormalization', infer: (ctx) => [like(ctx, 0, shapeIn(ctx, 0))], cost: perElementCost(4) });

registerOp({
  domain: '',
  opType: 'BatchNormalization',
  infer: (ctx) => {
    const x = shapeIn(ctx, 0);
    const c = x ? [x[1] ?? null] : undefined;
    // outputs 1..4 exist only in training mode (running mean/var, saved mean/var)
    return [like(ctx, 0, x), like(ctx, 1, c), like(ctx, 1, c), like(ctx, 1, c), like(ctx, 1, c)];
  },
  cost: perElementCost(2),
});

for (const opType of ['InstanceNormalization', 'GroupNormalization', 'MeanVarianceNormalization', 'LpNormalization']) {
  registerOp({ domain: '', opType, infer: (ctx) => [like(ctx, 0, shapeIn(ctx, 0))], cost: perElementCost(5) });
}
