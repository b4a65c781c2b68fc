/**
 * Quantization on transformer graphs after the fusions (slower than the unit suite: simplify of a zoo BERT).
 */
import { describe, expect, it } from 'vitest';
import { loadModel, modelToBytes } from '../../src/ir/io.js';
import type { Model } from '../../src/ir/graph.js';
import { resolveParams } from '../../src/passes/pass.js';
import { simplifyModel } from '../../src/passes/simplify.js';
import { randomInputs } from '../../src/runtime/inputs.js';
import { dynamicQuantizePass } from '../../src/quantize/dynamic.js';
import { compareModels } from '../../src/quantize/fidelity.js';
import { buildZooModel } from '../../src/zoo/index.js';

const ops = (m: Model) => m.graph.nodes.map((n) => n.opType);

describe('dynamic quantization of fused BERT', () => {
  it('fused BERT: Attention → QAttention, EmbedLayerNormalization → QEmbedLayerNormalization, every projection int8, outputs close', async () => {
    const ref = buildZooModel('bert-tiny', { seed: 0 });
    await simplifyModel(ref, { target: 'cpu' }, { inPlace: true });
    expect(ops(ref)).toContain('Attention');
    const r = await dynamicQuantizePass.run(loadModel(modelToBytes(ref)), { target: 'cpu' }, resolveParams(dynamicQuantizePass));
    const types = ops(r.model);
    expect(types.filter((t) => t === 'QAttention')).toHaveLength(2);
    expect(types).not.toContain('Attention');
    expect(types).toContain('QEmbedLayerNormalization'); // the embedding tables are uint8 too
    expect(types).not.toContain('EmbedLayerNormalization');
    expect(types).not.toContain('MatMul');
    const fs = await compareModels(ref, r.model, [randomInputs(ref, { dims: { batch: 2, seq: 16 }, seed: 1 })]);
    expect(fs.find((f) => f.name === 'last_hidden_state')!.sqnr).toBeGreaterThan(35);
    expect(fs.find((f) => f.name === 'logits')!.relMaxDiff).toBeLessThan(0.1);
  });

});
