import { byteSize } from '../ir/dtype.js';
import type { Model, Node } from '../ir/graph.js';
import { Tensor } from '../ir/tensor.js';
import { inferShapes } from '../ops/infer.js';
import type { CutRole, FixContext } from '../ops/prune-rule.js';

/**
 * The id space of structured pruning. Every removable unit position (a filter, an output feature, a head's
 * block of columns) carries an integer id; coupled ids are joined (union-find); a group is one connected set
 * of ids, removed together or not at all. The analysis (channels.ts, heads.ts) records here what must be cut
 * from which constant when ids go, and what must be fixed afterwards; `apply` does it.
 */

export type GroupKind = 'channel' | 'head';

/** Where fresh ids were made: `count` ids from `start`, by `node` (a Conv's filters, an attention's heads). */
export interface Source {
  node: Node;
  start: number;
  count: number;
  kind: GroupKind;
  /** Rank of the activation the ids run along (3 for per-token features of a transformer). */
  rank?: number;
}

export interface Cut {
  node: Node;
  input: number;
  axis: number;
  ids: Int32Array;
  role: CutRole;
}

/** One removable unit: ids that go together. `blocked` says why it cannot go (empty when it can). */
export interface PruneGroup {
  id: number;
  kind: GroupKind;
  ids: number[];
  sources: Source[];
  blocked: string[];
}

export class PruneSpace {
  private parent: number[] = [];
  readonly sources: Source[] = [];
  readonly cuts: Cut[] = [];
  readonly fixes: ((fx: FixContext) => void)[] = [];
  private readonly reasons = new Map<number, string[]>();

  fresh(n: number, node: Node, kind: GroupKind = 'channel', rank?: number): Int32Array {
    const start = this.parent.length;
    const ids = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      this.parent.push(start + i);
      ids[i] = start + i;
    }
    this.sources.push({ node, start, count: n, kind, rank });
    return ids;
  }

  find(x: number): number {
    let r = x;
    while (this.parent[r] !== r) r = this.parent[r]!;
    while (this.parent[x] !== r) {
      const next = this.parent[x]!;
      this.parent[x] = r;
      x = next;
    }
    return r;
  }

  union(a: Int32Array, b: Int32Array): void {
    if (a.length !== b.length) throw new Error(`cannot couple ${a.length} channels with ${b.length}`);
    for (let i = 0; i < a.length; i++) {
      const ra = this.find(a[i]!);
      const rb = this.find(b[i]!);
      if (ra !== rb) this.parent[Math.max(ra, rb)] = Math.min(ra, rb);
    }
  }

  block(ids: Int32Array, reason: string): void {
    for (const id of ids) {
      const list = this.reasons.get(id) ?? [];
      if (!list.includes(reason)) list.push(reason);
      this.reasons.set(id, list);
    }
  }

  cut(node: Node, input: number, axis: number, ids: Int32Array, role: CutRole = 'other'): void {
    this.cuts.push({ node, input, axis, ids, role });
  }

  /** The source that made id `id`. */
  sourceOf(id: number): Source {
    let lo = 0;
    let hi = this.sources.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.sources[mid]!.start <= id) lo = mid;
      else hi = mid - 1;
    }
    return this.sources[lo]!;
  }

  /** The groups: connected sets of ids, with the reasons any of their ids cannot go. */
  groups(): PruneGroup[] {
    const byRoot = new Map<number, PruneGroup>();
    for (let id = 0; id < this.parent.length; id++) {
      const r = this.find(id);
      let g = byRoot.get(r);
      if (!g) {
        g = { id: r, kind: this.sourceOf(r).kind, ids: [], sources: [], blocked: [] };
        byRoot.set(r, g);
      }
      g.ids.push(id);
      const s = this.sourceOf(id);
      if (!g.sources.includes(s)) g.sources.push(s);
      for (const why of this.reasons.get(id) ?? []) if (!g.blocked.includes(why)) g.blocked.push(why);
    }
    return [...byRoot.values()];
  }

  /**
   * Removes the given groups from `model` (the model the analysis ran on): every cut constant loses the
   * positions of removed ids, fixes run, shapes are inferred again. Returns how many ids went.
   */
  apply(model: Model, groups: Iterable<PruneGroup | number>): { removedIds: number } {
    const roots = new Set<number>();
    for (const g of groups) roots.add(this.find(typeof g === 'number' ? g : g.id));
    const removed = (id: number) => roots.has(this.find(id));
    const graph = model.graph;
    const byInput = new Map<Node, Map<number, Cut[]>>();
    for (const c of this.cuts) {
      const m = byInput.get(c.node) ?? new Map<number, Cut[]>();
      m.set(c.input, [...(m.get(c.input) ?? []), c]);
      byInput.set(c.node, m);
    }
    const setConst = (node: Node, input: number, t: Tensor) => {
      const old = node.inputs[input]!;
      const name = graph.uniqueName(old.name || `${node.name}_pruned`);
      node.setInput(input, graph.addInitializer(t, name));
    };
    for (const [node, inputs] of byInput) {
      for (const [input, cuts] of inputs) {
        const t = node.inputs[input]?.constTensor();
        if (!t) throw new Error(`prune: input ${input} of '${node.name}' is no longer a constant`);
        const keep = new Map<number, boolean[]>();
        for (const c of cuts) {
          const k = keep.get(c.axis) ?? new Array<boolean>(c.ids.length).fill(true);
          c.ids.forEach((id, p) => (k[p] &&= !removed(id)));
          keep.set(c.axis, k);
        }
        if ([...keep.values()].every((k) => k.every(Boolean))) continue;
        setConst(node, input, takeAlong(t, keep));
      }
    }
    const kept = (ids: Int32Array) => ids.reduce((n, id) => n + (removed(id) ? 0 : 1), 0);
    for (const f of this.fixes) f({ kept, setConst });
    dropUnused(model);
    refreshShapes(model);
    let removedIds = 0;
    for (let id = 0; id < this.parent.length; id++) if (removed(id)) removedIds++;
    return { removedIds };
  }
}

