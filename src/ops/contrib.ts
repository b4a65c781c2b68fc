import { DataType } from '../ir/dtype.js';
import type { Dim, ValueType } from '../ir/types.js';
import { statsShape } from './norm.js';
import { registerOp, type Cost, type InferContext } from './registry.js';
import { elemIn, FLOAT, gemmCost, isNum, like, mulDim, perElementCost, prodDims, shapeIn, tensorOf } from './util.js';

/**
 * com.microsoft contrib ops that ONNX Runtime's transformer fusions (and ours) emit: Attention, QAttention,
 * MultiHeadAttention, SkipLayerNormalization, EmbedLayerNormalization and the GELU family. Shapes follow
 * ORT's contrib op schemas (onnxruntime/core/graph/contrib_ops/bert_defs.cc).
 */

const MS = 'com.microsoft';

// ---- attention ----------------------------------------------------------------------------------------------------

interface AttentionDims {
  batch: Dim;
  seq: Dim;
  /** Key/value length including past. */
  total: Dim;
  inHidden: Dim;
  qk: Dim;
  v: Dim;
  heads: number;
}

/** Attention/QAttention: input [B,S,in], weights [in, q+k+v] (qkv_hidden_sizes, else three equal parts). */
function packedAttentionDims(ctx: InferContext, weightInput: number, pastInput: number): AttentionDims | undefined {
  const x = shapeIn(ctx, 0);
  const w = shapeIn(ctx, weightInput);
  if (!x || x.length !== 3 || !w) return undefined;
  const sizes = ctx.node.attrInts('qkv_hidden_sizes');
  const third = isNum(w[1]) ? w[1] / 3 : null;
  const [qk, v] = sizes ? [sizes[0]!, sizes[2]!] : [third, third];
  const past = shapeIn(ctx, pastInput);
  const total = past && past.length === 5 && isNum(past[3]) && isNum(x[1]) ? past[3] + x[1] : past ? null : x[1]!;
  return { batch: x[0]!, seq: x[1]!, total, inHidden: x[2]!, qk, v, heads: ctx.node.attrInt('num_heads', 1) };
}

function presentShape(d: AttentionDims): Dim[] {
  return [2, d.batch, d.heads, d.total, isNum(d.v) ? d.v / d.heads : null];
}

/** MACs of projection (when packed) + Q·Kᵀ + softmax(…)·V. */
function attentionMacs(d: AttentionDims | undefined, projected: boolean): number | undefined {
  if (!d) return undefined;
  const proj = projected ? prodDims([d.batch, d.seq, d.inHidden]) : 0;
  const width = projected && isNum(d.qk) && isNum(d.v) ? 2 * d.qk + d.v : 0;
  const scores = prodDims([d.batch, d.seq, d.total]);
  if (!isNum(proj) || !isNum(scores) || !isNum(d.qk) || !isNum(d.v)) return undefined;
  return proj * width + scores * (d.qk + d.v);
}

function attentionCost(dims: (ctx: InferContext) => AttentionDims | undefined, projected: boolean) {
  return (ctx: InferContext, outputs: readonly (ValueType | undefined)[]): Cost | undefined => {
    const d = dims(ctx);
    const softmax = d && prodDims([d.batch, d.heads, d.seq, d.total]);
    return gemmCost(ctx, outputs, attentionMacs(d, projected), isNum(softmax) ? 3 * softmax : 0);
  };
}

registerOp({
  domain: MS,
  opType: 'Attention',
  traits: { kernel: 'gemm', prunedBy: ['head'], quant: { tables: true } },
  arithmetic: 'float',
  infer: (ctx) => {
    const d = packedAttentionDims(ctx, 1, 4);
    return [like(ctx, 0, d && [d.batch, d.seq, d.v]), like(ctx, 0, d && presentShape(d))];
  },
  cost: attentionCost((ctx) => packedAttentionDims(ctx, 1, 4), true),
});

