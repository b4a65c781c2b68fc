import { describe, expect, it } from 'vitest';
import { randomInputs } from '../runtime/index.js';
import { simplifyModel } from '../passes/simplify.js';
import { buildZooModel } from '../zoo/index.js';
import { checkExactRemoval } from '../../test/unit/prune-exact.js';
import { clone } from '../../test/unit/run-model.js';
import { analyze } from './structured.js';
import { pruneModel } from './prune.js';
import { quantizeModel } from '../quantize/quantize.js';
import { runFirst } from '../../test/unit/run-model.js';

const dims = { batch: 2, seq: 8 };
const isHead = (g: { kind: string }) => g.kind === 'head';

describe('attention head groups', () => {
  for (const reshape of ['dynamic', 'constant'] as const) {
    it(`finds the heads of raw BERT attention (${reshape} reshape targets) and removes zeroed ones exactly`, async () => {
      const m = buildZooModel('bert-mini', { reshape });
      const heads = analyze(clone(m), { dims }).space.groups().filter(isHead);
      expect(heads.length).toBe(16); // 4 layers × 4 heads
      expect(heads.every((g) => g.blocked.length === 0)).toBe(true);
      const feeds = randomInputs(m, { dims, seed: 7 });
      const r = await checkExactRemoval(m, feeds, 3, 1e-4, { filter: isHead, dims });
      expect(r.groups).toBe(5);
      // Q, K, V columns and the output projection rows go: 64 per removed head
      const width = (part: string, axis: number) => m.graph.nodes.filter((n) => n.opType === 'MatMul' && n.name.includes(part)).reduce((s, n) => s + n.inputs[1]!.constTensor()!.dims[axis]!, 0);
      for (const part of ['query', 'key', 'value']) expect(width(part, 1)).toBe((16 - 5) * 64);
      expect(width('attention.output', 0)).toBe((16 - 5) * 64);
    });
  }

  it('finds the heads of fused com.microsoft Attention and removes zeroed ones exactly', async () => {
    const m = (await simplifyModel(buildZooModel('bert-mini'))).model;
    expect(m.graph.nodes.filter((n) => n.opType === 'Attention').length).toBe(4);
    const heads = analyze(clone(m), { dims }).space.groups().filter(isHead);
    expect(heads.length).toBe(16);
    expect(heads.every((g) => g.blocked.length === 0)).toBe(true);
    const feeds = randomInputs(m, { dims, seed: 8 });
    await checkExactRemoval(m, feeds, 3, 1e-4, { filter: isHead, dims });
    const left = m.graph.nodes.filter((n) => n.opType === 'Attention').map((n) => n.attrInt('num_heads', 0));
    expect(left.reduce((a, b) => a + b, 0)).toBe(16 - 5);
  });

  it('head-pruned raw attention still fuses (narrower Q/K/V) and quantizes to QAttention, outputs kept', async () => {
    const m = buildZooModel('bert-mini');
    const pruned = (await pruneModel(m, { granularity: 'head', sparsity: 0.5, dims })).model;
    const fused = (await simplifyModel(pruned)).model;
    const att = fused.graph.nodes.filter((n) => n.opType === 'Attention');
    expect(att.length).toBe(4);
    // 8 of the 16 heads of 64 left: weights [256, 3·64·(heads left in the layer)], num_heads to match
    const w = att.map((n) => n.inputs[1]!.constTensor()!.dims);
    expect(w.every((d) => d[0] === 256 && d[1]! < 768)).toBe(true);
    expect(w.reduce((s, d) => s + d[1]!, 0)).toBe(3 * 64 * 8);
    for (const n of att) expect(n.attrInt('num_heads', 0) * 3 * 64).toBe(n.inputs[1]!.constTensor()!.dims[1]);
    const feeds = randomInputs(m, { dims, seed: 9 });
    const [y0, y1] = [await runFirst(pruned, feeds), await runFirst(fused, feeds)];
    for (let i = 0; i < y0.length; i++) expect(y1[i]!).toBeCloseTo(y0[i]!, 4);
    const q = (await quantizeModel(fused, { mode: 'dynamic', target: 'cpu' })).model;
    expect(q.graph.nodes.filter((n) => n.opType === 'QAttention').length).toBe(4);
    const yq = await runFirst(q, feeds);
    const err = Math.sqrt(yq.reduce((s, v, i) => s + (v - y0[i]!) ** 2, 0) / y0.reduce((s, v) => s + v * v, 0));
    expect(err).toBeLessThan(0.05);
  });
});
