import { DataType } from '../ir/dtype.js';
import type { Dim, ValueType } from '../ir/types.js';
import { defineTraits, registerOp, type Cost, type InferContext } from './registry.js';
import { elemIn, gemmCost, INT64, ioBytes, isNum, like, movementCost, normAxis, numel, perElementCost, prodDims, shapeIn, tensorOf } from './util.js';

/**
 * Ops of detection, sequence and other models that the core families do not cover: the recurrent layers
 * (LSTM, GRU, RNN), OneHot, RoiAlign, GridSample, NonMaxSuppression, Compress, LRN, EyeLike and the
 * random-*Like generators.
 */

// ---- recurrent layers ----------------------------------------------------------------------------------------

const GATES: Record<string, number> = { LSTM: 4, GRU: 3, RNN: 1 };

interface RecurrentDims {
  seq: Dim;
  batch: Dim;
  input: Dim;
  hidden: Dim;
  dirs: number;
  batchFirst: boolean;
}

function recurrentDims(ctx: InferContext): RecurrentDims | undefined {
  const x = shapeIn(ctx, 0);
  if (!x || x.length !== 3) return undefined;
  const batchFirst = ctx.node.attrInt('layout', 0) === 1;
  const gates = GATES[ctx.node.opType]!;
  const w = shapeIn(ctx, 1);
  const fromW = isNum(w?.[1]) ? w[1] / gates : null;
  return {
    seq: batchFirst ? x[1]! : x[0]!,
    batch: batchFirst ? x[0]! : x[1]!,
    input: x[2]!,
    hidden: ctx.node.attrInt('hidden_size') ?? fromW,
    dirs: ctx.node.attrString('direction', 'forward') === 'bidirectional' ? 2 : 1,
    batchFirst,
  };
}

function recurrentCost(ctx: InferContext, outputs: readonly (ValueType | undefined)[]): Cost | undefined {
  const d = recurrentDims(ctx);
  if (!d || !isNum(d.hidden) || !isNum(d.input)) return undefined;
  const steps = prodDims([d.seq, d.batch]);
  const gates = GATES[ctx.node.opType]!;
  // per step and direction: the gates' input and recurrent matrix products
  const macs = isNum(steps) ? steps * d.dirs * gates * d.hidden * (d.input + d.hidden) : undefined;
  return gemmCost(ctx, outputs.filter((_, i) => ctx.node.outputs[i]?.name), macs);
}

for (const opType of Object.keys(GATES)) {
  registerOp({
    domain: '',
    opType,
    arithmetic: 'float',
    infer: (ctx) => {
      const d = recurrentDims(ctx);
      if (!d) return [like(ctx, 0), like(ctx, 0), like(ctx, 0)];
      const y = d.batchFirst ? [d.batch, d.seq, d.dirs, d.hidden] : [d.seq, d.dirs, d.batch, d.hidden];
      const state = d.batchFirst ? [d.batch, d.dirs, d.hidden] : [d.dirs, d.batch, d.hidden];
      return [like(ctx, 0, y), like(ctx, 0, state), like(ctx, 0, state)];
    },
    cost: recurrentCost,
  });
}

// ---- detection and sampling ------------------------------------------------------------------------------------------

registerOp({
  domain: '',
  opType: 'OneHot',
  traits: { sizeInflating: true },
  infer: (ctx) => {
    const idx = shapeIn(ctx, 0);
    if (!idx) return [like(ctx, 2)];
    const depth = ctx.inputValue(1)?.[0] ?? null;
    const axis = normAxis(ctx.node.attrInt('axis', -1), idx.length + 1);
    return [like(ctx, 2, [...idx.slice(0, axis), depth, ...idx.slice(axis)])];
  },
  cost: movementCost,
});

// X [N,C,H,W], rois [R,4], batch_indices [R] → [R, C, output_height, output_width]
registerOp({
  domain: '',
  opType: 'RoiAlign',
  traits: { halfUnsafe: 'sampling coordinates need float32' },
  infer: (ctx) => {
    const x = shapeIn(ctx, 0);
    const rois = shapeIn(ctx, 1);
    const n = ctx.node;
    return [like(ctx, 0, [rois?.[0] ?? null, x?.[1] ?? null, n.attrInt('output_height', 1), n.attrInt('output_width', 1)])];
  },
  // each output element averages sampling_ratio² bilinear samples (4 reads each); 0 means adaptive: count 4
  cost: (ctx, outputs) => perElementCost(4 * Math.max(1, ctx.node.attrInt('sampling_ratio', 0)) ** 2)(ctx, outputs),
});

// X [N,C,H,W], grid [N,Ho,Wo,2] → [N,C,Ho,Wo]
registerOp({
  domain: '',
  opType: 'GridSample',
  traits: { breaksAt: [20] },
  infer: (ctx) => {
    const x = shapeIn(ctx, 0);
    const grid = shapeIn(ctx, 1);
    return [like(ctx, 0, x && grid ? [x[0]!, x[1]!, ...grid.slice(1, -1)] : undefined)];
  },
  cost: perElementCost(8),
});

