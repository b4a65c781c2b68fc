import type { Model } from '../ir/graph.js';
import { DataType } from '../ir/dtype.js';
import type { Tensor } from '../ir/tensor.js';
import { Session, type SessionOptions } from '../runtime/session.js';
import { compareRuns, type OutputDiff } from '../verify/compare.js';

export async function runAll(model: Model | Session, feeds: readonly Record<string, Tensor>[], opts: SessionOptions = {}, outputs?: string[]) {
  const s = model instanceof Session ? model : await Session.create(model, opts);
  const res: Record<string, Tensor>[] = [];
  for (const f of feeds) res.push(await s.run(f, outputs));
  if (!(model instanceof Session)) await s.release();
  return res;
}

const isFloat = (t: Tensor | undefined) => !!t && (t.dtype === DataType.FLOAT || t.dtype === DataType.FLOAT16 || t.dtype === DataType.DOUBLE || t.dtype === DataType.BFLOAT16);

/** Runs both models on the feeds and compares every float output over all of them (src/verify/compare). */
export async function compareModels(ref: Model, cand: Model, feeds: readonly Record<string, Tensor>[], opts: SessionOptions = {}): Promise<OutputDiff[]> {
  const r = await runAll(ref, feeds, opts);
  const c = await runAll(cand, feeds, opts);
  return Object.keys(r[0] ?? {})
    .filter((name) => r.every((x) => isFloat(x[name])))
    .map((name) => compareRuns(name, r.map((x) => x[name]!), c.map((x) => x[name]!)));
}
