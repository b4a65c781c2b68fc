import type { Model } from '../../ir/graph.js';
import type { InputSpec } from '../../runtime/inputs.js';
import type { NodeCost } from './roofline.js';

export interface GraphCosts {
  /** Cost of a graph node by name; undefined where the cost model cannot say. */
  costOf?: (graphNode: string) => NodeCost | undefined;
  /** Why costs are partial or missing, for the report. */
  note?: string;
}

/**
 * Per-node FLOPs and bytes for the shapes being profiled, from the op registry's cost model (src/ops).
 * The registry's model-wide cost function is not in the tree yet: until it is, profiles carry times only.
 */
export function graphNodeCosts(model: Model, spec: InputSpec): GraphCosts {
  void model;
  void spec;
  return { note: 'the cost model (src/ops) is not available yet: GFLOP/s, arithmetic intensity and roofline are omitted' };
}
