import type { Target } from '../passes/pass.js';
import type { OptLevel } from '../runtime/session.js';
import { InputError } from '../errors.js';
import { checkNesting } from '../util/limits.js';

/** ONNX Runtime session settings: part of what a recipe decides, since they change speed as much as passes. */
export interface SessionSettings {
  threads: number;
  optLevel: OptLevel;
  executionMode: 'sequential' | 'parallel';
  /** onnxruntime-web's WebGPU execution provider on a device page (absent: the backend's CPU provider). */
  ep?: 'webgpu';
}

/** One pass with its parameters (only those that differ from the pass's defaults need to be listed). */
export interface RecipeStep {
  pass: string;
  params: Record<string, unknown>;
}

/** A candidate: passes applied in order to the input model, then run with these session settings. */
export interface Recipe {
  target: Target;
  steps: RecipeStep[];
  session: SessionSettings;
}

/** The file `optimize` writes and `optimize --recipe` reads. */
export interface RecipeFile {
  format: 'inferopt-recipe';
  version: 1;
  recipe: Recipe;
  /** The model it was found for (informational: a recipe may be applied to another model). */
  model?: { file: string; sha256: string };
  note?: string;
}

export const DEFAULT_SESSION: SessionSettings = { threads: 2, optLevel: 'all', executionMode: 'sequential' };

/** A canonical string for a recipe (sorted keys): same recipe, same key — the cache and dedup key. */
export function recipeKey(r: Recipe): string {
  return stableJson(r);
}

/** The key of the model a recipe builds (steps and target only: session settings do not change the graph). */
export function graphKey(r: Recipe): string {
  return stableJson({ target: r.target, steps: r.steps });
}

export function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`;
  if (v && typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined);
    entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${stableJson(x)}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

/** A short human label: `simplify → quantize-dynamic(perChannel=true) | 1 thread, basic`. */
export function describeRecipe(r: Recipe, base: SessionSettings = DEFAULT_SESSION): string {
  const steps = r.steps.length
    ? r.steps.map((s) => {
        const ps = Object.entries(s.params).map(([k, v]) => `${k}=${Array.isArray(v) ? v.join('+') || '[]' : String(v)}`);
        return ps.length ? `${s.pass}(${ps.join(', ')})` : s.pass;
      }).join(' → ')
    : 'no passes';
  const sess: string[] = [];
  if (r.session.threads !== base.threads) sess.push(`${r.session.threads} thread${r.session.threads === 1 ? '' : 's'}`);
  if (r.session.optLevel !== base.optLevel) sess.push(`ORT level ${r.session.optLevel}`);
  if (r.session.executionMode !== base.executionMode) sess.push(`${r.session.executionMode} execution`);
  if (r.session.ep !== base.ep) sess.push(r.session.ep ? `on ${r.session.ep}` : 'on the CPU');
  return sess.length ? `${steps} | ${sess.join(', ')}` : steps;
}

const OPT_LEVELS: readonly OptLevel[] = ['disabled', 'basic', 'extended', 'all'];

/** Validates a parsed recipe file (from JSON); throws InputError naming what is wrong. */
export function parseRecipeFile(json: unknown, source = 'recipe'): RecipeFile {
  const bad = (why: string): never => {
    throw new InputError(`${source}: ${why}`);
  };
  if (!json || typeof json !== 'object') bad('not a JSON object');
  checkNesting(json, source); // before anything recursive (stableJson) walks it
  const f = json as Partial<RecipeFile>;
  if (f.format !== 'inferopt-recipe') bad("not an inferopt recipe (expected \"format\": \"inferopt-recipe\")");
  if (f.version !== 1) bad(`unsupported recipe version ${String(f.version)}`);
  const r = f.recipe as Partial<Recipe> | undefined;
  if (!r || typeof r !== 'object') bad('missing "recipe"');
  if (!['cpu', 'std', 'wasm'].includes(String(r!.target))) bad(`bad target '${String(r!.target)}'`);
  if (!Array.isArray(r!.steps)) bad('"steps" must be an array');
  for (const s of r!.steps!) {
    if (!s || typeof s.pass !== 'string') bad('every step needs a "pass" id');
    if (s.params !== undefined && (s.params === null || typeof s.params !== 'object' || Array.isArray(s.params))) bad(`step ${s.pass}: "params" must be an object`);
  }
  if (f.model !== undefined) {
    const m = f.model as Partial<NonNullable<RecipeFile['model']>> | null;
    if (!m || typeof m !== 'object' || typeof m.file !== 'string' || typeof m.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(m.sha256)) {
      bad('"model" must be { "file": name, "sha256": 64 hex digits }');
    }
  }
  if (f.note !== undefined && typeof f.note !== 'string') bad('"note" must be a string');
  const sess = r!.session as Partial<SessionSettings> | undefined;
  if (!sess || !Number.isInteger(sess.threads) || sess.threads! < 1) bad('"session.threads" must be a positive integer');
  if (!OPT_LEVELS.includes(sess!.optLevel!)) bad(`bad session.optLevel '${String(sess!.optLevel)}'`);
  if (sess!.executionMode !== 'sequential' && sess!.executionMode !== 'parallel') bad(`bad session.executionMode '${String(sess!.executionMode)}'`);
  if (sess!.ep !== undefined && sess!.ep !== 'webgpu') bad(`bad session.ep '${String(sess!.ep)}' (webgpu, or leave it out)`);
  return {
    format: 'inferopt-recipe',
    version: 1,
    recipe: { target: r!.target!, steps: r!.steps!.map((s) => ({ pass: s.pass, params: s.params ?? {} })), session: { ...sess! } as SessionSettings },
    ...(f.model ? { model: { file: f.model.file, sha256: f.model.sha256 } } : {}),
    ...(f.note ? { note: f.note } : {}),
  };
}
