import type { Model, Value } from '../ir/graph.js';
import type { Tensor } from '../ir/tensor.js';
import { Session, type SessionOptions } from '../runtime/session.js';

/** Calibration input: batches of feeds, by input name. Read once, front to back. */
export type CalibrationData = AsyncIterable<Record<string, Tensor>> | Iterable<Record<string, Tensor>>;

export interface StreamOptions extends SessionOptions {
  /**
   * How many intermediate tensors one session run returns. Each batch is run once per group, so at most
   * this many activations are alive in JS at a time, whatever the model's size.
   */
  tensorsPerRun?: number;
  /** Stop after this many batches. */
  maxBatches?: number;
}

/**
 * Streams intermediate activations: the named values become extra graph outputs of one session, every
 * batch is run (once per group of `tensorsPerRun` values) and each tensor is handed to `visit`, then
 * dropped. Memory stays flat in the number of batches; what `visit` keeps is up to it (fixed-size
 * histograms, min/max, Gram matrices). Returns the number of batches seen.
 */
export async function streamActivations(
  model: Model,
  data: CalibrationData,
  names: readonly string[],
  visit: (name: string, t: Tensor, batch: number) => void,
  opts: StreamOptions = {},
): Promise<number> {
  const g = model.graph;
  const present = new Set(g.outputs.map((v) => v.name));
  const added: Value[] = [];
  for (const name of names) {
    if (present.has(name)) continue;
    const v = g.findValue(name);
    if (!v) throw new Error(`calibration: no value named '${name}' in the model`);
    if (v.isInitializer || g.inputs.includes(v)) continue; // inputs are read from the feeds
    added.push(v);
    present.add(name);
  }
  const types = added.map((v) => v.type);
  g.outputs.push(...added);
  let session: Session;
  try {
    // intermediate values must not be fused away before we read them, so ORT keeps the graph as written
    session = await Session.create(model, { optLevel: 'disabled', ...opts });
  } finally {
    g.outputs.splice(g.outputs.length - added.length, added.length);
    added.forEach((v, i) => (v.type = types[i]));
  }
  const wanted = names.filter((n) => session.outputNames.includes(n));
  const per = Math.max(1, opts.tensorsPerRun ?? 64);
  const groups: string[][] = [];
  for (let i = 0; i < wanted.length; i += per) groups.push(wanted.slice(i, i + per));
  const inputs = new Set(session.inputNames);
  let batch = 0;
  try {
    for await (const feeds of data as AsyncIterable<Record<string, Tensor>>) {
      if (opts.maxBatches !== undefined && batch >= opts.maxBatches) break;
      const f: Record<string, Tensor> = {};
      for (const [k, t] of Object.entries(feeds)) if (inputs.has(k)) f[k] = t;
      for (const group of groups) {
        const out = await session.run(f, group);
        for (const name of group) visit(name, out[name]!, batch);
      }
      // graph inputs that are calibrated come straight from the feeds
      for (const name of names) if (inputs.has(name) && f[name]) visit(name, f[name]!, batch);
      batch++;
    }
  } finally {
    await session.release();
  }
  return batch;
}

/** Wraps an array of feeds so it can be read as calibration data. */
export async function* feedsOf(list: Iterable<Record<string, Tensor>>): AsyncGenerator<Record<string, Tensor>> {
  for (const f of list) yield f;
}
