import { InputError } from '../errors.js';
import type { Model } from '../ir/graph.js';
import { resolveParams, type PassContext } from '../passes/pass.js';
import { passById, type CatalogEntry } from './catalog.js';
import type { Recipe } from './recipe.js';

export interface AppliedStep {
  pass: string;
  modified: boolean;
  ms: number;
  stats: Record<string, number>;
}

/**
 * Applies a recipe's steps in order to `model` (passes edit in place: give a fresh copy). `runtime` adds the
 * build-time parameters a recipe does not carry (calibration data) to the steps that need them.
 */
export async function applyRecipe(
  model: Model,
  recipe: Recipe,
  catalog: readonly CatalogEntry[],
  runtime: (entry: CatalogEntry) => Promise<Record<string, unknown>> | Record<string, unknown> = () => ({}),
  log?: (msg: string) => void,
): Promise<{ model: Model; steps: AppliedStep[] }> {
  const ctx: PassContext = { target: recipe.target, ...(log ? { log } : {}) };
  const steps: AppliedStep[] = [];
  let current = model;
  for (const step of recipe.steps) {
    const entry = passById(step.pass, catalog);
    for (const k of Object.keys(step.params)) {
      if (!(k in entry.pass.params)) throw new InputError(`recipe step ${step.pass}: unknown parameter '${k}' (known: ${Object.keys(entry.pass.params).join(', ')})`);
    }
    const config = resolveParams(entry.pass, { ...step.params, ...(await runtime(entry)) });
    const t0 = performance.now();
    const res = await entry.pass.run(current, ctx, config);
    current = res.model;
    steps.push({ pass: step.pass, modified: res.modified, ms: performance.now() - t0, stats: res.stats ?? {} });
  }
  return { model: current, steps };
}
