import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../ir/builder.js';
import { DataType } from '../ir/dtype.js';
import type { Model } from '../ir/graph.js';
import { Tensor } from '../ir/tensor.js';
import { randomInputs } from '../runtime/inputs.js';
import { Session } from '../runtime/session.js';
import { pruneModel } from './prune.js';
import { sensitivityLayers } from './sensitivity.js';
import { rankGroups } from './structured.js';

/**
 * x → Gemm a (16→32) → Relu → Gemm b (32→32) → Relu → Gemm c (32→4). Layer a's units reach b through tiny
 * weights (the model barely depends on them); layer b's units carry the output. A global magnitude ranking
 * cannot see that (a's own filters are as large as b's); a sensitivity scan does.
 */
function model(): Model {
  const b = new GraphBuilder();
  const w = (name: string, rows: number, cols: number, scale: number, phase: number) =>
    b.init(name, Tensor.float([rows, cols], Float32Array.from({ length: rows * cols }, (_, i) => scale * Math.sin(1.7 * i + phase))));
  const x = b.input('x', DataType.FLOAT, ['N', 16]);
  const h1 = b.op('Relu', [b.op('Gemm', [x, w('wa', 16, 32, 0.5, 0.1), w('ba', 1, 32, 0.1, 0.2)], {}, { name: 'a' })]);
  const h2 = b.op('Relu', [b.op('Gemm', [h1, w('wb', 32, 32, 0.004, 0.3), w('bb', 1, 32, 0.5, 0.4)], {}, { name: 'b' })]);
  b.output(b.op('Gemm', [h2, w('wc', 32, 4, 0.5, 0.5)], {}, { name: 'c' }), 'y');
  return b.model({ opset: 17 });
}

async function relativeError(base: Model, m: Model): Promise<number> {
  const feeds = randomInputs(base, { dims: { N: 64 }, seed: 3 });
  const [s0, s1] = [await Session.create(base, { dims: { N: 64 } }), await Session.create(m, { dims: { N: 64 } })];
  const [y0, y1] = [(await s0.run(feeds))['y']!.toFloat32(), (await s1.run(feeds))['y']!.toFloat32()];
  await s0.release();
  await s1.release();
  let [d, n] = [0, 0];
  for (let i = 0; i < y0.length; i++) {
    d += (y1[i]! - y0[i]!) ** 2;
    n += y0[i]! ** 2;
  }
  return Math.sqrt(d / n);
}

describe('per-layer sensitivity scan', () => {
  it('finds one layer per source here, and joins sources that share a group', () => {
    const m = model();
    const { order } = rankGroups(m, { granularity: 'channel', criterion: 'l2' });
    expect(sensitivityLayers(order).map((l) => [l.sources, l.units]).sort()).toEqual([[['a'], 32], [['b'], 32]]);
    // a group spanning two sources (as a residual Add makes) joins them into one layer
    const joined = [{ ...order[0]!, sources: [...order[0]!.sources, ...order.find((g) => g.sources[0]!.node.name !== order[0]!.sources[0]!.node.name)!.sources] }];
    expect(sensitivityLayers(joined).map((l) => l.sources.sort())).toEqual([['a', 'b']]);
  });

  it('gives the robust layer a larger amount than the sensitive one, and loses less than one global ranking', async () => {
    const base = model();
    const opts = { granularity: 'channel' as const, sparsity: 0.5, dims: { N: 64 } };
    const scanned = await pruneModel(base, { ...opts, sensitivity: { dims: { N: 64 } } });
    const s = scanned.report.structured!;
    const layer = (name: string) => s.sensitivity!.find((l) => l.sources.includes(name))!;
    // the scan: b's error grows with the amount and dwarfs a's
    const eb = layer('b').errors.map((e) => e.error);
    expect(eb[0]!).toBeLessThan(eb[1]!);
    expect(eb[1]!).toBeLessThan(eb[2]!);
    expect(Math.max(...layer('a').errors.map((e) => e.error))).toBeLessThan(eb[0]! / 5);
    // non-uniform amounts that meet the goal (32 of the 64 units)
    expect(layer('a').chosen).toBe(0.75);
    expect(layer('b').chosen).toBe(0.25);
    expect(s.removed).toBe(32);
    const dims = (m: Model, node: string) => m.graph.nodes.find((n) => n.name === node)!.inputs[1]!.initializer!.dims;
    expect(dims(scanned.model, 'a')).toEqual([16, 8]);
    expect(dims(scanned.model, 'b')).toEqual([8, 24]);
    // the same amount from one global ranking removes more of b and changes the outputs more
    const uniform = await pruneModel(base, opts);
    expect(uniform.report.structured!.removed).toBe(32);
    const [errScan, errUniform] = [await relativeError(base, scanned.model), await relativeError(base, uniform.model)];
    expect(errScan).toBeLessThan(0.9 * errUniform); // 0.78 vs 0.99 here
  });

  it('meets a FLOP target through the thresholds', async () => {
    const base = model();
    const r = await pruneModel(base, { granularity: 'channel', targetFlops: 0.8, dims: { N: 1 }, sensitivity: {} });
    const s = r.report.structured!;
    expect(s.flops[1]).toBeLessThanOrEqual(0.8 * s.flops[0]);
    expect(s.sensitivity!.every((l) => l.chosen !== undefined)).toBe(true);
  });
});
