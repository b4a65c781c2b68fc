import type { AttrValue, Graph, Node, Value } from '../ir/graph.js';
import type { Tensor } from '../ir/tensor.js';
import { replaceValue } from '../rewrite/apply.js';
import { bytesEqual, contentHash } from '../util/hash.js';
import type { Pass, PassResult } from './pass.js';
import { isNondeterministic } from './util.js';

function tensorKey(t: Tensor): string {
  return contentHash([`${t.dtype}:${t.dims.join('x')}:`, ...(t.strings ?? [t.bytes])]);
}

function attrKey(a: AttrValue): string | undefined {
  switch (a.type) {
    case 'tensor':
      return `t${tensorKey(a.value)}`;
    case 'tensors':
      return `T${a.value.map(tensorKey).join(',')}`;
    case 'graph':
    case 'graphs':
    case 'raw':
      return undefined; // nodes with subgraphs or unmodelled attributes are never merged
    default:
      return JSON.stringify(a);
  }
}

/** A key equal for nodes that compute the same thing from the same values; undefined = never merge. */
function nodeKey(n: Node, ids: Map<Value, number>): string | undefined {
  if (isNondeterministic(n)) return undefined;
  const parts = [n.domain, n.opType, n.overload, String(n.outputs.length)];
  for (const v of n.inputs) parts.push(v ? String(ids.get(v) ?? `?${v.name}`) : '-');
  for (const name of [...n.attrs.keys()].sort()) {
    const k = attrKey(n.attrs.get(name)!.value);
    if (k === undefined) return undefined;
    parts.push(`${name}=${k}`);
  }
  return parts.join('|');
}

/** A cheap key for an initializer: type, shape and 256 bytes sampled across the data. */
function sampleKey(t: Tensor): string {
  const b = t.bytes;
  const step = Math.max(1, Math.floor(b.length / 256));
  const sample: number[] = [];
  for (let i = 0; i < b.length && sample.length < 256; i += step) sample.push(b[i]!);
  return `${t.dtype}:${t.dims.join('x')}:${b.length}:${t.strings ? tensorKey(t) : sample.map((x) => x.toString(16).padStart(2, '0')).join('')}`;
}

function sameData(a: Tensor, b: Tensor): boolean {
  if (a.strings || b.strings) return tensorKey(a) === tensorKey(b);
  return bytesEqual(a.bytes, b.bytes);
}

/**
 * Common-subexpression elimination (in each graph; a subgraph's nodes merge among themselves): identical initializers merge, then identical nodes (same op, attributes
 * and inputs) merge, in one topological walk so that chains collapse together.
 */
function cseGraph(g: Graph): { initializers: number; nodes: number } {
  const ids = new Map<Value, number>();
  let next = 0;
  const id = (v: Value) => {
    if (!ids.has(v)) ids.set(v, next++);
    return ids.get(v)!;
  };
  let initializers = 0;
  // sampled keys group candidates; only a full byte comparison merges
  const byContent = new Map<string, Value[]>();
  for (const v of [...g.initializers.values()]) {
    if (g.inputs.includes(v) || g.isOutput(v)) {
      id(v);
      continue;
    }
    const k = sampleKey(v.initializer!);
    const group = byContent.get(k) ?? [];
    const same = group.find((u) => sameData(u.initializer!, v.initializer!));
    if (same) {
      v.replaceAllUsesWith(same);
      g.removeInitializer(v);
      initializers++;
    } else {
      group.push(v);
      byContent.set(k, group);
      id(v);
    }
  }
  let nodes = 0;
  const seen = new Map<string, Node>();
  const dead: Node[] = [];
  for (const n of [...g.nodes]) {
    const k = nodeKey(n, ids);
    const prior = k === undefined ? undefined : seen.get(k);
    if (prior) {
      n.outputs.forEach((o, i) => replaceValue(g, o, prior.outputs[i]!));
      if (n.outputs.every((o) => o.uses.length === 0 && !g.isOutput(o))) {
        dead.push(n);
        nodes++;
        continue;
      }
    } else if (k !== undefined) seen.set(k, n);
    for (const o of n.outputs) id(o);
  }
  g.removeNodes(dead);
  return { initializers, nodes };
}

export const cse: Pass = {
  id: 'cse',
  doc: 'merge identical initializers and nodes that compute the same value',
  params: {},
  run(model): PassResult {
    const r = { nodes: 0, initializers: 0 };
    for (const g of [...model.graph.allGraphs()]) {
      const one = cseGraph(g);
      r.nodes += one.nodes;
      r.initializers += one.initializers;
    }
    const stats: Record<string, number> = {};
    if (r.nodes) stats.nodesMerged = r.nodes;
    if (r.initializers) stats.initializersMerged = r.initializers;
    return { model, modified: r.nodes + r.initializers > 0, stats };
  },
};