registerOp({ domain: '', opType: 'NonMaxSuppression', traits: { halfUnsafe: 'box coordinates and IoU thresholds need float32; ORT has only a float kernel' }, infer: () => [tensorOf(INT64, [null, 3])], cost: movementCost });

registerOp({
  domain: '',
  opType: 'Compress',
  infer: (ctx) => {
    const x = shapeIn(ctx, 0);
    const axis = ctx.node.attrInt('axis');
    if (axis === undefined || !x) return [like(ctx, 0, [null])];
    const a = normAxis(axis, x.length);
    return [like(ctx, 0, x.map((d, i) => (i === a ? null : d)))];
  },
  cost: movementCost,
});

registerOp({ domain: '', opType: 'LRN', infer: (ctx) => [like(ctx, 0, shapeIn(ctx, 0))], cost: (ctx, o) => perElementCost(ctx.node.attrInt('size', 1) + 3)(ctx, o) });

// ---- generators of the input's shape --------------------------------------------------------------------------------

for (const opType of ['EyeLike', 'RandomNormalLike', 'RandomUniformLike', 'Bernoulli']) {
  registerOp({
    domain: '',
    opType,
    infer: (ctx) => [tensorOf((ctx.node.attrInt('dtype') as DataType | undefined) ?? elemIn(ctx, 0), shapeIn(ctx, 0))],
    cost: perElementCost(1),
  });
}
const DTYPE_ATTR = 'output type set by a dtype attribute';
defineTraits('', 'EyeLike', { sizeInflating: true, halfUnsafe: DTYPE_ATTR });
defineTraits('', ['RandomNormalLike', 'RandomUniformLike'], { nondeterministic: true, halfUnsafe: DTYPE_ATTR });
defineTraits('', 'Bernoulli', { nondeterministic: true });
// no shape rule yet: registered for their traits
for (const opType of ['RandomNormal', 'RandomUniform']) registerOp({ domain: '', opType, traits: { nondeterministic: true, halfUnsafe: DTYPE_ATTR } });
registerOp({ domain: '', opType: 'Multinomial', traits: { nondeterministic: true, halfUnsafe: 'probabilities need float32' } });
registerOp({ domain: '', opType: 'DFT', traits: { breaksAt: [20] } }); // dft_length and axis became inputs at 20

// ---- control flow and sequences (shapes: src/ops/infer.ts walks their subgraphs) ------------------------------------
for (const opType of ['If', 'Loop', 'Scan', 'SequenceConstruct', 'SequenceEmpty', 'Optional']) registerOp({ domain: '', opType, traits: { neverFold: true } });

// ---- losses (training graphs) -----------------------------------------------------------------------------------

/** Loss shape: a scalar for mean/sum reduction, the target's shape (N, d1…) for 'none'. */
function lossShape(ctx: InferContext, targetInput: number): Dim[] | undefined {
  return ctx.node.attrString('reduction', 'mean') === 'none' ? shapeIn(ctx, targetInput) : [];
}

registerOp({ domain: '', opType: 'NegativeLogLikelihoodLoss', infer: (ctx) => [like(ctx, 0, lossShape(ctx, 1))], cost: perElementCost(1) });

registerOp({
  domain: '',
  opType: 'SoftmaxCrossEntropyLoss',
  // loss, and the optional log-probabilities (the scores' shape)
  infer: (ctx) => [like(ctx, 0, lossShape(ctx, 1)), like(ctx, 0, shapeIn(ctx, 0))],
  // log-softmax over the scores, then a gather and a reduction: ~4 operations per score element
  cost: (ctx, outputs) => {
    const n = numel(ctx.inputs[0]);
    const io = ioBytes(ctx, outputs);
    return n !== undefined && io ? { macs: 0, flops: 4 * n, bytesRead: io.read, bytesWritten: io.written } : undefined;
  },
});

// ---- data-dependent sizes -------------------------------------------------------------------------------------------

// Y, indices, inverse_indices, counts: sizes depend on the data, except inverse_indices
registerOp({
  domain: '',
  opType: 'Unique',
  infer: (ctx) => {
    const x = shapeIn(ctx, 0);
    const axis = ctx.node.attrInt('axis');
    const a = axis !== undefined && x ? normAxis(axis, x.length) : undefined;
    const y = a === undefined ? [null] : x!.map((d, i) => (i === a ? null : d));
    const inverse = x && [a === undefined ? prodDims(x) : x[a]!];
    return [like(ctx, 0, y), tensorOf(INT64, [null]), tensorOf(INT64, inverse), tensorOf(INT64, [null])];
  },
  cost: movementCost,
});

// signal windows: a 1-D tensor of the given size, type from output_datatype (default float)
for (const opType of ['HannWindow', 'HammingWindow', 'BlackmanWindow']) {
  registerOp({
    domain: '',
    opType,
    infer: (ctx) => [tensorOf((ctx.node.attrInt('output_datatype') ?? DataType.FLOAT) as DataType, [ctx.inputValue(0)?.[0] ?? null])],
    cost: perElementCost(4),
  });
}
