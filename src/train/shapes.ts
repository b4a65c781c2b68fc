import type { Model, Value } from '../ir/graph.js';
import { loadModel, modelToBytes } from '../ir/io.js';
import type { Tensor } from '../ir/tensor.js';
import { Session } from '../runtime/session.js';
import type { ValueFacts } from './emitter.js';

/**
 * Learns the concrete shape and element type of every value by running the graph once in ONNX Runtime with
 * every intermediate exposed as an output. Training graphs are built for one batch shape, so these are the
 * shapes the gradient rules work with (no symbolic dims, no guessing).
 */
export async function probeShapes(model: Model, feeds: Record<string, Tensor>): Promise<Map<Value, ValueFacts>> {
  const copy = loadModel(modelToBytes(model));
  for (const n of copy.graph.nodes) {
    for (const o of n.outputs) {
      if (!o.name || copy.graph.outputs.includes(o)) continue;
      o.type = undefined; // ORT infers it; a stale declared type would only get in the way
      copy.graph.outputs.push(o);
    }
  }
  const session = await Session.create(copy, { optLevel: 'disabled', threads: 1 });
  const wanted = Object.fromEntries(Object.entries(feeds).filter(([k]) => session.inputNames.includes(k)));
  const out = await session.run(wanted);
  await session.release();

  const byName = new Map<string, Value>();
  for (const v of model.graph.inputs) byName.set(v.name, v);
  for (const v of model.graph.initializers.values()) byName.set(v.name, v);
  for (const n of model.graph.nodes) for (const o of n.outputs) byName.set(o.name, o);
  const facts = new Map<Value, ValueFacts>();
  for (const [name, v] of byName) {
    const t = out[name] ?? feeds[name] ?? v.initializer;
    if (t) facts.set(v, { dims: [...t.dims], dtype: t.dtype });
  }
  return facts;
}
