import type { Graph, Node } from '../../ir/graph.js';

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
  for (const k of distinct) {
    const anchor = anchors.get(k.node);
    if (!anchor) {
      report.inserted.push({ kernel: k.node, opType: k.opType });
      continue;
    }
    const group = growGroup(graph, anchor, missing, assigned);
    if (group.length === 1 && anchor.name === k.node && anchor.opType === k.opType) report.kept++;
    else report.fused.push({ kernel: k.node, opType: k.opType, from: group.map((n) => n.name || n.opType) });
  }
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

/** The anchor plus neighbouring nodes that did not run and whose every link stays inside the group. */
function growGroup(graph: Graph, anchor: Node, missing: Set<Node>, assigned: Set<Node>): Node[] {
  const group = [anchor];
  // ORT fuses one compute op with the cheap ops around it, never two GEMMs or convolutions into one kernel
  let heavy = HEAVY_OPS.has(anchor.opType) ? 1 : 0;
  const admit = (n: Node) => {
    if (HEAVY_OPS.has(n.opType)) {
      if (heavy > 0) return false;
      heavy++;
    }
    assigned.add(n);
    group.push(n);
    return true;
  };
  const isFoldable = (n: Node) => n.inputs.every((v) => !v || v.isInitializer || v.producer?.opType === 'Constant');
  for (let i = 0; i < group.length; i++) {
    const n = group[i]!;
    // upstream: a producer whose outputs all feed the group
    for (const v of n.inputs) {
      const p = v?.producer;
      if (!p || !missing.has(p) || assigned.has(p) || p.opType === 'Constant' || isFoldable(p)) continue;
      const consumers = p.outputs.flatMap((o) => graph.consumers(o));
      if (consumers.every((c) => group.includes(c))) admit(p);
    }
    // downstream: a sole consumer that did not run either
    for (const o of n.outputs) {
      const cs = graph.consumers(o);
      if (cs.length !== 1) continue;
      const c = cs[0]!;
      if (missing.has(c) && !assigned.has(c) && c.inputs.every((v) => !v || v.isInitializer || !v.producer || group.includes(v.producer) || v.producer.opType === 'Constant')) admit(c);
    }
  }
  return group;
}

const HEAVY_OPS = new Set(['Conv', 'ConvTranspose', 'MatMul', 'Gemm', 'MatMulInteger', 'ConvInteger', 'QLinearConv', 'QLinearMatMul', 'Attention', 'MultiHeadAttention']);
