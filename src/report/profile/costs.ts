import type { Model } from '../../ir/graph.js';
import { modelCost } from '../../ops/index.js';
import type { InputSpec } from '../../runtime/inputs.js';
import type { NodeCost } from './roofline.js';

export interface GraphCosts {
  /** Cost of a graph node by name; undefined where the cost model cannot say. */
  costOf: (graphNode: string) => NodeCost | undefined;
  /** Why costs are partial, for the report. */
  note?: string;
}

/** Per-node FLOPs and bytes (read + written) for the shapes being profiled, from the op registry's cost model. */
export function graphNodeCosts(model: Model, spec: InputSpec): GraphCosts {
  const cost = modelCost(model, { ...(spec.dims ? { dims: spec.dims } : {}), ...(spec.shapes ? { shapes: spec.shapes } : {}) });
  const byNode = new Map(cost.nodes.map((n) => [n.node, { flops: n.flops, bytes: n.bytesRead + n.bytesWritten }]));
  const uncounted = cost.uncounted.reduce((s, u) => s + u.count, 0);
  return {
    costOf: (name) => byNode.get(name),
    ...(uncounted ? { note: `the cost model could not count ${uncounted} nodes (${cost.uncounted.map((u) => `${u.count}× ${u.op}`).join(', ')}): kernels containing them show no GFLOP/s` } : {}),
  };
}
