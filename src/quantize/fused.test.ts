import { describe, expect, it } from 'vitest';
import { DataType } from '../ir/dtype.js';
import type { Model } from '../ir/graph.js';
import { loadModel, modelToBytes } from '../ir/io.js';
import { Tensor } from '../ir/tensor.js';
import { simplifyModel } from '../passes/simplify.js';
import { buildZooModel } from '../zoo/index.js';
import { compareModels } from './fidelity.js';
import { quantizeGatherTables, splitAttentions } from './fused.js';
import { quantizeModel, type QuantizeOptions } from './quantize.js';
import { feedsOf } from './stream.js';

const copy = (m: Model) => loadModel(modelToBytes(m));
const ops = (m: Model) => m.graph.nodes.map((n) => n.opType);
const floatBytes = (m: Model) => [...m.graph.initializers.values()].filter((v) => v.initializer!.dtype === DataType.FLOAT).reduce((a, v) => a + v.initializer!.bytes.length, 0);

/** BERT feeds with padding: the second sequence's last 5 positions are masked out (the mask must matter). */
function feeds(seed: number, batch = 2, seq = 12): Record<string, Tensor> {
  let s = seed * 7919 + 1;
  const next = () => (s = (s * 48271) % 2147483647);
  const ids = Array.from({ length: batch * seq }, () => BigInt(next() % 30522));
  const mask = Array.from({ length: batch * seq }, (_, i) => BigInt(i >= seq && i % seq >= seq - 5 ? 0 : 1));
  const types = Array.from({ length: batch * seq }, (_, i) => BigInt(i % seq >= seq / 2 ? 1 : 0));
  return {
    input_ids: Tensor.fromArray(DataType.INT64, [batch, seq], ids),
    attention_mask: Tensor.fromArray(DataType.INT64, [batch, seq], mask),
    token_type_ids: Tensor.fromArray(DataType.INT64, [batch, seq], types),
  };
}
const evalFeeds = [feeds(1), feeds(2)];

const plain = buildZooModel('bert-tiny', { seed: 0 });
const simplified = (await simplifyModel(plain, { target: 'cpu' })).model;

describe('fused Attention and Gather tables', () => {
  it('an Attention split into MatMul → Split → MultiHeadAttention computes the same, padding mask included', async () => {
    expect(ops(simplified).filter((t) => t === 'Attention')).toHaveLength(2);
    const m = copy(simplified);
    expect(splitAttentions(m, {})).toHaveLength(2);
    expect(ops(m)).not.toContain('Attention');
    expect(ops(m).filter((t) => t === 'MultiHeadAttention')).toHaveLength(2);
    for (const d of await compareModels(simplified, copy(m), evalFeeds)) expect(d.maxAbs, d.name).toBeLessThan(1e-4 * Math.max(1, d.scale));
    // the mask reaches the split form: ignoring it changes the padded sequence
    const unmasked = copy(m);
    for (const n of unmasked.graph.nodes) if (n.opType === 'MultiHeadAttention') n.setInput(4, null);
    const [d] = await compareModels(simplified, copy(unmasked), evalFeeds);
    expect(d!.maxAbs).toBeGreaterThan(1e-3);
  });

  it('Gather tables become int8 with a scale per column: 4× smaller, outputs within 35 dB', async () => {
    const m = copy(plain);
    expect(quantizeGatherTables(m, {})).toBe(3); // word, position, token type
    const word = [...m.graph.initializers.values()].find((v) => v.initializer!.dims[0] === 30522)!.initializer!;
    expect(word.dtype).toBe(DataType.INT8);
    expect(word.bytes.length).toBe(30522 * 128);
    expect(floatBytes(m)).toBeLessThan(floatBytes(plain) - 0.74 * 30522 * 128 * 4);
    for (const d of await compareModels(plain, copy(m), evalFeeds)) expect(d.sqnr, d.name).toBeGreaterThan(35);
  });

  const calibration = () => feedsOf([3, 4, 5].map((s) => feeds(s, 1)));
  const modes: [string, QuantizeOptions, number][] = [
    ['dynamic', { mode: 'dynamic' }, 25],
    ['dynamic, attention split', { mode: 'dynamic', attention: 'split' }, 25],
    ['static', { mode: 'static', calibration: calibration() }, 10],
    ['weight-only 4-bit', { mode: 'weight-only' }, 20],
    ['weight-only 8-bit', { mode: 'weight-only', bits: 8 }, 25],
  ];
  for (const [label, o, minSqnr] of modes) {
    for (const [form, model] of [['plain', plain], ['simplified', simplified]] as const) {
      it(`${label}, ${form} BERT: no float Attention weight or embedding table left, ORT runs it`, async () => {
        const r = await quantizeModel(model, { target: 'cpu', ...o, calibration: o.calibration && calibration() });
        const types = ops(r.model);
        for (const t of ['Attention', 'EmbedLayerNormalization']) expect(types).not.toContain(t);
        // what stays float: biases, LayerNorm parameters, the 2-way classifier (well under 1% of the weights)
        expect(floatBytes(r.model)).toBeLessThan(0.01 * floatBytes(model));
        if (form === 'simplified') expect(types).toContain(o.mode === 'dynamic' && !o.attention ? 'QAttention' : 'MultiHeadAttention');
        // the encoder's output (the random 2-way classifier's logits are too small to say much at 4 bits)
        const [d] = await compareModels(model, copy(r.model), evalFeeds);
        expect(d!.name).toBe('last_hidden_state');
        expect(d!.sqnr).toBeGreaterThan(minSqnr);
      });
    }
  }
});
