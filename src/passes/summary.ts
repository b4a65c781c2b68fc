import type { Model } from '../ir/graph.js';
import { encodeModel } from '../ir/proto/encode.js';
import { constantNodeTensor } from './constant-to-initializer.js';

/** What a model is made of: nodes by op, parameter count, serialized size. */
export interface ModelSummary {
  nodes: number;
  byOp: Record<string, number>;
  /** Elements in initializers (and Constant nodes), i.e. the weights. */
  params: number;
  /** Serialized size in bytes (inline tensors). */
  bytes: number;
}

export function summarizeModel(model: Model): ModelSummary {
  const byOp: Record<string, number> = {};
  let nodes = 0;
  let params = 0;
  for (const n of model.graph.allNodes()) {
    nodes++;
    byOp[n.qualifiedType] = (byOp[n.qualifiedType] ?? 0) + 1;
    if (n.opType === 'Constant') params += constantNodeTensor(n)?.size ?? 0;
  }
  // subgraphs (If/Loop/Scan bodies) hold initializers too: Silero VAD keeps nearly all its weights there
  for (const g of model.graph.allGraphs()) for (const v of g.initializers.values()) params += v.initializer!.size;
  const bytes = encodeModel(model).reduce((s, c) => s + c.length, 0);
  return { nodes, byOp, params, bytes };
}

/** Rows op | before | after for every op present on either side (changed ones first). */
export function opDiffRows(before: ModelSummary, after: ModelSummary): [string, number, number][] {
  const ops = new Set([...Object.keys(before.byOp), ...Object.keys(after.byOp)]);
  const rows = [...ops].map((op): [string, number, number] => [op, before.byOp[op] ?? 0, after.byOp[op] ?? 0]);
  return rows.sort((a, b) => Number(a[1] === a[2]) - Number(b[1] === b[2]) || b[1] + b[2] - (a[1] + a[2]) || a[0].localeCompare(b[0]));
}
