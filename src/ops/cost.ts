import type { Model } from '../ir/graph.js';
import { analyzeShapes, inferenceBug, topologicalOrder, type InferOptions, type InferReport } from './infer.js';
import { getOp, type Cost } from './registry.js';
import { perElementCost, ShapeError } from './util.js';

/**
 * Model cost for fixed shapes: every node's MACs, FLOPs and bytes read/written (from its op's `cost`, or the
 * default of one operation per output element), summed per op type and in total. Nodes whose shapes stay
 * dynamic (or whose op is unknown and untyped) are counted in `uncounted`, not guessed. Only the top-level
 * graph is counted: an If's branches or a Loop's body run a data-dependent number of times.
 */

export interface NodeCost extends Cost {
  node: string;
  op: string;
}

export interface OpTypeCost extends Cost {
  op: string;
  count: number;
}

export interface ModelCost {
  total: Cost;
  byOp: OpTypeCost[];
  nodes: NodeCost[];
  /** Nodes whose cost could not be computed, by op type. */
  uncounted: { op: string; count: number }[];
  inference: InferReport;
}

const defaultCost = perElementCost(1);

export function modelCost(model: Model, opts: InferOptions = {}): ModelCost {
  const shapes = analyzeShapes(model, opts);
  const total: Cost = { macs: 0, flops: 0, bytesRead: 0, bytesWritten: 0 };
  const byOp = new Map<string, OpTypeCost>();
  const uncounted = new Map<string, number>();
  const nodes: NodeCost[] = [];
  for (const node of topologicalOrder(model.graph)) {
    const op = node.qualifiedType;
    const ctx = shapes.contextOf(node);
    const outputs = node.outputs.map((o) => (o.name ? shapes.typeOf(o) : undefined));
    const def = getOp(node.domain, node.opType, ctx.opset);
    let cost: Cost | undefined;
    try {
      cost = def?.cost ? def.cost(ctx, outputs) : defaultCost(ctx, outputs);
    } catch (e) {
      // inconsistent shapes leave the node uncounted; any other exception is a bug in the op's cost rule
      if (!(e instanceof ShapeError)) throw inferenceBug('cost', node, e);
      cost = undefined;
    }
    if (!cost) {
      uncounted.set(op, (uncounted.get(op) ?? 0) + 1);
      continue;
    }
    nodes.push({ node: node.name, op, ...cost });
    const agg = byOp.get(op) ?? { op, count: 0, macs: 0, flops: 0, bytesRead: 0, bytesWritten: 0 };
    agg.count++;
    addCost(agg, cost);
    byOp.set(op, agg);
    addCost(total, cost);
  }
  return {
    total,
    byOp: [...byOp.values()].sort((a, b) => b.flops - a.flops || b.bytesRead - a.bytesRead || a.op.localeCompare(b.op)),
    nodes,
    uncounted: [...uncounted].map(([op, count]) => ({ op, count })),
    inference: shapes.report,
  };
}

function addCost(into: Cost, c: Cost): void {
  into.macs += c.macs;
  into.flops += c.flops;
  into.bytesRead += c.bytesRead;
  into.bytesWritten += c.bytesWritten;
}
