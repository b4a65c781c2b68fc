import { InputError } from '../errors.js';
import type { Model, Node } from '../ir/graph.js';
import { analyzeChannels, type PruneGroup } from '../prune/index.js';

/**
 * Narrower students: keeps `width` of the prunable channel groups of every layer that makes them (transformer
 * FFN neurons, conv filters; whatever src/prune's dependency analysis lets go), choosing by the L2 norm of
 * each channel's weights in the layer that makes it, and removes the rest physically (a smaller dense model).
 */
export function narrowChannels(model: Model, width: number, dims: Record<string, number> = {}): { removed: number; prunable: number; groups: string } {
  if (!(width > 0 && width <= 1)) throw new InputError(`width must be in (0, 1], not ${width}`);
  const a = analyzeChannels(model, { dims });
  const free = a.space.groups().filter((g) => g.blocked.length === 0 && g.kind === 'channel');
  if (!free.length) throw new InputError('nothing in the student can be narrowed: every channel group is blocked (see inferopt prune)');
  const bySource = new Map<Node, { g: PruneGroup; score: number }[]>();
  for (const g of free) {
    let score = 0;
    for (const id of g.ids) {
      const s = a.space.sourceOf(id);
      score += sliceNorm(s.node, id - s.start);
    }
    const node = g.sources[0]!.node;
    bySource.set(node, [...(bySource.get(node) ?? []), { g, score }]);
  }
  const gone: PruneGroup[] = [];
  const kinds = new Map<string, number>();
  for (const [node, list] of bySource) {
    const drop = Math.min(list.length - 1, Math.round(list.length * (1 - width)));
    if (drop <= 0) continue;
    list.sort((x, y) => x.score - y.score);
    gone.push(...list.slice(0, drop).map((e) => e.g));
    kinds.set(node.opType, (kinds.get(node.opType) ?? 0) + drop);
  }
  a.space.apply(model, gone);
  return { removed: gone.length, prunable: free.length, groups: [...kinds].map(([k, n]) => `${n} ${k} outputs`).join(', ') };
}

/** Squared L2 norm of output channel `p` of a weighted node's constant weight (0 when it has none). */
function sliceNorm(node: Node, p: number): number {
  const t = node.input(1)?.constTensor();
  if (!t) return 0;
  const x = t.toFloat32();
  const d = t.dims;
  let sum = 0;
  const columns = node.opType === 'MatMul' || (node.opType === 'Gemm' && !node.attrInt('transB', 0));
  if (columns && d.length === 2) {
    for (let r = 0; r < d[0]!; r++) sum += x[r * d[1]! + p]! ** 2;
  } else {
    const inner = x.length / d[0]!;
    for (let i = 0; i < inner; i++) sum += x[p * inner + i]! ** 2;
  }
  return sum;
}
