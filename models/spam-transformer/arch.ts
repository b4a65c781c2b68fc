/**
 * A small transformer encoder for spam detection: WordPiece token embeddings (BERT uncased vocabulary, 30,522
 * pieces) + learned positions, `layers` post-LN encoder layers (multi-head self-attention with the padding
 * mask, GELU feed-forward, LayerNormalization, dropout on hidden states), masked mean pooling and a linear classifier
 * (ham = 0, spam = 1). Inputs `input_ids`, `attention_mask` [N, L] int64. Seeded initialisation.
 */
import { GraphBuilder } from '../../src/ir/builder.js';
import { DataType } from '../../src/ir/dtype.js';
import type { Model, Value } from '../../src/ir/graph.js';
import { Tensor } from '../../src/ir/tensor.js';
import { WeightRng } from '../../src/zoo/random.js';

export interface SpamTransformerConfig {
  vocab: number;
  seq: number;
  dim: number;
  heads: number;
  ffn: number;
  layers: number;
  dropout: number;
}

export const SPAM_CONFIG: SpamTransformerConfig = { vocab: 30522, seq: 128, dim: 64, heads: 4, ffn: 128, layers: 2, dropout: 0.1 };

export function buildSpamTransformer(seed = 0, cfg: SpamTransformerConfig = SPAM_CONFIG): Model {
  const b = new GraphBuilder();
  const w = new WeightRng(seed);
  const { seq: L, dim: D, heads: H } = cfg;
  const hd = D / H;
  const ids = b.input('input_ids', DataType.INT64, ['N', L]);
  const mask = b.input('attention_mask', DataType.INT64, ['N', L]);
  const f32 = (v: number) => b.scalar('c', v);
  const ones = (n: number) => Tensor.float([n], new Float32Array(n).fill(1));
  const zeros = (n: number) => Tensor.float([n], new Float32Array(n));
  const linear = (name: string, x: Value, din: number, dout: number): Value => {
    const weight = b.init(`${name}.weight`, w.normal([din, dout], Math.sqrt(1 / din)));
    return b.op('Add', [b.op('MatMul', [x, weight]), b.init(`${name}.bias`, zeros(dout))]);
  };
  const layerNorm = (name: string, x: Value) =>
    b.op('LayerNormalization', [x, b.init(`${name}.weight`, ones(D)), b.init(`${name}.bias`, zeros(D))], { axis: -1, epsilon: { type: 'float', value: 1e-5 } });
  const dropout = (x: Value) => (cfg.dropout > 0 ? b.op('Dropout', [x, f32(cfg.dropout)]) : x);
  const gelu = (x: Value) => b.op('Mul', [b.op('Mul', [x, f32(0.5)]), b.op('Add', [b.op('Erf', [b.op('Mul', [x, f32(Math.SQRT1_2)])]), f32(1)])]);

  const maskF = b.op('Cast', [mask], { to: DataType.FLOAT });
  // additive attention bias: 0 where a token is, −10⁴ on padding; [N, 1, 1, L]
  const bias = b.op('Unsqueeze', [b.op('Mul', [b.op('Sub', [f32(1), maskF]), f32(-1e4)]), b.ints('axes', [1, 2])]);
  const tokens = b.op('Gather', [b.init('embed.tokens', w.normal([cfg.vocab, D], 0.02)), ids]);
  let h = layerNorm('embed.norm', b.op('Add', [tokens, b.init('embed.positions', w.normal([L, D], 0.02))]));
  h = dropout(h);
  const heads = (x: Value) => b.op('Transpose', [b.op('Reshape', [x, b.ints('shape', [0, L, H, hd])])], { perm: [0, 2, 1, 3] });
  for (let i = 0; i < cfg.layers; i++) {
    const p = `layer${i}`;
    const q = heads(linear(`${p}.q`, h, D, D));
    const k = b.op('Transpose', [b.op('Reshape', [linear(`${p}.k`, h, D, D), b.ints('shape', [0, L, H, hd])])], { perm: [0, 2, 3, 1] });
    const v = heads(linear(`${p}.v`, h, D, D));
    const scores = b.op('Add', [b.op('Mul', [b.op('MatMul', [q, k]), f32(1 / Math.sqrt(hd))]), bias]);
    // no dropout on the attention probabilities: [N, H, L, L] is the largest tensor, and it costs the most
    const ctx = b.op('MatMul', [b.op('Softmax', [scores], { axis: -1 }), v]);
    const merged = b.op('Reshape', [b.op('Transpose', [ctx], { perm: [0, 2, 1, 3] }), b.ints('shape', [0, L, D])]);
    h = layerNorm(`${p}.attn_norm`, b.op('Add', [h, dropout(linear(`${p}.out`, merged, D, D))]));
    const ff = linear(`${p}.ffn2`, gelu(linear(`${p}.ffn1`, h, D, cfg.ffn)), cfg.ffn, D);
    h = layerNorm(`${p}.ffn_norm`, b.op('Add', [h, dropout(ff)]));
  }
  // masked mean over tokens
  const m3 = b.op('Unsqueeze', [maskF, b.ints('axes', [2])]);
  const summed = b.op('ReduceSum', [b.op('Mul', [h, m3]), b.ints('axes', [1])], { keepdims: 0 });
  const count = b.op('ReduceSum', [m3, b.ints('axes', [1])], { keepdims: 0 });
  const pooled = b.op('Div', [summed, b.op('Max', [count, f32(1)])]);
  const logits = b.op('Gemm', [pooled, b.init('classifier.weight', w.normal([2, D], Math.sqrt(1 / D))), b.init('classifier.bias', zeros(2))], { transB: 1 });
  b.output(logits, 'logits', { kind: 'tensor', elemType: DataType.FLOAT, shape: ['N', 2] });
  return b.model({ opset: 17 });
}
