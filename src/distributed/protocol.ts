import { InputError } from '../errors.js';
import type { ImagePreprocess } from '../data/image.js';
import type { EvaluateOptions } from '../eval/evaluate.js';
import type { Backend } from '../runtime/session.js';
import { checkRecipeSteps } from '../search/apply.js';
import type { CatalogEntry } from '../search/catalog.js';
import { parseRecipeFile, type Recipe } from '../search/recipe.js';
import { checkNesting } from '../util/limits.js';

/**
 * What travels through the queues. A job names a model by its sha256 in the content-addressed store and a
 * recipe (passes and their parameters, validated by each pass's declared parameters): never code. Workers
 * check every job with `checkJob` before doing anything, and refuse what does not fit.
 */

/** Largest job (JSON): recipes and options are small; models travel through the store. */
export const MAX_JOB_BYTES = 64 * 1024;
/** Largest result (JSON): per-sample records are a few numbers per sample. */
export const MAX_RESULT_BYTES = 64 * 1024 * 1024;
/** Largest model in the store (a Redis string holds at most 512 MiB). */
export const MAX_BLOB_BYTES = 512 * 1024 * 1024;

export interface Shard {
  index: number;
  count: number;
}

/** What every search job shares: the input model, the data and how latency is timed. */
export interface SearchContext {
  /** sha256 of the input model's bytes (in the store). */
  model: string;
  /** The data (a path the worker can read: the same files as the coordinator's); without it, fidelity on seeded random inputs. */
  data?: string;
  metric?: string;
  limit?: number;
  input: { shapes?: Record<string, number[]>; dims?: Record<string, number> };
  backend: Backend;
  /** Content key of the timing inputs: a worker whose data differ refuses the job. */
  workload: string;
  /** Content key of the calibration inputs (static quantization builds from them): checked like `workload`. */
  calibration: string;
}

/** Options of a sharded `eval` (the CLI's, resolved by the coordinator). */
export type EvalJobOptions = Pick<EvaluateOptions, 'task' | 'output' | 'keys' | 'threshold' | 'shrinkRatio' | 'ignoreSpaces'> & {
  batch: number;
  threads: number;
  backend: Backend;
  limit?: number;
  shuffle?: number;
  part?: 'calibration' | 'evaluation';
  calibrationFraction?: number;
  image?: ImagePreprocess;
};

export type JobData =
  /** Build the recipe's model and time it: alone (the baseline), else side by side with `baseline`. */
  | { kind: 'time'; ctx: SearchContext; recipe: Recipe; baseline?: Recipe; runs?: number }
  /** Time two recipes side by side (a gain over an incumbent confirmed). */
  | { kind: 'confirm'; ctx: SearchContext; a: Recipe; b: Recipe; runs: number }
  /** Build the recipe's model and score one shard of the metric's samples, with per-sample records. */
  | { kind: 'score'; ctx: SearchContext; recipe: Recipe; shard: Shard }
  /** `eval --workers`: score one shard of the data with a stored model (and reference). */
  | { kind: 'eval'; model: string; reference?: string; data: string; options: EvalJobOptions; shard: Shard }
  /**
   * `pipeline optimize --workers`: run pipeline specs side by side on the frames (runs of consecutive
   * frames `[first, count, lead-in frames before first]`), timed at the budget's pace. Every model and character list a spec names is a
   * `sha256:<hash>` in the store; the specs are checked as a spec file is before they run.
   */
  | { kind: 'pipeline'; specs: Record<string, unknown>[]; frames: string; framesKey: string; segments: [number, number, number?][]; budgetMs: number };

export type JobKind = JobData['kind'];

const HASH = /^[0-9a-f]{64}$/;
/** How a pipeline job's spec names a file: by its hash in the store (a worker reads no other path from a spec). */
export const STORE_REF = /^sha256:([0-9a-f]{64})$/;
const TASKS: readonly string[] = ['classification', 'ctc', 'det-map', 'tensors', 'fidelity'];

