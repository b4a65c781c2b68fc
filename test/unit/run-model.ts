/** Test helpers: run a model once and read its first output; a deep copy through bytes. */
import type { Model } from '../../src/ir/graph.js';
import { loadModel, modelToBytes } from '../../src/ir/io.js';
import type { Tensor } from '../../src/ir/tensor.js';
import { Session } from '../../src/runtime/index.js';

export const clone = (m: Model) => loadModel(modelToBytes(m));

export async function runFirst(model: Model, feeds: Record<string, Tensor>): Promise<Float32Array> {
  const s = await Session.create(model, { threads: 1 });
  const out = await s.run(feeds);
  await s.release();
  return out[model.graph.outputs[0]!.name]!.toFloat32();
}
