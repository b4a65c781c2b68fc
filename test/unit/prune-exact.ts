/** Exactness checks for structured pruning tests: groups whose readers are zero are removed without changing the outputs. */
import { expect } from 'vitest';
import type { Model } from '../../src/ir/graph.js';
import { Tensor } from '../../src/ir/tensor.js';
import type { PruneGroup, PruneSpace } from '../../src/prune/space.js';
import { analyze } from '../../src/prune/structured.js';
import { runFirst } from './run-model.js';

/**
 * Zeroes every weight that reads the channels of `groups` (their 'in' cuts): those channels then have no
 * effect on the outputs, so removing them must leave the outputs unchanged.
 */
export function zeroReaders(a: { model: Model; space: PruneSpace }, groups: PruneGroup[]): void {
  const ids = new Set(groups.flatMap((g) => g.ids));
  for (const c of a.space.cuts) {
    if (c.role !== 'in' || !c.ids.some((id) => ids.has(id))) continue;
    const v = c.node.inputs[c.input]!;
    const t = v.constTensor()!.clone();
    const data = t.toFloat32().slice();
    const outer = t.dims.slice(0, c.axis).reduce((x, y) => x * y, 1);
    const inner = t.dims.slice(c.axis + 1).reduce((x, y) => x * y, 1);
    const n = t.dims[c.axis]!;
    for (let o = 0; o < outer; o++) for (let p = 0; p < n; p++) if (ids.has(c.ids[p]!)) data.fill(0, (o * n + p) * inner, (o * n + p + 1) * inner);
    const z = Tensor.float(t.dims, data);
    const g = a.model.graph;
    c.node.setInput(c.input, g.addInitializer(z, g.uniqueName(`${v.name}_z`)));
  }
}

/** Removes a spread of removable groups whose readers were zeroed; the outputs must not change. */
export async function checkExactRemoval(model: Model, feeds: Record<string, Tensor>, every = 3, tol = 1e-4, opts: { filter?: (g: PruneGroup) => boolean; dims?: Record<string, number> } = {}) {
  const a = analyze(model, { dims: opts.dims });
  const free = a.space.groups().filter((g) => g.blocked.length === 0 && (opts.filter?.(g) ?? true));
  // keep at least one channel of every source
  const pick = free.filter((_, i) => i % every === 1);
  zeroReaders(a, pick);
  const before = await runFirst(model, feeds);
  const paramsBefore = [...model.graph.initializers.values()].reduce((s, v) => s + v.initializer!.size, 0);
  a.space.apply(model, pick);
  const after = await runFirst(model, feeds);
  const paramsAfter = [...model.graph.initializers.values()].reduce((s, v) => s + v.initializer!.size, 0);
  expect(after.length).toBe(before.length);
  let maxErr = 0;
  let maxRef = 0;
  for (let i = 0; i < before.length; i++) {
    maxErr = Math.max(maxErr, Math.abs(after[i]! - before[i]!));
    maxRef = Math.max(maxRef, Math.abs(before[i]!));
  }
  expect(maxErr).toBeLessThanOrEqual(tol * Math.max(1, maxRef));
  expect(paramsAfter).toBeLessThan(paramsBefore);
  return { groups: pick.length, free: free.length, paramsBefore, paramsAfter };
}

