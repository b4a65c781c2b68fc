import type { Model, Value } from '../ir/graph.js';
import { loadModel, modelToBytes } from '../ir/io.js';
import { verifyModels, type VerifyOptions, type VerifyReport } from '../verify/verify.js';
import { runPasses } from './manager.js';
import type { Pass, PassContext, Target } from './pass.js';

/** Helpers for pass tests: run a pass on a copy, list op types, prove numeric equivalence through ORT. */

export function opTypes(m: Model): string[] {
  return m.graph.nodes.map((n) => n.opType);
}

export function opCounts(m: Model): Record<string, number> {
  const out: Record<string, number> = {};
  for (const n of m.graph.allNodes()) out[n.opType] = (out[n.opType] ?? 0) + 1;
  return out;
}

export interface PassOutcome {
  before: Uint8Array;
  after: Model;
  stats: Record<string, number>;
  explain: { rule?: string; fired: boolean; reason?: string }[];
}

/**
 * Structural invariants every pass must keep (run after each pass that changed the model): nodes in
 * topological order, every input defined before use, value names unique, graph outputs produced.
 */
export function checkGraph(m: Model, passId = ''): void {
  const g = m.graph;
  const defined = new Set<Value>([...g.inputs, ...g.initializers.values()]);
  const names = new Set<string>();
  const fail = (why: string) => {
    throw new Error(`after ${passId}: ${why}`);
  };
  for (const v of defined) names.add(v.name);
  for (const n of g.nodes) {
    if (n.graph !== g) fail(`node '${n.name}' does not belong to the graph`);
    for (const v of n.inputs) if (v && !defined.has(v) && v.producer?.graph === g) fail(`'${n.name}' reads '${v.name}' before it is computed`);
    for (const v of n.inputs) if (v && !v.uses.some((u) => u.node === n)) fail(`'${v.name}' does not record its use by '${n.name}'`);
    for (const o of n.outputs) {
      if (o.name && names.has(o.name)) fail(`value name '${o.name}' is used twice`);
      if (o.name) names.add(o.name);
      defined.add(o);
    }
  }
  for (const o of g.outputs) if (!defined.has(o)) fail(`graph output '${o.name}' is not computed`);
}

/** Runs passes (to a fixed point) on a copy of `m`; keeps the original's bytes for comparison. */
export async function runOnCopy(m: Model, passes: Pass<any>[], target: Target = 'cpu', skip: string[] = []): Promise<PassOutcome> {
  const before = modelToBytes(m);
  const copy = loadModel(before);
  const explain: PassOutcome['explain'] = [];
  const ctx: PassContext = { target, skip: new Set(skip), explain: (e) => explain.push(e) };
  const res = await runPasses(copy, passes, ctx, { validate: checkGraph });
  const stats: Record<string, number> = {};
  for (const p of res.passes) for (const [k, v] of Object.entries(p.stats)) stats[k] = (stats[k] ?? 0) + v;
  // a saved-and-reloaded model is what users get: check that too
  return { before, after: loadModel(modelToBytes(res.model)), stats, explain };
}

/** Verifies the transformed model against the original; throws with the failures when outside tolerance. */
export async function expectEquivalent(before: Uint8Array | Model, after: Model, opts: VerifyOptions = {}): Promise<VerifyReport> {
  const r = await verifyModels(before, after, { samples: 2, ...opts });
  if (!r.ok) throw new Error(`not equivalent:\n${r.failures.join('\n')}`);
  return r;
}
