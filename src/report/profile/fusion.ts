import type { Graph, Node, Value } from '../../ir/graph.js';
import { opArithmetic, opTraits } from '../../ops/index.js';

/**
 * What ONNX Runtime did to the graph, read from which kernels ran: a kernel named like a graph node ran that
 * node as is; a kernel with a name the graph lacks is a node ORT made (a fusion, a layout change); a graph
 * node no kernel names was fused into one of those, or removed (constant folding, elimination).
 *
 * ORT names a fused node after a node or value of the pattern it replaced (`Relu_1_out_nchwc` for a
 * Conv+BatchNormalization+Relu anchored at Relu_1's output), so the anchor is the graph node or value whose
 * name is the longest prefix of the kernel's name; the nodes around the anchor that did not run either are
 * attributed to the same kernel. This is a heuristic: it is right for ORT's fusions that keep a name and
 * says "inserted" for kernels it cannot place (ReorderInput/ReorderOutput, memcpy).
 */
export interface FusedKernel {
  kernel: string;
  opType: string;
  /** Graph nodes attributed to this kernel, anchor first. */
  from: string[];
}

export interface FusionReport {
  /** Kernels that correspond one-to-one to graph nodes. */
  kept: number;
  fused: FusedKernel[];
  /** Kernels with no graph node behind them (layout reorders, copies). */
  inserted: { kernel: string; opType: string }[];
  /** Graph nodes that ran in no kernel and joined no fusion (folded or eliminated). */
  removed: { node: string; opType: string }[];
}

export function analyzeFusions(graph: Graph, kernels: readonly { node: string; opType: string }[]): FusionReport {
  const ran = new Set(kernels.map((k) => k.node));
  const byName = new Map<string, Node>();
  for (const n of graph.nodes) if (n.name) byName.set(n.name, n);
  const producerOfValue = new Map<string, Node>();
  for (const n of graph.nodes) for (const o of n.outputs) producerOfValue.set(o.name, n);
  const missing = new Set(graph.nodes.filter((n) => !ran.has(n.name)));

  // First every kernel's anchor, so that growing one group never swallows another kernel's anchor.
  const distinct = [...new Map(kernels.map((k) => [k.node, k])).values()];
  const anchors = new Map<string, Node>();
  const assigned = new Set<Node>();
  for (const k of distinct) {
    const anchor = byName.get(k.node) ?? findAnchor(k.node, byName, producerOfValue);
    if (anchor && !assigned.has(anchor)) {
      anchors.set(k.node, anchor);
      assigned.add(anchor);
    }
  }
  const report: FusionReport = { kept: 0, fused: [], inserted: [], removed: [] };
  const groups: { kernel: { node: string; opType: string }; group: Group }[] = [];
  for (const k of distinct) {
    const anchor = anchors.get(k.node);
    if (!anchor) report.inserted.push({ kernel: k.node, opType: k.opType });
    else if (anchor.name === k.node && anchor.opType === k.opType) report.kept++; // ran as written
    else groups.push({ kernel: k, group: new Group(graph, anchor, missing, assigned) });
  }
  // ORT mostly names a fusion after its last node (the output it produces): every group first takes what
  // feeds it, and only then the consumers left over (MatMul → …/MatMulAddFusion is named after its first).
  for (const g of groups) g.group.grow('up');
  for (const g of groups) g.group.grow('down');
  for (const g of groups) report.fused.push({ kernel: g.kernel.node, opType: g.kernel.opType, from: g.group.nodes.map((n) => n.name || n.opType) });
  for (const n of missing) if (!assigned.has(n)) report.removed.push({ node: n.name, opType: n.opType });
  return report;
}

function findAnchor(kernel: string, byName: Map<string, Node>, producerOfValue: Map<string, Node>): Node | undefined {
  let best: { node: Node; len: number } | undefined;
  const consider = (name: string, node: Node) => {
    if (name && kernel.startsWith(name) && (!best || name.length > best.len)) best = { node, len: name.length };
  };
  for (const [name, node] of byName) consider(name, node);
  for (const [name, node] of producerOfValue) consider(name, node);
  return best?.node;
}

/** The graph nodes of one fused kernel: the anchor plus neighbours that did not run and link only to it. */
class Group {
  readonly nodes: Node[];
  /** ORT fuses one compute op with the cheap ops around it, never two GEMMs or convolutions into one kernel. */
  private heavy: number;

  constructor(
    private readonly graph: Graph,
    anchor: Node,
    private readonly missing: Set<Node>,
    private readonly assigned: Set<Node>,
  ) {
    this.nodes = [anchor];
    this.heavy = isHeavy(anchor) ? 1 : 0;
  }

  grow(direction: 'up' | 'down'): void {
    for (let i = 0; i < this.nodes.length; i++) {
      const n = this.nodes[i]!;
      if (direction === 'up') for (const v of n.inputs) this.tryProducer(v?.producer ?? null);
      else for (const o of n.outputs) this.tryConsumer(o);
    }
  }

  private free(n: Node): boolean {
    return this.missing.has(n) && !this.assigned.has(n) && n.opType !== 'Constant';
  }

  /** A producer whose outputs all feed the group (not one that only reads constants: that was folded). */
  private tryProducer(p: Node | null): void {
    if (!p || !this.free(p)) return;
    if (p.inputs.every((v) => !v || v.isInitializer || v.producer?.opType === 'Constant')) return;
    if (p.outputs.flatMap((o) => this.graph.consumers(o)).every((c) => this.nodes.includes(c))) this.admit(p);
  }

  /** The sole consumer of an output, when its other inputs are constants or the group's. */
  private tryConsumer(o: Value): void {
    const cs = this.graph.consumers(o);
    if (cs.length !== 1 || !this.free(cs[0]!)) return;
    const c = cs[0]!;
    if (c.inputs.every((v) => !v || v.isInitializer || !v.producer || this.nodes.includes(v.producer) || v.producer.opType === 'Constant')) this.admit(c);
  }

  private admit(n: Node): void {
    if (isHeavy(n)) {
      if (this.heavy > 0) return;
      this.heavy++;
    }
    this.assigned.add(n);
    this.nodes.push(n);
  }
}

/** A GEMM, convolution, recurrent or attention op (registry: `arithmetic`, or a `kernel` family). */
function isHeavy(n: Node): boolean {
  return opArithmetic(n.domain, n.opType) !== undefined || opTraits(n.domain, n.opType).kernel !== undefined;
}
