/**
 * `bert-tiny`, `bert-mini`, `bert-base`: HF BertForSequenceClassification as torch.onnx.export emits it.
 * Inputs `input_ids`, `attention_mask`, `token_type_ids`: int64[batch, seq] (both dims symbolic); outputs
 * `last_hidden_state` f32[batch, seq, hidden] and `logits` f32[batch, 2].
 *
 * Pattern choices (each one exists in real exports):
 * - embeddings: Gather(word) + Gather(token type), then + Gather(position) where the position ids are the
 *   `embeddings.position_ids` buffer [1, 512] cut by Slice to the sequence length read via Shape → Gather;
 * - LayerNorm: `layerNorm` option — 'decomposed' (default, what exporters before opset 17 emit: ReduceMean,
 *   Sub, Pow, ReduceMean, Add eps, Sqrt, Div, Mul, Add), 'fused' (LayerNormalization everywhere) or 'mixed'
 *   (decomposed in the embeddings, LayerNormalization in the encoder);
 * - extended attention mask: Unsqueeze(1) → Unsqueeze(2) → Cast(float) → Sub(1, m) → Mul(-10000);
 * - self-attention, Q/K/V as separate MatMul + Add(bias, y); split heads by Reshape to
 *   [batch, seq, heads, head_dim] — `reshape` option: 'dynamic' (default, the exporter's Shape → Gather →
 *   Unsqueeze → Concat → Reshape) or 'constant' (shape [0, 0, heads, head_dim]); Transpose [0,2,1,3] for
 *   Q and V, one Transpose [0,2,3,1] for K (the exporter merges permute + transpose(-1,-2));
 *   MatMul(Q, Kᵀ) → Div √head_dim → Add mask → Softmax(-1) → MatMul V → Transpose [0,2,1,3] → Reshape
 *   [batch, seq, hidden] → dense → Add(dense, residual) → LayerNorm;
 * - feed-forward: MatMul + Add → GELU via Erf (Div √2, Erf, Add 1, Mul x, Mul 0.5) → MatMul + Add →
 *   Add residual → LayerNorm;
 * - pooler: Gather(axis 1, index 0) → Gemm → Tanh; classifier: Gemm → `logits` (dropout vanishes in eval).
 * Weights ~ N(0, 0.02) (BERT's initializer_range), biases small random, LayerNorm γ ≈ 1, β ≈ 0. MatMul weights
 * are stored [in, out] under the torch parameter name (torch names the transposed copy `onnx::MatMul_*`).
 */
import { DataType } from '../ir/dtype.js';
import type { Model, Value } from '../ir/graph.js';
import { Tensor } from '../ir/tensor.js';
import { Layers, type LayerNormForm, type LayerOptions } from './layers.js';

export interface BertConfig {
  layers: number;
  hidden: number;
  heads: number;
  intermediate: number;
  vocab: number;
  maxPositions: number;
  typeVocab: number;
  numLabels: number;
}

export interface BertOptions {
  layerNorm?: LayerNormForm | 'mixed';
  reshape?: 'dynamic' | 'constant';
}

const BASE = { vocab: 30522, maxPositions: 512, typeVocab: 2, numLabels: 2 };
export const BERT_CONFIGS = {
  'bert-tiny': { ...BASE, layers: 2, hidden: 128, heads: 2, intermediate: 512 },
  'bert-mini': { ...BASE, layers: 4, hidden: 256, heads: 4, intermediate: 1024 },
  'bert-base': { ...BASE, layers: 12, hidden: 768, heads: 12, intermediate: 3072 },
} satisfies Record<string, BertConfig>;

const INIT_STD = 0.02;
const LN_EPS = 1e-12;

class BertWriter {
  readonly l: Layers;
  readonly headDim: number;

  constructor(
    readonly cfg: BertConfig,
    readonly opts: Required<BertOptions>,
    weights: LayerOptions,
  ) {
    this.l = new Layers(weights);
    this.headDim = cfg.hidden / cfg.heads;
  }

  layerNorm(scope: string, x: Value, inEmbeddings: boolean): Value {
    const form = this.opts.layerNorm === 'mixed' ? (inEmbeddings ? 'decomposed' : 'fused') : this.opts.layerNorm;
    return this.l.layerNorm(scope, x, this.cfg.hidden, form, LN_EPS);
  }

  embeddings(inputIds: Value, tokenTypeIds: Value): Value {
    const { l, cfg } = this;
    const s = 'bert.embeddings';
    const table = (name: string, rows: number) => l.param(`${s}.${name}.weight`, l.w.normal([rows, cfg.hidden], INIT_STD));
    const words = l.op(`${s}.word_embeddings`, 'Gather', [table('word_embeddings', cfg.vocab), inputIds]);
    const positionTable = table('position_embeddings', cfg.maxPositions);
    const types = l.op(`${s}.token_type_embeddings`, 'Gather', [table('token_type_embeddings', cfg.typeVocab), tokenTypeIds]);
    const positionIdsBuffer = l.param(`${s}.position_ids`, Tensor.int64([1, cfg.maxPositions], [...Array(cfg.maxPositions).keys()]));
    const seqLen = l.unsqueeze(s, l.dimOf(s, inputIds, 1), [0]);
    const positionIds = l.op(s, 'Slice', [positionIdsBuffer, l.ints(s, [0]), seqLen, l.ints(s, [1]), l.ints(s, [1])]);
    const positions = l.op(`${s}.position_embeddings`, 'Gather', [positionTable, positionIds]);
    const sum = l.op(s, 'Add', [l.op(s, 'Add', [words, types]), positions]);
    return this.layerNorm(`${s}.LayerNorm`, sum, true);
  }

