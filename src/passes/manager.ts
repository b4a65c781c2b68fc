import type { Model } from '../ir/graph.js';
import { resolveParams, type Pass, type PassContext } from './pass.js';

/** A pass with its (partial) configuration, as a pipeline lists it. */
export interface PassStep<C extends object = object> {
  pass: Pass<C>;
  config?: Partial<C>;
}

export interface PassRunStats {
  id: string;
  /** Times the pass ran and times it changed something. */
  runs: number;
  modified: number;
  ms: number;
  /** The pass's own stats, summed over runs. */
  stats: Record<string, number>;
}

export interface PipelineResult {
  model: Model;
  modified: boolean;
  /** Rounds over the whole list until nothing changed. */
  rounds: number;
  passes: PassRunStats[];
}

export interface PipelineOptions {
  /** Upper bound on rounds (a pass pair that undoes each other must not loop forever). */
  maxRounds?: number;
  /** Checks the model after every pass that changed it (for tests: catches broken passes early). */
  validate?: (model: Model, passId: string) => void;
}

/**
 * Runs passes in order, repeating the whole list until no pass changes the model (a fixed point) or
 * `maxRounds` is reached. Passes named in `ctx.skip` do not run.
 */
export async function runPasses(model: Model, steps: readonly (Pass<any> | PassStep<any>)[], ctx: PassContext, opts: PipelineOptions = {}): Promise<PipelineResult> {
  const maxRounds = opts.maxRounds ?? 8;
  const list = steps.map((s) => ('pass' in s ? s : { pass: s as Pass<object> }) as PassStep<object>).filter((s) => !ctx.skip?.has(s.pass.id));
  const stats = new Map<string, PassRunStats>(list.map((s) => [s.pass.id, { id: s.pass.id, runs: 0, modified: 0, ms: 0, stats: {} }]));
  let current = model;
  let anyChange = false;
  let rounds = 0;
  while (rounds < maxRounds) {
    rounds++;
    let changed = false;
    for (const step of list) {
      const st = stats.get(step.pass.id)!;
      const t0 = performance.now();
      const res = await step.pass.run(current, ctx, resolveParams(step.pass, step.config ?? {}));
      st.ms += performance.now() - t0;
      st.runs++;
      current = res.model;
      if (!res.modified) continue;
      st.modified++;
      changed = true;
      for (const [k, v] of Object.entries(res.stats ?? {})) st.stats[k] = (st.stats[k] ?? 0) + v;
      opts.validate?.(current, step.pass.id);
      ctx.log?.(`${step.pass.id}: ${JSON.stringify(res.stats ?? {})}`);
    }
    if (!changed) break;
    anyChange = true;
  }
  return { model: current, modified: anyChange, rounds, passes: [...stats.values()] };
}