/** A copy of `t` keeping, along each axis in `keep`, the positions marked true. */
export function takeAlong(t: Tensor, keep: ReadonlyMap<number, readonly boolean[]>): Tensor {
  let dims = [...t.dims];
  let bytes = t.bytes;
  const elem = byteSize(t.dtype, 1);
  for (const [axis, mask] of keep) {
    if (mask.length !== dims[axis]) throw new Error(`prune: '${t.name}' axis ${axis} has ${dims[axis]} positions, the cut ${mask.length}`);
    const positions = mask.flatMap((k, i) => (k ? [i] : []));
    if (positions.length === mask.length) continue;
    const outer = dims.slice(0, axis).reduce((a, b) => a * b, 1);
    const inner = dims.slice(axis + 1).reduce((a, b) => a * b, 1) * elem;
    const out = new Uint8Array(outer * positions.length * inner);
    let o = 0;
    for (let i = 0; i < outer; i++) {
      const base = i * dims[axis]! * inner;
      for (const p of positions) {
        out.set(bytes.subarray(base + p * inner, base + (p + 1) * inner), o);
        o += inner;
      }
    }
    bytes = out;
    dims = dims.map((d, i) => (i === axis ? positions.length : d));
  }
  return new Tensor(t.dtype, dims, bytes === t.bytes ? new Uint8Array(bytes) : bytes, t.name);
}

/** Drops initializers and Constant nodes nothing reads any more. */
function dropUnused(model: Model): void {
  const g = model.graph;
  for (const v of [...g.initializers.values()]) if (v.uses.length === 0 && !g.outputs.includes(v)) g.removeInitializer(v);
  const dead = g.nodes.filter((n) => n.opType === 'Constant' && n.outputs.every((o) => o.uses.length === 0 && !g.outputs.includes(o)));
  g.removeNodes(dead);
}

/** Forgets the intermediate shapes the cuts made stale and infers them again (graph outputs keep theirs). */
export function refreshShapes(model: Model): void {
  const g = model.graph;
  for (const n of g.nodes) {
    for (const o of n.outputs) {
      if (g.outputs.includes(o) || o.type?.kind !== 'tensor') continue;
      o.type = { kind: 'tensor', elemType: o.type.elemType };
    }
  }
  g.valueInfo.clear();
  inferShapes(model);
}