// input, weight, bias, input_scale, weight_scale, mask_index, input_zero_point, weight_zero_point, past
registerOp({
  domain: MS,
  opType: 'QAttention',
  arithmetic: 'int8',
  infer: (ctx) => {
    const d = packedAttentionDims(ctx, 1, 8);
    const elem = elemIn(ctx, 3) ?? FLOAT;
    return [tensorOf(elem, d && [d.batch, d.seq, d.v]), tensorOf(elem, d && presentShape(d))];
  },
  cost: attentionCost((ctx) => packedAttentionDims(ctx, 1, 8), true),
});

/** MultiHeadAttention: query [B,S,D] or packed [B,S,N,3,H]; key/value [B,L,D], [B,N,L,H] or packed. */
function mhaDims(ctx: InferContext): AttentionDims | undefined {
  const q = shapeIn(ctx, 0);
  if (!q) return undefined;
  const k = shapeIn(ctx, 1);
  const v = shapeIn(ctx, 2);
  const heads = ctx.node.attrInt('num_heads', 1);
  const qk = q.length === 5 ? mulDim(q[2]!, q[4]!) : q[2]!;
  const vHidden = v?.length === 3 ? v[2]! : v?.length === 4 ? mulDim(v[1]!, v[3]!) : qk;
  const total = k?.length === 3 ? k[1]! : k?.length === 4 ? k[2]! : k?.length === 5 ? k[1]! : q[1]!;
  return { batch: q[0]!, seq: q[1]!, total, inHidden: qk, qk, v: vHidden, heads };
}

registerOp({
  domain: MS,
  opType: 'MultiHeadAttention',
  traits: { kernel: 'gemm', prunedBy: ['head'] },
  infer: (ctx) => {
    const d = mhaDims(ctx);
    return [like(ctx, 0, d && [d.batch, d.seq, d.v])];
  },
  cost: attentionCost(mhaDims, false),
});

// ---- layer norms ------------------------------------------------------------------------------------------------

for (const opType of ['SkipLayerNormalization', 'SkipSimplifiedLayerNormalization']) {
  registerOp({
    domain: MS,
    opType,
    // output, mean, inv_std_var, input_skip_bias_sum
    infer: (ctx) => {
      const x = shapeIn(ctx, 0);
      const stats = tensorOf(FLOAT, statsShape(x, -1));
      return [like(ctx, 0, x), stats, stats, like(ctx, 0, x)];
    },
    cost: perElementCost(7),
  });
}

// input_ids, segment_ids, word_embedding, position_embedding, segment_embedding, gamma, beta, mask, position_ids
registerOp({
  domain: MS,
  opType: 'EmbedLayerNormalization',
  traits: { quant: { tables: true } },
  infer: (ctx) => {
    const ids = shapeIn(ctx, 0);
    const hidden = shapeIn(ctx, 2)?.[1] ?? null;
    const out = ids && [...ids, hidden];
    return [like(ctx, 2, out), tensorOf(DataType.INT32, ids && [ids[0]!]), like(ctx, 2, out)];
  },
  cost: perElementCost(8),
});

// QEmbedLayerNormalization (written by dynamic quantization): the same as above with uint8 tables and their
// scales/zero points appended; the output is float. Inputs: input_ids, segment_ids, word_embedding_quant,
// position_embedding_quant, segment_embedding_quant, gamma_quant, beta_quant, mask, then scales and zero points.
registerOp({
  domain: MS,
  opType: 'QEmbedLayerNormalization',
  infer: (ctx) => {
    const ids = shapeIn(ctx, 0);
    const hidden = shapeIn(ctx, 2)?.[1] ?? null;
    const out = ids && [...ids, hidden];
    return [tensorOf(FLOAT, out), tensorOf(DataType.INT32, ids && [ids[0]!])];
  },
  cost: perElementCost(9),
});

registerOp({ domain: '', opType: 'SimplifiedLayerNormalization', infer: (ctx) => [like(ctx, 0, shapeIn(ctx, 0))], cost: perElementCost(4) });

// ---- GELU family and friends ------------------------------------------------------------------------------------

for (const opType of ['Gelu', 'BiasGelu', 'FastGelu', 'QuickGelu', 'BiasAdd', 'BiasSoftmax', 'RotaryEmbedding']) {
  registerOp({ domain: MS, opType, infer: (ctx) => [like(ctx, 0, shapeIn(ctx, 0))], cost: perElementCost(1) });
}
