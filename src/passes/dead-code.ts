import type { Graph } from '../ir/graph.js';
import type { Pass, PassResult } from './pass.js';

/** Removes nodes nothing reads (walking back from the end) and initializers nothing uses, in every graph. */
function sweep(g: Graph): { nodes: number; initializers: number } {
  let nodes = 0;
  const dead = new Set<import('../ir/graph.js').Node>();
  for (let i = g.nodes.length - 1; i >= 0; i--) {
    const n = g.nodes[i]!;
    let subRemoved = { nodes: 0, initializers: 0 };
    for (const s of n.subgraphs()) {
      const r = sweep(s);
      subRemoved = { nodes: subRemoved.nodes + r.nodes, initializers: subRemoved.initializers + r.initializers };
    }
    nodes += subRemoved.nodes;
    const unused = n.outputs.every((o) => g.isOutput(o) === false && o.uses.every((u) => dead.has(u.node)));
    if (unused) {
      dead.add(n);
      // detach now so that producers further up see their outputs become unused
      n.clearInputs();
    }
  }
  g.removeNodes(dead);
  nodes += dead.size;
  let initializers = 0;
  for (const v of [...g.initializers.values()]) {
    // an initializer listed as a graph input can be overridden by the caller: keep it
    if (v.uses.length === 0 && !g.isOutput(v) && !g.inputs.includes(v)) {
      g.removeInitializer(v);
      initializers++;
    }
  }
  return { nodes, initializers };
}

export const deadCode: Pass = {
  id: 'dead-code',
  doc: 'remove nodes whose outputs nothing reads and unused initializers',
  params: {},
  run(model): PassResult {
    const r = sweep(model.graph);
    const stats: Record<string, number> = {};
    if (r.nodes) stats.nodesRemoved = r.nodes;
    if (r.initializers) stats.initializersRemoved = r.initializers;
    return { model, modified: r.nodes + r.initializers > 0, stats };
  },
};
