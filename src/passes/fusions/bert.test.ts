import { beforeAll, describe, expect, it } from 'vitest';
import { loadModel } from '../../ir/io.js';
import { Tensor } from '../../ir/tensor.js';
import { buildZooModel } from '../../zoo/index.js';
import { simplifyPipeline } from '../simplify.js';
import { expectEquivalent, opCounts, runOnCopy, type PassOutcome } from '../testing.js';

// bert-tiny: 2 layers, seq 16 keeps ORT fast; token ids stay inside the 30522-word vocabulary.
const verifyOpts = { dims: { batch: 2, seq: 16 }, intRange: 30522, atol: 1e-4, rtol: 1e-3, samples: 1 };

describe('transformer fusions on the zoo BERT', () => {
  let cpu: PassOutcome;
  beforeAll(async () => {
    cpu = await runOnCopy(buildZooModel('bert-tiny'), simplifyPipeline('cpu'), 'cpu');
  });

  it('--target cpu fuses embeddings, attention, skip-layer-norm and bias-GELU; outputs unchanged', async () => {
    const r = cpu;
    const ops = opCounts(r.after);
    expect(ops).toMatchObject({ EmbedLayerNormalization: 1, Attention: 2, SkipLayerNormalization: 4, BiasGelu: 2 });
    for (const gone of ['Softmax', 'Erf', 'ReduceMean', 'Transpose', 'Reshape', 'Shape', 'LayerNormalization']) expect(ops[gone]).toBeUndefined();
    expect(r.stats).toMatchObject({ 'fuse-attention': 2, 'fuse-skip-layer-norm': 4, 'fuse-gelu': 2, 'fuse-bias-gelu': 2, 'fuse-layer-norm': 5 });
    await expectEquivalent(r.before, r.after, verifyOpts);
  });

  it('honours a masked-out (left-padded) attention mask exactly', async () => {
    const r = cpu;
    const S = 16;
    const ids = Tensor.int64([2, S], Array.from({ length: 2 * S }, (_, i) => (i * 37) % 1000));
    const mask = Tensor.int64([2, S], Array.from({ length: 2 * S }, (_, i) => (i < S ? 1 : i < S + 5 ? 0 : 1)));
    const types = Tensor.int64([2, S], new Array(2 * S).fill(0));
    await expectEquivalent(r.before, r.after, { ...verifyOpts, data: [{ input_ids: ids, attention_mask: mask, token_type_ids: types }] });
  });

  it('--target std keeps standard ops only: LayerNormalization, and Gelu after raising opset 17 → 20', async () => {
    const m = buildZooModel('bert-tiny');
    const r = await runOnCopy(m, simplifyPipeline('std'), 'std');
    expect(r.after.graph.nodes.every((n) => n.domain === '')).toBe(true);
    expect(r.after.opset('')).toBe(20);
    expect(opCounts(r.after)).toMatchObject({ LayerNormalization: 5, Gelu: 2 });
    expect(opCounts(r.after).Erf).toBeUndefined();
    await expectEquivalent(r.before, r.after, verifyOpts);
  });

  it('--target std without the opset upgrade leaves the Erf GELU and says why', async () => {
    const r = await runOnCopy(buildZooModel('bert-tiny'), simplifyPipeline('std'), 'std', ['upgrade-opset']);
    expect(r.after.opset('')).toBe(17);
    expect(opCounts(r.after).Erf).toBe(2);
    expect(r.explain.some((e) => e.rule === 'fuse-gelu' && /opset 17 < 20/.test(e.reason ?? ''))).toBe(true);
  });

  it('--skip leaves a fusion out', async () => {
    const m = buildZooModel('bert-tiny');
    const r = await runOnCopy(m, simplifyPipeline('cpu'), 'cpu', ['fuse-attention', 'fuse-bias-gelu']);
    const ops = opCounts(r.after);
    expect(ops.Attention).toBeUndefined();
    expect(ops.BiasGelu).toBeUndefined();
    expect(ops.Gelu).toBe(2);
    expect(ops.Softmax).toBe(2);
    await expectEquivalent(r.before, r.after, verifyOpts);
  });
});

describe('attention fusion on the committed spam transformer (mask unsqueezed after (1 − mask)·filter)', () => {
  it('both layers become Attention; outputs unchanged with padded emails', async () => {
    const r = await runOnCopy(loadModel('models/spam-transformer/model.onnx'), simplifyPipeline('cpu'), 'cpu');
    expect(opCounts(r.after)).toMatchObject({ Attention: 2 });
    expect(opCounts(r.after).Softmax).toBeUndefined();
    const S = 128;
    const ids = Tensor.int64([2, S], Array.from({ length: 2 * S }, (_, i) => (i % S < 40 + 50 * Math.floor(i / S) ? 1000 + ((i * 37) % 5000) : 0)));
    const mask = Tensor.int64([2, S], Array.from({ length: 2 * S }, (_, i) => (i % S < 40 + 50 * Math.floor(i / S) ? 1 : 0)));
    await expectEquivalent(r.before, r.after, { dims: { N: 2 }, atol: 1e-4, rtol: 1e-3, data: [{ input_ids: ids, attention_mask: mask }] });
  });
});
