import type { Model } from '../ir/graph.js';
import { loadModel, modelToBytes } from '../ir/io.js';
import type { Tensor } from '../ir/tensor.js';
import { isTensorType, type Dim } from '../ir/types.js';
import { Session } from '../runtime/session.js';
import type { ShapeAnalysis } from './infer.js';

/**
 * Checks inferred shapes against what ONNX Runtime computes: every named node output of the top-level
 * graph is exposed as a graph output (on a copy of the model), the copy is run without ORT's graph
 * optimizations, and each actual shape and element type is compared with the inferred one. Used by tests.
 */

export interface ShapeMismatch {
  value: string;
  op: string;
  inferred: string;
  actual: string;
}

export async function compareWithOrt(model: Model, analysis: ShapeAnalysis, feeds: Record<string, Tensor>): Promise<{ checked: number; mismatches: ShapeMismatch[] }> {
  const copy = loadModel(modelToBytes(model));
  const exposed = new Set(copy.graph.outputs);
  for (const n of copy.graph.nodes) for (const o of n.outputs) if (o.name && !exposed.has(o)) copy.graph.outputs.push(o), exposed.add(o);
  const session = await Session.create(copy, { optLevel: 'disabled', threads: 1 });
  let actual: Record<string, Tensor>;
  try {
    actual = await session.run(feeds);
  } finally {
    await session.release();
  }
  const byName = new Map(model.graph.nodes.flatMap((n) => n.outputs.map((o) => [o.name, { value: o, op: n.qualifiedType }] as const)));
  const mismatches: ShapeMismatch[] = [];
  let checked = 0;
  for (const [name, t] of Object.entries(actual)) {
    const entry = byName.get(name);
    if (!entry) continue;
    const inferred = analysis.typeOf(entry.value);
    const shape: Dim[] | undefined = isTensorType(inferred) ? inferred.shape : undefined;
    checked++;
    const ok = isTensorType(inferred) && inferred.elemType === t.dtype && !!shape && shape.length === t.dims.length && shape.every((d, i) => d === t.dims[i]);
    if (!ok) {
      mismatches.push({
        value: name,
        op: entry.op,
        inferred: isTensorType(inferred) ? `${inferred.elemType}[${shape?.map(String).join(',') ?? '?'}]` : String(inferred?.kind),
        actual: `${t.dtype}[${t.dims.join(',')}]`,
      });
    }
  }
  return { checked, mismatches };
}