  /** (1 - mask) · -10000, broadcast to [batch, 1, 1, seq]. */
  extendedMask(mask: Value): Value {
    const { l } = this;
    const s = 'bert';
    const m = l.op(s, 'Cast', [l.unsqueeze(s, l.unsqueeze(s, mask, [1]), [2])], { to: DataType.FLOAT });
    return l.op(s, 'Mul', [l.op(s, 'Sub', [l.scalar(s, 1), m]), l.scalar(s, -10000)]);
  }

  /** A Reshape target: `x`'s leading dims (`keep` of them) followed by `tail`. */
  shapeLike(scope: string, x: Value, keep: number, tail: number[]): Value {
    const { l } = this;
    if (this.opts.reshape === 'constant') return l.ints(scope, [...Array<number>(keep).fill(0), ...tail]);
    const parts: Value[] = [];
    for (let i = 0; i < keep; i++) parts.push(l.unsqueeze(scope, l.dimOf(scope, x, i), [0]));
    for (const t of tail) parts.push(l.ints(scope, [t]));
    return l.op(scope, 'Concat', parts, { axis: 0 });
  }

  splitHeads(scope: string, x: Value, perm: number[]): Value {
    const { l, cfg } = this;
    const shaped = l.op(scope, 'Reshape', [x, this.shapeLike(scope, x, 2, [cfg.heads, this.headDim])]);
    return l.op(scope, 'Transpose', [shaped], { perm });
  }

  attention(scope: string, x: Value, mask: Value): Value {
    const { l, cfg } = this;
    const self = `${scope}.attention.self`;
    const proj = (name: string) => l.linear(`${self}.${name}`, x, cfg.hidden, cfg.hidden, INIT_STD);
    const q = this.splitHeads(self, proj('query'), [0, 2, 1, 3]);
    const k = this.splitHeads(self, proj('key'), [0, 2, 3, 1]);
    const v = this.splitHeads(self, proj('value'), [0, 2, 1, 3]);
    let scores = l.op(self, 'Div', [l.op(self, 'MatMul', [q, k]), l.scalar(self, Math.sqrt(this.headDim))]);
    scores = l.op(self, 'Add', [scores, mask]);
    const probs = l.op(self, 'Softmax', [scores], { axis: -1 });
    const context = l.op(self, 'Transpose', [l.op(self, 'MatMul', [probs, v])], { perm: [0, 2, 1, 3] });
    const merged = l.op(self, 'Reshape', [context, this.shapeLike(self, context, 2, [cfg.hidden])]);
    const out = `${scope}.attention.output`;
    const dense = l.linear(`${out}.dense`, merged, cfg.hidden, cfg.hidden, INIT_STD);
    return this.layerNorm(`${out}.LayerNorm`, l.op(out, 'Add', [dense, x]), false);
  }

  feedForward(scope: string, x: Value): Value {
    const { l, cfg } = this;
    const up = l.linear(`${scope}.intermediate.dense`, x, cfg.hidden, cfg.intermediate, INIT_STD);
    const act = l.gelu(`${scope}.intermediate.intermediate_act_fn`, up);
    const down = l.linear(`${scope}.output.dense`, act, cfg.intermediate, cfg.hidden, INIT_STD);
    return this.layerNorm(`${scope}.output.LayerNorm`, l.op(`${scope}.output`, 'Add', [down, x]), false);
  }

  build(name: string): Model {
    const { l, cfg } = this;
    const ids = l.input('input_ids', DataType.INT64, ['batch', 'seq']);
    const mask = l.input('attention_mask', DataType.INT64, ['batch', 'seq']);
    const types = l.input('token_type_ids', DataType.INT64, ['batch', 'seq']);
    let h = this.embeddings(ids, types);
    const extended = this.extendedMask(mask);
    for (let i = 0; i < cfg.layers; i++) {
      const scope = `bert.encoder.layer.${i}`;
      h = this.feedForward(scope, this.attention(scope, h, extended));
    }
    l.output(h, 'last_hidden_state', DataType.FLOAT, ['batch', 'seq', cfg.hidden]);
    const first = l.op('bert.pooler', 'Gather', [h, l.intScalar('bert.pooler', 0)], { axis: 1 });
    const pooled = l.op('bert.pooler', 'Tanh', [l.gemm('bert.pooler.dense', first, cfg.hidden, cfg.hidden, INIT_STD)]);
    const logits = l.gemm('classifier', pooled, cfg.hidden, cfg.numLabels, INIT_STD);
    l.output(logits, 'logits', DataType.FLOAT, ['batch', cfg.numLabels]);
    const { layerNorm, reshape } = this.opts;
    return l.model(
      `inferopt zoo: ${name} (${cfg.layers} layers, hidden ${cfg.hidden}, ${cfg.heads} heads, ff ${cfg.intermediate}; ` +
        `layerNorm ${layerNorm}, reshape ${reshape}; random weights)`,
    );
  }
}

export function buildBert(name: string, cfg: BertConfig, weights: LayerOptions, opts: BertOptions = {}): Model {
  const full: Required<BertOptions> = { layerNorm: opts.layerNorm ?? 'decomposed', reshape: opts.reshape ?? 'dynamic' };
  return new BertWriter(cfg, full, weights).build(name);
}