/** Checks a job from the queue; throws InputError naming the first problem. */
export function checkJob(raw: unknown, catalog: readonly CatalogEntry[]): JobData {
  const bad = (why: string): never => {
    throw new InputError(`refused job: ${why}`);
  };
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) bad('not an object');
  checkNesting(raw, 'job');
  const size = Buffer.byteLength(JSON.stringify(raw));
  if (size > MAX_JOB_BYTES) bad(`${size} bytes, over the ${MAX_JOB_BYTES}-byte limit`);
  const j = raw as Record<string, unknown>;
  const only = (o: Record<string, unknown>, keys: readonly string[], what: string) => {
    for (const k of Object.keys(o)) if (!keys.includes(k)) bad(`unknown field '${k}' in ${what}`);
  };
  const int = (v: unknown, what: string, min: number, max: number) => {
    if (!Number.isInteger(v) || (v as number) < min || (v as number) > max) bad(`${what} must be an integer in ${min}..${max}`);
    return v as number;
  };
  const str = (v: unknown, what: string, max = 4096) => {
    if (typeof v !== 'string' || v.length === 0 || v.length > max || v.includes('\0')) bad(`${what} must be a non-empty string`);
    return v as string;
  };
  const hash = (v: unknown, what: string) => {
    if (typeof v !== 'string' || !HASH.test(v)) bad(`${what} must be a sha256 (64 hex digits)`);
    return v as string;
  };
  const recipe = (v: unknown, what: string): Recipe => {
    try {
      const r = parseRecipeFile({ format: 'inferopt-recipe', version: 1, recipe: v }, what).recipe;
      checkRecipeSteps(r, catalog);
      return r;
    } catch (e) {
      return bad((e as Error).message);
    }
  };
  const shard = (v: unknown): Shard => {
    if (!v || typeof v !== 'object') bad('shard must be { index, count }');
    const s = v as Record<string, unknown>;
    only(s, ['index', 'count'], 'shard');
    const count = int(s.count, 'shard.count', 1, 4096);
    return { index: int(s.index, 'shard.index', 0, count - 1), count };
  };
  const backend = (v: unknown): Backend => (v === 'node' || v === 'wasm' ? v : bad(`backend must be node or wasm`));
  const ctx = (v: unknown): SearchContext => {
    if (!v || typeof v !== 'object' || Array.isArray(v)) bad('ctx must be an object');
    const c = v as Record<string, unknown>;
    only(c, ['model', 'data', 'metric', 'limit', 'input', 'backend', 'workload', 'calibration'], 'ctx');
    const input = (c.input ?? {}) as Record<string, unknown>;
    if (typeof input !== 'object' || Array.isArray(input)) bad('ctx.input must be an object');
    only(input, ['shapes', 'dims'], 'ctx.input');
    for (const [name, dims] of Object.entries((input.shapes ?? {}) as Record<string, unknown>)) {
      if (!Array.isArray(dims) || dims.length > 16) bad(`ctx.input.shapes.${name} must be a list of dims`);
      (dims as unknown[]).forEach((d) => int(d, `a dim of ${name}`, 0, 2 ** 31));
    }
    for (const [name, d] of Object.entries((input.dims ?? {}) as Record<string, unknown>)) int(d, `ctx.input.dims.${name}`, 0, 2 ** 31);
    return {
      model: hash(c.model, 'ctx.model'),
      ...(c.data !== undefined ? { data: str(c.data, 'ctx.data') } : {}),
      ...(c.metric !== undefined ? { metric: str(c.metric, 'ctx.metric', 100) } : {}),
      ...(c.limit !== undefined ? { limit: int(c.limit, 'ctx.limit', 1, 1e9) } : {}),
      input: input as SearchContext['input'],
      backend: backend(c.backend),
      workload: hash(c.workload, 'ctx.workload'),
      calibration: hash(c.calibration, 'ctx.calibration'),
    };
  };
  switch (j.kind) {
    case 'time':
      only(j, ['kind', 'ctx', 'recipe', 'baseline', 'runs'], 'the job');
      return {
        kind: 'time',
        ctx: ctx(j.ctx),
        recipe: recipe(j.recipe, 'recipe'),
        ...(j.baseline !== undefined ? { baseline: recipe(j.baseline, 'baseline') } : {}),
        ...(j.runs !== undefined ? { runs: int(j.runs, 'runs', 2, 10_000) } : {}),
      };
    case 'confirm':
      only(j, ['kind', 'ctx', 'a', 'b', 'runs'], 'the job');
      return { kind: 'confirm', ctx: ctx(j.ctx), a: recipe(j.a, 'a'), b: recipe(j.b, 'b'), runs: int(j.runs, 'runs', 2, 10_000) };
    case 'score':
      only(j, ['kind', 'ctx', 'recipe', 'shard'], 'the job');
      return { kind: 'score', ctx: ctx(j.ctx), recipe: recipe(j.recipe, 'recipe'), shard: shard(j.shard) };
    case 'eval': {
      only(j, ['kind', 'model', 'reference', 'data', 'options', 'shard'], 'the job');
      const o = j.options as Record<string, unknown>;
      if (!o || typeof o !== 'object' || Array.isArray(o)) bad('options must be an object');
      only(o, ['task', 'output', 'keys', 'threshold', 'shrinkRatio', 'ignoreSpaces', 'batch', 'threads', 'backend', 'limit', 'shuffle', 'part', 'calibrationFraction', 'image'], 'options');
      if (o.task !== undefined && !TASKS.includes(o.task as string)) bad(`options.task must be one of ${TASKS.join(', ')}`);
      if (o.output !== undefined) str(o.output, 'options.output', 1000);
      if (o.keys !== undefined) str(o.keys, 'options.keys');
      for (const k of ['threshold', 'shrinkRatio', 'calibrationFraction'] as const) if (o[k] !== undefined && !(typeof o[k] === 'number' && (o[k] as number) >= 0 && (o[k] as number) <= 1)) bad(`options.${k} must be a number in 0..1`);
      if (o.ignoreSpaces !== undefined && typeof o.ignoreSpaces !== 'boolean') bad('options.ignoreSpaces must be true or false');
      int(o.batch, 'options.batch', 1, 4096);
      int(o.threads, 'options.threads', 1, 1024);
      backend(o.backend);
      if (o.limit !== undefined) int(o.limit, 'options.limit', 1, 1e9);
      if (o.shuffle !== undefined) int(o.shuffle, 'options.shuffle', 0, 2 ** 31);
      if (o.part !== undefined && o.part !== 'calibration' && o.part !== 'evaluation') bad('options.part must be calibration or evaluation');
      if (o.image !== undefined) {
        if (!o.image || typeof o.image !== 'object' || Array.isArray(o.image)) bad('options.image must be an object');
        for (const [k, v] of Object.entries(o.image as object)) {
          const scalar = typeof v === 'string' || typeof v === 'number';
          const numbers = Array.isArray(v) && v.length <= 4 && v.every((x) => typeof x === 'number');
          if (!scalar && !numbers) bad(`options.image.${k} must be a string, a number or a short list of numbers`);
        }
      }
      return {
        kind: 'eval',
        model: hash(j.model, 'model'),
        ...(j.reference !== undefined ? { reference: hash(j.reference, 'reference') } : {}),
        data: str(j.data, 'data'),
        options: o as unknown as EvalJobOptions,
        shard: shard(j.shard),
      };
    }
    case 'pipeline': {
      only(j, ['kind', 'specs', 'frames', 'framesKey', 'segments', 'budgetMs'], 'the job');
      if (!Array.isArray(j.specs) || j.specs.length < 1 || j.specs.length > 2) bad('specs must be a list of 1 or 2 pipeline specs');
      for (const [i, spec] of (j.specs as unknown[]).entries()) {
        if (!spec || typeof spec !== 'object' || Array.isArray(spec)) bad(`specs[${i}] must be an object`);
        const stages = (spec as { stages?: unknown }).stages;
        if (!Array.isArray(stages)) bad(`specs[${i}].stages must be a list`);
        if ('baseDir' in (spec as object)) bad(`specs[${i}] must not set baseDir`);
        for (const st of stages as Record<string, unknown>[]) {
          if (!st || typeof st !== 'object' || st.type !== 'model') continue;
          if (typeof st.model !== 'string' || !STORE_REF.test(st.model)) bad(`specs[${i}]: stage models must be sha256:<hash> of the store`);
          const keys = (st.post as Record<string, unknown> | undefined)?.keys;
          if (keys !== undefined && (typeof keys !== 'string' || !STORE_REF.test(keys))) bad(`specs[${i}]: character lists must be sha256:<hash> of the store`);
        }
      }
      if (!Array.isArray(j.segments) || j.segments.length < 1 || j.segments.length > 64) bad('segments must be a list of 1 to 64 [first, count, lead-in]');
      for (const seg of j.segments as unknown[]) {
        if (!Array.isArray(seg) || seg.length < 2 || seg.length > 3) bad('a segment must be [first, count, lead-in]');
        const first = int((seg as unknown[])[0], 'a segment\'s first frame', 0, 1e7);
        int((seg as unknown[])[1], 'a segment\'s frame count', 1, 1e7);
        if ((seg as unknown[]).length === 3) int((seg as unknown[])[2], 'a segment\'s lead-in', 0, first);
      }
      if (!(typeof j.budgetMs === 'number' && j.budgetMs > 0 && j.budgetMs <= 60_000)) bad('budgetMs must be a number in (0, 60000]');
      return { kind: 'pipeline', specs: j.specs as Record<string, unknown>[], frames: str(j.frames, 'frames'), framesKey: hash(j.framesKey, 'framesKey'), segments: j.segments as [number, number, number?][], budgetMs: j.budgetMs as number };
    }
    default:
      return bad(`unknown kind ${JSON.stringify(String(j.kind)).slice(0, 40)} (known: time, confirm, score, eval, pipeline)`);
  }
}

/**
 * Results as JSON that keeps NaN and ±Infinity (plain JSON turns them into null; a NaN error must stay NaN,
 * so that merged metrics equal local ones), size-checked.
 */
export function encodeResult(value: unknown): string {
  const text = JSON.stringify(value, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? { $num: String(v) } : v));
  if (text.length > MAX_RESULT_BYTES) throw new InputError(`the result is ${text.length} bytes, over the ${MAX_RESULT_BYTES}-byte limit`);
  return text;
}

export function decodeResult<T>(text: unknown): T {
  if (typeof text !== 'string') throw new InputError('a worker returned no result');
  if (text.length > MAX_RESULT_BYTES) throw new InputError(`a worker's result is ${text.length} bytes, over the ${MAX_RESULT_BYTES}-byte limit`);
  return JSON.parse(text, (_k, v: unknown) => {
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      const keys = Object.keys(v);
      if (keys.length === 1 && keys[0] === '$num') return Number((v as { $num: string }).$num);
    }
    return v;
  }) as T;
}
