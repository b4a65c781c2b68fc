import type { Model } from '../ir/graph.js';
import { validateParams, type ParamConstraints } from '../util/validate.js';
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
 * Checks every step of a recipe against the declared parameters of its pass (the validator resolveParams
 * uses, with run-time data refused: a recipe is a file), so a bad recipe fails before anything is built.
 */
export function checkRecipeSteps(recipe: Recipe, catalog: readonly CatalogEntry[]): void {
  for (const step of recipe.steps) {
    const entry = passById(step.pass, catalog);
    validateParams(entry.pass.params as Record<string, ParamConstraints>, step.params, { source: `recipe step ${step.pass}`, serialized: true });
  }
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
  checkRecipeSteps(recipe, catalog);
  for (const step of recipe.steps) {
    const entry = passById(step.pass, catalog);
    const config = resolveParams(entry.pass, { ...step.params, ...(await runtime(entry)) }, { source: `recipe step ${step.pass}` });
    const t0 = performance.now();
    const res = await entry.pass.run(current, ctx, config);
    current = res.model;
    steps.push({ pass: step.pass, modified: res.modified, ms: performance.now() - t0, stats: res.stats ?? {} });
  }
  return { model: current, steps };
}
