import type { ChannelMap, PruneContext } from '../prune-rule.js';
import { Tensor } from '../../ir/tensor.js';
import { definePrune } from '../registry.js';
import { blockAll, repeatIds, reshapedAxis, trackedInputs } from './common.js';

/**
 * Data movement: Transpose moves the channel axis; Reshape/Flatten/Squeeze/Unsqueeze keep it or merge it with
 * the dims after it (Flatten → Gemm: one channel becomes a block of H·W features); Concat along the channel
 * axis lays its inputs' channels side by side (each keeps its own ids, so offsets follow by construction);
 * Split and Gather work on other axes. A Reshape whose target is a constant has that entry rewritten to the
 * kept count.
 */

definePrune('', 'Transpose', (c) => {
  const m = c.chan(0);
  if (!m) return [];
  const r = c.inShape(0)?.length;
  const perm = c.node.attrInts('perm') ?? (r === undefined ? undefined : Array.from({ length: r }, (_, i) => r - 1 - i));
  if (!perm) return blockAll(c, 'shapes unknown');
  return [{ axis: perm.indexOf(m.axis), ids: m.ids }];
});

function reshapeLike(c: PruneContext): (ChannelMap | undefined)[] {
  const m = c.chan(0);
  if (!m) return blockAll(c, 'reads them as a shape');
  const i = c.inShape(0);
  const o = c.outShape(0);
  if (!i || !o) return blockAll(c, 'shapes unknown (give the symbolic dims)');
  const to = reshapedAxis(i, o, m.axis);
  if (!to) return blockAll(c, 'splits the channel axis');
  const ids = to.inner === 1 ? m.ids : repeatIds(m.ids, to.inner);
  if (c.node.opType === 'Reshape') {
    const target = c.constInts(1);
    if (!target) return blockAll(c, 'has a computed target shape that may hold the channel count');
    if (target[to.axis]! > 0) {
      const node = c.node;
      c.fix((fx) => {
        const vals = [...target];
        vals[to.axis] = fx.kept(ids);
        fx.setConst(node, 1, Tensor.int64([vals.length], vals));
      });
    }
  }
  return [{ axis: to.axis, ids }];
}
definePrune('', ['Reshape', 'Flatten', 'Squeeze', 'Unsqueeze'], reshapeLike);

function concat(c: PruneContext): (ChannelMap | undefined)[] {
  const tracked = trackedInputs(c);
  if (tracked.length === 0) return [];
  const o = c.outShape(0);
  if (!o) return blockAll(c, 'shapes unknown');
  const ax = c.node.attrInt('axis', 0);
  const axis = ax < 0 ? ax + o.length : ax;
  const where = `Concat '${c.node.name}'`;
  if (tracked.some((t) => t.map.axis === axis)) {
    const parts: Int32Array[] = [];
    c.node.inputs.forEach((v, i) => {
      const m = c.chan(i);
      if (m && m.axis === axis) return parts.push(m.ids);
      if (m) c.block(m.ids, `${where} joins them along another axis`);
      const n = c.inShape(i)?.[axis] ?? 0;
      const ids = c.fresh(n);
      c.block(ids, `${where} concatenates them with '${v?.name}', whose channels cannot be removed`);
      parts.push(ids);
    });
    const all = new Int32Array(parts.reduce((s, p) => s + p.length, 0));
    let off = 0;
    for (const p of parts) all.set(p, (off += p.length) - p.length);
    return [{ axis, ids: all }];
  }
  // joined along another axis: every operand must carry the same channels
  const first = tracked[0]!.map;
  if (tracked.length !== c.node.inputs.length || tracked.some((t) => t.map.axis !== first.axis)) {
    return blockAll(c, 'joins them with an operand whose channels are not tracked');
  }
  for (const t of tracked.slice(1)) c.union(first.ids, t.map.ids);
  return [first];
}
definePrune('', 'Concat', concat);

definePrune('', 'Split', (c) => {
  const m = c.chan(0);
  if (!m) return blockAll(c, 'reads them as split sizes');
  const r = c.inShape(0)?.length ?? 0;
  const ax = c.node.attrInt('axis', 0);
  if ((ax < 0 ? ax + r : ax) === m.axis) return blockAll(c, 'splits the channel axis');
  return c.node.outputs.map(() => m);
});

definePrune('', 'Gather', (c) => {
  const m = c.chan(0);
  if (!m || c.chan(1)) return blockAll(c, 'uses them as indices');
  const r = c.inShape(0)?.length;
  const ri = c.inShape(1)?.length;
  if (r === undefined || ri === undefined) return blockAll(c, 'shapes unknown');
  const ax = c.node.attrInt('axis', 0);
  const g = ax < 0 ? ax + r : ax;
  if (g === m.axis) return blockAll(c, 'gathers along the channel axis');
  return [{ axis: m.axis < g ? m.axis : m.axis + ri - 1, ids: m.ids }];
});

// Shape and Size read no values: the pruned model reports its new sizes at run time
definePrune('', ['Shape', 'Size'], () => []);
