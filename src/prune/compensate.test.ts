import { describe, expect, it } from 'vitest';
import type { Model } from '../ir/graph.js';
import { Tensor } from '../ir/tensor.js';
import { randomInputs } from '../runtime/index.js';
import { buildZooModel } from '../zoo/index.js';
import { clone, runFirst } from '../../test/unit/run-model.js';
import { analyzeChannels } from './channels.js';
import { planCompensation, readerStats } from './compensate.js';
import { isOfGranularity } from './structured.js';
import type { PruneGroup, PruneSpace } from './space.js';



/** Zeroes the weights that compute the units of `groups` (their 'out' cuts): each then outputs a constant (f(bias)). */
function makeConstant(model: Model, space: PruneSpace, groups: PruneGroup[]): void {
  const ids = new Set(groups.flatMap((g) => g.ids));
  for (const c of space.cuts) {
    if (c.role !== 'out' || !c.ids.some((id) => ids.has(id))) continue;
    const v = c.node.inputs[c.input]!;
    const t = v.constTensor()!;
    const data = t.toFloat32().slice();
    const inner = t.dims.slice(c.axis + 1).reduce((x, y) => x * y, 1);
    const n = t.dims[c.axis]!;
    for (let i = 0; i < data.length; i++) if (ids.has(c.ids[Math.floor(i / inner) % n]!)) data[i] = 0;
    c.node.setInput(c.input, model.graph.addInitializer(Tensor.float(t.dims, data), model.graph.uniqueName(`${v.name}_c`)));
  }
}

const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i]!)), 0);

/**
 * Units whose outputs are constant are removed; with mean compensation the outputs stay equal (their constant
 * moves into the readers' biases), without it they change.
 */
async function check(model: Model, pick: (g: PruneGroup) => boolean, dims: Record<string, number>, every = 3) {
  const feeds = randomInputs(model, { dims, seed: 5 });
  const a = analyzeChannels(model, { dims });
  const chosen = a.space.groups().filter((g) => g.blocked.length === 0 && pick(g)).filter((_, i) => i % every === 0);
  expect(chosen.length).toBeGreaterThan(3);
  makeConstant(model, a.space, chosen);
  const reference = await runFirst(model, feeds);
  const stats = await readerStats(model, [randomInputs(model, { dims, seed: 6 })], { dims });
  const plain = clone(model);
  const pa = analyzeChannels(plain, { dims });
  pa.space.apply(plain, pa.space.groups().filter((g) => chosen.some((c) => c.id === g.id)));
  const fold = planCompensation(a.space, chosen, stats.means);
  a.space.apply(model, chosen);
  expect(fold(model)).toBeGreaterThan(0);
  const scale = reference.reduce((m, x) => Math.max(m, Math.abs(x)), 1);
  expect(maxDiff(await runFirst(model, feeds), reference)).toBeLessThan(2e-4 * scale);
  // without the folded means the same removal is wrong (the test can fail)
  expect(maxDiff(await runFirst(plain, feeds), reference)).toBeGreaterThan(1e-2 * scale);
}

describe('mean compensation', () => {
  it('removes constant hidden units of an MLP (Gemm readers) exactly', async () => {
    const m = buildZooModel('mlp');
    // a positive bias so that ReLU passes the constant through
    for (const n of m.graph.nodes.filter((x) => x.opType === 'Gemm')) {
      const b = n.inputs[2]!.constTensor()!;
      n.setInput(2, m.graph.addInitializer(Tensor.float(b.dims, Float32Array.from(b.toFloat32(), (_, i) => 0.1 + (i % 7) * 0.05)), m.graph.uniqueName('b')));
    }
    await check(m, () => true, { N: 4 });
  });

  it('removes constant FFN neurons of BERT (MatMul readers, the bias Add takes the mean)', async () => {
    const m = buildZooModel('bert-tiny');
    // non-zero FFN biases, so that the constant GELU(b) of a zeroed neuron is not 0
    for (const n of m.graph.nodes.filter((x) => x.opType === 'Add' && x.inputs.some((v) => v?.producer?.opType === 'MatMul') && x.name.includes('intermediate'))) {
      const i = n.inputs.findIndex((v) => v?.constTensor());
      const b = n.inputs[i]!.constTensor()!;
      n.setInput(i, m.graph.addInitializer(Tensor.float(b.dims, Float32Array.from(b.toFloat32(), (_, k) => 0.5 + (k % 5) * 0.2)), m.graph.uniqueName('b')));
    }
    const adds = m.graph.nodes.length;
    await check(m, (g) => isOfGranularity(g, 'ffn'), { batch: 1, seq: 8 }, 5);
    expect(m.graph.nodes.length).toBe(adds); // folded into the existing bias Adds, no new nodes
  });

  it('gives variances of zero for constant units and positive ones otherwise', async () => {
    const m = buildZooModel('mlp');
    const a = analyzeChannels(m, { dims: { N: 4 } });
    const g = a.space.groups().filter((x) => x.blocked.length === 0).slice(0, 4);
    makeConstant(m, a.space, g);
    const st = await readerStats(m, [randomInputs(m, { dims: { N: 8 }, seed: 1 })]);
    const reader = a.space.cuts.find((c) => c.role === 'in' && c.ids.includes(g[0]!.ids[0]!))!;
    const v = st.variances.get(reader.node.inputs[0]!.name)!;
    const pos = [...reader.ids].indexOf(g[0]!.ids[0]!);
    expect(v[pos]).toBeLessThan(1e-10);
    expect([...v].filter((x) => x > 1e-6).length).toBeGreaterThan(v.length / 4);
  });
});
