import type { Graph, Node, Value } from '../ir/graph.js';
import type { Tensor } from '../ir/tensor.js';

/**
 * Which nodes a mode may touch. Entries of `include` / `exclude` are node names or op types ('MatMul',
 * 'com.microsoft.Attention'); an empty include list means "every node the mode supports"; exclude wins.
 */
export interface NodeFilter {
  include?: readonly string[];
  exclude?: readonly string[];
}

const matches = (n: Node, entries: readonly string[]) =>
  entries.includes(n.name) || entries.includes(n.opType) || entries.includes(n.qualifiedType);

export function nodeSelected(n: Node, f: NodeFilter): boolean {
  if (f.exclude && matches(n, f.exclude)) return false;
  return !f.include || f.include.length === 0 || matches(n, f.include);
}

/** The constant behind an input (initializer or Constant node), if any. */
export function constInput(n: Node, i: number): Tensor | undefined {
  return n.input(i)?.constTensor();
}

/** Removes an initializer or Constant node once nothing reads it any more. */
export function dropIfUnused(g: Graph, v: Value | null): void {
  if (!v || v.uses.length > 0) return;
  // a subgraph's weight may be an initializer or Constant of an enclosing graph
  for (let h: Graph | null = g; h; h = h.parent) {
    if (h.isOutput(v)) return;
    if (v.isInitializer && h.initializers.get(v.name) === v) return h.removeInitializer(v);
    if (v.producer?.opType === 'Constant' && v.producer.graph === h) return h.removeNode(v.producer);
  }
}

/** Puts `replacement` where `old` is (taking over its outputs) and removes `old`. */
export function replaceNode(g: Graph, old: Node, replacement: Node[]): void {
  for (const n of replacement) g.addNode(n, old);
  g.removeNode(old, false);
}

