import { describe, expect, it } from 'vitest';
import { Tensor } from '../ir/tensor.js';
import { randomInputs } from '../runtime/index.js';
import { buildZooModel } from '../zoo/index.js';
import { runFirst } from '../../test/unit/run-model.js';
import { pruneModel } from './prune.js';

const dims = { batch: 1, seq: 16 };

describe('layer pruning', () => {
  it('drops the layer that barely changes its input first, and the rest still runs', async () => {
    const m = buildZooModel('bert-mini');
    // layer 2's attention and FFN outputs are zero: its output is LayerNorm(LayerNorm(x)) ≈ x
    for (const v of [...m.graph.initializers.values()]) {
      if (!/layer\.2\.(attention\.output|output)\.dense/.test(v.name)) continue;
      for (const u of [...v.uses]) u.node.setInput(u.index, m.graph.addInitializer(Tensor.float(v.initializer!.dims, new Float32Array(v.initializer!.size)), m.graph.uniqueName(`${v.name}_zero`)));
    }
    const logs: string[] = [];
    const r = await pruneModel(m, { granularity: 'layer', sparsity: 0.25, dims, log: (x) => logs.push(x) });
    const s = r.report.structured!;
    expect([s.candidates, s.removed]).toEqual([4, 1]);
    expect(r.model.graph.initializers.has('bert.encoder.layer.2.output.dense.weight')).toBe(false);
    expect([...r.model.graph.initializers.keys()].some((k) => k.startsWith('bert.encoder.layer.3.'))).toBe(true);
    expect(logs.join('\n')).toMatch(/random inputs/);
    expect(s.params[1]).toBeLessThan(s.params[0]);
    const out = await runFirst(r.model, randomInputs(r.model, { dims, seed: 1 }));
    expect(out.every(Number.isFinite)).toBe(true);
  });

  it('meets a FLOP target by dropping layers, and says when nothing can go', async () => {
    const m = buildZooModel('bert-mini');
    const r = await pruneModel(m, { granularity: 'layer', targetFlops: 0.6, dims });
    const s = r.report.structured!;
    expect(s.flops[1]).toBeLessThanOrEqual(0.6 * s.flops[0]);
    expect(s.removed).toBeGreaterThanOrEqual(2);
    await expect(pruneModel(buildZooModel('mlp'), { granularity: 'layer', sparsity: 0.5 })).rejects.toThrow(/no repeated layers/);
  });
});
