import { readFileSync } from 'node:fs';
import { InputError } from '../errors.js';
import { DataType } from '../ir/dtype.js';
import { Tensor } from '../ir/tensor.js';
import { Session } from '../runtime/session.js';
import { ctcAlphabet } from '../eval/ocr.js';
import { dbPostprocess, type Region } from './db.js';
import { boxIou, quadBounds, rectQuad, type Quad, type Rect } from './geometry.js';
import { cropSize, cropToTensor, resizeToTensor, type Frame } from './image.js';
import type { FrameScheduler } from './scheduler.js';
import { Tracker, type Track } from './tracker.js';
import { resolveSpecPath, type ModelStageSpec, type PipelineSpec, type StageSpec, type TrackerStageSpec } from './spec.js';

/** A region as it flows between stages; `track` is set downstream of a tracker (its state persists). */
export interface Item {
  box: Rect;
  quad: Quad;
  score: number;
  track?: Track;
  text?: string;
  textScore?: number;
  flipped?: boolean;
  /** A detection made this many frames ago (a detector running beside the frames). */
  lag?: number;
}

/** One timed piece of a frame's work, in ms from the frame's start. */
export interface Span {
  stage: string;
  part: 'pre' | 'model' | 'post' | 'track';
  start: number;
  end: number;
  items?: number;
}

export interface FrameContext {
  index: number;
  frame: Frame;
  t0: number;
  spans: Span[];
  scheduler: FrameScheduler;
  /** Model input shapes seen, per stage (for optimizing each model at its real shapes). */
  shapes?: Map<string, Map<string, number>>;
  /** Model inputs kept for calibration, per stage. */
  capture?: (stage: string, t: Tensor) => void;
  /**
   * The detector's boxes reached the tracker on this frame (its model ran here, or a run beside the frames
   * delivered) and it skips frames (`interval` > 1): the frame that carries the detector and the reads of the
   * texts it found or changed, while the frames between have room. Not set when the detector runs every frame.
   */
  detected?: boolean;
  /** When set, each crop stage on tracks records what it planned this frame (`PipelineOptions.tracePlans`). */
  plans?: PlanRecord[];
}

/**
 * What a crop stage planned on one frame: due regions by kind (mandatory: must run now; deferrable: first reads
 * allowed to wait, changed boxes; spare: second opinions and refreshes), how many of each it took, the frame's
 * elapsed time when it planned, and the scheduler's estimate of what it took (this stage and the crop stages
 * after it, per-call; undefined while a cost is unknown) and the cost it was planned at. The actual time is in
 * the frame's spans.
 */
export interface PlanRecord {
  stage: string;
  elapsedMs: number;
  due: { mandatory: number; deferrable: number; spare: number };
  taken: { mandatory: number; deferrable: number; spare: number };
  estimateMs?: number;
  /** The cost it was planned at (`FrameScheduler.planned`, with the margin). */
  plannedMs?: number;
}

export type StageOutput = Item[] | undefined;

export interface StageRunner {
  readonly spec: StageSpec;
  run(input: Frame | StageOutput, ctx: FrameContext): Promise<StageOutput>;
  /** Forget per-video state (tracks). */
  reset(): void;
  close(): Promise<void>;
}

const f32Tensor = (data: Float32Array, dims: number[]) => new Tensor(DataType.FLOAT, dims, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));

function timed<T>(ctx: FrameContext, stage: string, part: Span['part'], items: number | undefined, f: () => T): T {
  const s = performance.now();
  const r = f();
  ctx.spans.push({ stage, part, start: s - ctx.t0, end: performance.now() - ctx.t0, ...(items !== undefined ? { items } : {}) });
  return r;
}

async function timedAsync<T>(ctx: FrameContext, stage: string, part: Span['part'], items: number | undefined, f: () => Promise<T>): Promise<T> {
  const s = performance.now();
  const r = await f();
  ctx.spans.push({ stage, part, start: s - ctx.t0, end: performance.now() - ctx.t0, ...(items !== undefined ? { items } : {}) });
  return r;
}

function noteShape(ctx: FrameContext, stage: string, dims: number[]): void {
  if (!ctx.shapes) return;
  let m = ctx.shapes.get(stage);
  if (!m) ctx.shapes.set(stage, (m = new Map()));
  const k = dims.join('x');
  m.set(k, (m.get(k) ?? 0) + 1);
}

async function openSession(spec: PipelineSpec, st: ModelStageSpec): Promise<Session> {
  const file = resolveSpecPath(spec, st.model);
  try {
    readFileSync(file, { flag: 'r' }).subarray(0, 0);
  } catch {
    throw new InputError(`stage '${st.id}': model not found: ${file}`);
  }
  return Session.create(file, { threads: st.threads ?? 2, optLevel: st.optLevel ?? 'all', ...(st.spinning !== undefined ? { spinning: st.spinning } : {}) });
}

/**
 * A detector: frame → resize/normalise → model → DB (or NMS) post-processing → regions.
 *
 * Beside the frames (`schedule.asyncDetector`): the model runs on ONNX Runtime's threads while the next frames
 * are tracked and recognised; its regions reach the tracker in the first frame after it finished, marked with
 * how many frames old they are. A new run starts on the current frame when none is running and at least
 * `interval` frames passed since the last start. The frame that starts a run pays for its pre-processing, the
 * frame that receives the result for the post-processing; the model time is in no frame's latency (it is what
 * the pipelining buys), so the frames must come at the source's pace for the lag to be the real one (see
 * `runFrames`' `paceMs`).
 */
interface DetectionJob {
  index: number;
  frame: Frame;
  width: number;
  height: number;
  done: boolean;
  out?: Tensor;
  error?: unknown;
}

class DetectorStage implements StageRunner {
  /** The run whose result the next frames wait for (dropped at reset). */
  private pending?: DetectionJob;
  /** The model call in flight, if any (also one whose result was dropped): one at a time. */
  private running?: Promise<void>;
  private lastStart = -Infinity;

  constructor(
    readonly spec: ModelStageSpec,
    private readonly session: Session,
    private readonly beside = false,
  ) {}

  static async create(p: PipelineSpec, st: ModelStageSpec): Promise<DetectorStage> {
    return new DetectorStage(st, await openSession(p, st), p.schedule?.asyncDetector === true);
  }

  /** The detector's input size for a frame (PaddleOCR DetResizeForTest, limit_type max, then × scale). */
  inputSize(f: Frame): { width: number; height: number } {
    const pre = this.spec.pre as Extract<ModelStageSpec['pre'], { op: 'resize' }>;
    const m = pre.multiple ?? 32;
    const limit = pre.limitSide ?? 960;
    const ratio = Math.min(1, limit / Math.max(f.width, f.height)) * (pre.scale ?? 1);
    const round = (v: number) => Math.max(m, Math.round((v * ratio) / m) * m);
    return { width: round(f.width), height: round(f.height) };
  }

  due(index: number): boolean {
    return index % (this.spec.interval ?? 1) === 0;
  }

  private input(f: Frame, ctx: FrameContext): { x: Tensor; width: number; height: number } {
    const pre = this.spec.pre as Extract<ModelStageSpec['pre'], { op: 'resize' }>;
    const { width, height } = this.inputSize(f);
    const x = timed(ctx, this.spec.id, 'pre', undefined, () => f32Tensor(resizeToTensor(f, width, height, pre.normalize ?? 'imagenet', pre.color ?? 'bgr'), [1, 3, height, width]));
    noteShape(ctx, this.spec.id, x.dims);
    ctx.capture?.(this.spec.id, x);
    return { x, width, height };
  }

  async run(input: Frame | StageOutput, ctx: FrameContext): Promise<StageOutput> {
    if (this.beside) return this.runBeside(input as Frame, ctx);
    if (!this.due(ctx.index)) return undefined;
    if ((this.spec.interval ?? 1) > 1) ctx.detected = true;
    const f = input as Frame;
    const { x, width, height } = this.input(f, ctx);
    const out = await timedAsync(ctx, this.spec.id, 'model', 1, () => this.session.run({ [this.session.inputNames[0]!]: x }));
    const y = Object.values(out)[0]!;
    return timed(ctx, this.spec.id, 'post', undefined, () => this.post(y, f, width, height));
  }

  private runBeside(f: Frame, ctx: FrameContext): StageOutput {
    let result: StageOutput;
    const p = this.pending;
    if (p?.done) {
      this.pending = undefined;
      if (p.error) throw p.error;
      const lag = ctx.index - p.index;
      if ((this.spec.interval ?? 1) > 1) ctx.detected = true;
      result = timed(ctx, this.spec.id, 'post', undefined, () => this.post(p.out!, p.frame, p.width, p.height)).map((r) => ({ ...r, lag }));
    }
    if (!this.pending && !this.running && ctx.index - this.lastStart >= (this.spec.interval ?? 1)) {
      const { x, width, height } = this.input(f, ctx);
      const job: DetectionJob = { index: ctx.index, frame: f, width, height, done: false };
      const run = this.session.run({ [this.session.inputNames[0]!]: x }).then(
        (out) => void (job.out = Object.values(out)[0]!),
        (e: unknown) => void (job.error = e),
      );
      this.running = run.then(() => {
        job.done = true;
        if (this.running === tracked) this.running = undefined;
      });
      const tracked = this.running;
      this.pending = job;
      this.lastStart = ctx.index;
    }
    return result;
  }

  /** Waits for the detection running beside the frames, if any (its result is kept for the next frame). */
  async settle(): Promise<void> {
    await this.running;
  }

  private post(y: Tensor, f: Frame, width: number, height: number): Item[] {
    const post = this.spec.post;
    const data = y.toFloat32();
    if (post.op === 'db') {
      const mh = y.dims[y.dims.length - 2]!;
      const mw = y.dims[y.dims.length - 1]!;
      return dbPostprocess(data, mh, mw, { ...post, scaleX: f.width / mw, scaleY: f.height / mh, frameWidth: f.width, frameHeight: f.height });
    }
    if (post.op === 'nms') {
      // rows of [x0, y0, x1, y1, score, …] in model input pixels
      const cols = y.dims[y.dims.length - 1]!;
      const rows = data.length / cols;
      const cand: Region[] = [];
      for (let r = 0; r < rows; r++) {
        const o = r * cols;
        const score = data[o + 4]!;
        if (score < (post.scoreThreshold ?? 0.3)) continue;
        const box: Rect = [(data[o]! * f.width) / width, (data[o + 1]! * f.height) / height, (data[o + 2]! * f.width) / width, (data[o + 3]! * f.height) / height];
        cand.push({ box, quad: rectQuad(box), score });
      }
      return nms(cand, post.iouThreshold ?? 0.5);
    }
    throw new InputError(`stage '${this.spec.id}': post-processing '${post.op}' does not apply to a detector`);
  }

  reset(): void {
    // a run still going belongs to the last video: its result is dropped when it ends
    this.pending = undefined;
    this.lastStart = -Infinity;
  }

  async close(): Promise<void> {
    await this.running;
    this.pending = undefined;
    return this.session.release();
  }
}

/** Greedy non-maximum suppression: highest score first, drop boxes overlapping a kept one above `iou`. */
export function nms<T extends { box: Rect; score: number }>(boxes: readonly T[], iou: number): T[] {
  const sorted = [...boxes].sort((a, b) => b.score - a.score);
  const kept: T[] = [];
  for (const b of sorted) if (kept.every((k) => boxIou(k.box, b.box) <= iou)) kept.push(b);
  return kept;
}

class TrackerStage implements StageRunner {
  tracker: Tracker;

  constructor(readonly spec: TrackerStageSpec) {
    this.tracker = new Tracker(spec.options);
  }

  async run(input: Frame | StageOutput, ctx: FrameContext): Promise<StageOutput> {
    const dets = input as StageOutput;
    const tracks = timed(ctx, this.spec.id, 'track', dets?.length, () => this.tracker.step(dets as Region[] | undefined, dets?.[0]?.lag ?? 0));
    return tracks.map((t) => ({ box: t.box, quad: t.quad, score: t.score, track: t, ...(t.text !== undefined ? { text: t.text, textScore: t.textScore } : {}), ...(t.flipped ? { flipped: true } : {}) }));
  }

  reset(): void {
    this.tracker = new Tracker(this.spec.options);
  }

  async close(): Promise<void> {}
}

/** Frames a re-read may wait for a frame with room before it is processed regardless of the budget. */
const MAX_WAIT = 3;

/** A model on crops of regions: the angle classifier (flips) or the CTC recogniser (texts). */
class CropStage implements StageRunner {
  private alphabet?: string[];
  /** Crop stages after this one, whose cost for the same regions the scheduler reserves when deferring. */
  downstream: CropStage[] = [];
  /** Frames a region without its right text (never read, or read while cut and whole now) may wait for room (the spec's schedule.newWait). */
  newWait = 0;
  /** The frame each track without its right text here was first due on (for newWait). */
  private readonly firstDue = new Map<number, number>();

  constructor(
    readonly spec: ModelStageSpec,
    /** One session per lane (`sessions` in the spec). */
    private readonly sessions: Session[],
    private readonly keysFile?: string,
  ) {}

  static async create(p: PipelineSpec, st: ModelStageSpec): Promise<CropStage> {
    const keys = st.post.op === 'ctc' ? resolveSpecPath(p, st.post.keys) : undefined;
    const sessions: Session[] = [];
    try {
      for (let i = 0; i < (st.sessions ?? 1); i++) sessions.push(await openSession(p, st));
    } catch (e) {
      for (const s of sessions) await s.release();
      throw e;
    }
    return new CropStage(st, sessions, keys);
  }

  private get policy() {
    return this.spec.policy ?? 'every-frame';
  }

  /** Whether a region needs this stage now, and how urgently (lower first): see `cropDue`. */
  private due(it: Item, frame: number, frameWidth: number, frameHeight: number): number | undefined {
    return cropDue(it, { policy: this.policy, recognizes: this.spec.post.op === 'ctc', changeThreshold: this.spec.changeThreshold ?? 0.15, ...(this.spec.refresh !== undefined ? { refresh: this.spec.refresh } : {}), ...(this.spec.confirm !== undefined ? { confirm: this.spec.confirm } : {}) }, frame, frameWidth, frameHeight);
  }

  async run(input: Frame | StageOutput, ctx: FrameContext): Promise<StageOutput> {
    const items = (input as StageOutput) ?? [];
    const dueList = items
      .map((it) => ({ it, p: this.due(it, ctx.index, ctx.frame.width, ctx.frame.height) }))
      .filter((d): d is { it: Item; p: number } => d.p !== undefined)
      .map((d) => {
        if (d.it.track && d.it.track.dueSince === undefined) d.it.track.dueSince = ctx.index - (d.p === 0 ? d.it.track.age : 0);
        return d;
      })
      .sort((a, b) => (a.it.track?.dueSince ?? 0) - (b.it.track?.dueSince ?? 0) || a.p - b.p || (a.it.track?.id ?? 0) - (b.it.track?.id ?? 0));
    // every-frame work is the pipeline's definition and always runs
    const fit = (order: readonly { it: Item }[], share?: number, margin = true) => ctx.scheduler.fit(order.length, (k) => this.cost(order.slice(0, k).map((d) => d.it), ctx.scheduler, margin), share);
    const waited = (it: Item) => {
      const id = it.track!.id;
      if (!this.firstDue.has(id)) this.firstDue.set(id, ctx.index);
      return ctx.index - this.firstDue.get(id)!;
    };
    // second opinions and refreshes fill the frame budget after all other work, as far as the same plan fits
    // them (\`fit\`, with its margin). Session 7 planned them to half of it (a hand-made spec's median went from 24
    // to 40 ms at a 66 ms budget, and more frames went over), under an older scheduler; with the planned quantile,
    // half starved them: on tmp/vsearch (600 frames, budget 66 ms, detector every 3 frames) 86 of 6,475 due were
    // taken, a read cut short at the frame edge ("Paris more Londo") stood 32 frames after the text was whole, F1
    // 95.69 against 97.45 without a budget; with the whole budget 97.00, misses 2/600 (6 with half; one run each).
    // Two later runs of that spec with the whole budget (and the ordering and voting of pickWork, recordRead) gave
    // 95.59 and 95.92, misses 7 and 10: one track whose misread stands for tens of frames moves F1 by a point.
    const work = (this.policy === 'every-frame' ? dueList : pickWork(dueList.map((d) => ({ ...d, dueSince: d.it.track?.dueSince, ...(d.p <= 1 && d.it.track ? { waited: waited(d.it) } : {}) })), ctx.index, fit, this.newWait, fit, ctx.detected === true, (order) => fit(order, 1, false))).map((d) => d.it);
    if (ctx.plans && this.policy !== 'every-frame') {
      const kind = (d: { it: Item; p: number }) => (d.p > 2 ? 'spare' : d.p <= 1 && !(d.it.track && (waited(d.it) < this.newWait)) ? 'mandatory' : 'deferrable');
      const count = (list: { it: Item; p: number }[]) => {
        const c = { mandatory: 0, deferrable: 0, spare: 0 };
        for (const d of list) c[kind(d)]++;
        return c;
      };
      const est = this.estimate(work, ctx.scheduler, true);
      const planned = this.cost(work, ctx.scheduler);
      ctx.plans.push({ stage: this.spec.id, elapsedMs: ctx.scheduler.elapsed(), due: count(dueList), taken: count(dueList.filter((d) => work.includes(d.it))), ...(est !== undefined ? { estimateMs: est } : {}), ...(planned !== undefined ? { plannedMs: planned } : {}) });
    }
    for (const it of work) if (it.track) this.firstDue.delete(it.track.id);
    if (work.length) {
      // the per-call estimate of this work (before it runs and teaches the per-call costs), against its wall time
      const est = this.estimate(work, ctx.scheduler);
      const started = performance.now();
      await this.process(work, ctx);
      if (est !== undefined) ctx.scheduler.observePlan(this.spec.id, est, performance.now() - started);
    }
    if (this.spec.post.op === 'ctc') {
      // without tracks, a region has a text only when recognised in this frame
      return items
        .filter((it) => it.track || work.includes(it))
        .map((it) => (it.track ? { ...it, text: it.track.text, textScore: it.track.textScore } : it))
        .filter((it) => it.text !== undefined && it.text !== '');
    }
    return items.map((it) => (it.track ? { ...it, flipped: it.track.flipped ?? false } : it));
  }

  /** A crop's width at the model's input height (its aspect ratio kept; a fixed width when the spec sets one). */
  private widthOf(it: Item): number {
    const pre = this.spec.pre as Extract<ModelStageSpec['pre'], { op: 'crop' }>;
    const s = cropSize(it.quad);
    const ratio = s.height >= 1.5 * s.width ? s.height / Math.max(1, s.width) : s.width / Math.max(1, s.height);
    return pre.width ?? Math.min(pre.maxWidth ?? 3200, Math.max(1, Math.ceil(pre.height * ratio)));
  }

  /** The input width of a call on these crops: the widest, padded to the spec's minimum and multiple. */
  private strideOf(chunk: readonly Item[]): number {
    const pre = this.spec.pre as Extract<ModelStageSpec['pre'], { op: 'crop' }>;
    const m = pre.widthMultiple ?? 1;
    return pre.width ?? Math.ceil(Math.max(pre.minWidth ?? 1, ...chunk.map((it) => this.widthOf(it))) / m) * m;
  }

  /**
   * How these crops are run: with several sessions (lanes) they are shared out, widest first, to the lane with
   * the least width so far, and the lanes' calls run side by side on ORT's threads; within a lane, similar
   * widths go together (PaddleOCR sorts crops by aspect ratio before batching) in calls of at most `batch`.
   */
  private plan(work: readonly Item[]): Item[][][] {
    const batch = this.spec.batch ?? 6;
    const lanes: Item[][] = this.sessions.map(() => []);
    const load = this.sessions.map(() => 0);
    for (const it of [...work].sort((a, b) => this.widthOf(b) - this.widthOf(a))) {
      const l = load.indexOf(Math.min(...load));
      lanes[l]!.push(it);
      load[l]! += this.widthOf(it);
    }
    return lanes.map((lane) => {
      const sorted = lane.sort((a, b) => this.widthOf(a) - this.widthOf(b));
      const calls: Item[][] = [];
      for (let i = 0; i < sorted.length; i += batch) calls.push(sorted.slice(i, i + batch));
      return calls;
    });
  }

  /** The size the scheduler counts for a call: its input's elements per channel (crops × height × width). */
  private sizeOf(chunk: readonly Item[]): number {
    return chunk.length * (this.spec.pre as Extract<ModelStageSpec['pre'], { op: 'crop' }>).height * this.strideOf(chunk);
  }

  /**
   * The per-call estimate (ms) of running these crops here: the slowest lane's calls (`downstream`: plus the crop
   * stages after this one, each its slowest lane); undefined before this stage's cost is known.
   */
  estimate(items: readonly Item[], scheduler: FrameScheduler, downstream = false): number | undefined {
    if (!items.length) return 0;
    let worst = 0;
    for (const lane of this.plan(items)) {
      const t = scheduler.estimate(this.spec.id, lane.length, lane.reduce((a, c) => a + this.sizeOf(c), 0));
      if (t === undefined) return undefined;
      worst = Math.max(worst, t);
    }
    if (downstream) for (const d of this.downstream) worst += d.estimate(items, scheduler) ?? 0;
    return worst;
  }

  /**
   * The cost (ms) to plan with for these crops here and in the crop stages after this one: each stage's estimate
   * as the scheduler plans it (`FrameScheduler.planned`: calibrated against what such work took, plus a margin
   * of its spread unless `margin` is false); undefined before this stage's cost is known.
   */
  cost(items: readonly Item[], scheduler: FrameScheduler, margin = true): number | undefined {
    let total = scheduler.planned(this.spec.id, this.estimate(items, scheduler), margin);
    if (total === undefined) return undefined;
    for (const d of this.downstream) total += d.cost(items, scheduler, margin) ?? 0;
    return total;
  }

  private async process(work: Item[], ctx: FrameContext): Promise<void> {
    await Promise.all(this.plan(work).map(async (calls, l) => {
      for (const chunk of calls) await this.runChunk(chunk, this.sessions[l]!, ctx);
    }));
  }

  private async runChunk(chunk: Item[], session: Session, ctx: FrameContext): Promise<void> {
    const pre = this.spec.pre as Extract<ModelStageSpec['pre'], { op: 'crop' }>;
    const h = pre.height;
    const started = performance.now();
    const widths = chunk.map((it) => this.widthOf(it));
    const stride = this.strideOf(chunk);
    const x = timed(ctx, this.spec.id, 'pre', chunk.length, () => {
      const data = new Float32Array(chunk.length * 3 * h * stride);
      chunk.forEach((it, k) => {
        const flip = this.spec.post.op === 'ctc' ? (it.track?.flipped ?? it.flipped ?? false) : false;
        cropToTensor(ctx.frame, it.quad, Math.min(widths[k]!, stride), h, stride, pre.normalize ?? 'symmetric', pre.color ?? 'bgr', flip, data, k * 3 * h * stride);
      });
      return f32Tensor(data, [chunk.length, 3, h, stride]);
    });
    noteShape(ctx, this.spec.id, x.dims);
    ctx.capture?.(this.spec.id, x);
    const out = await timedAsync(ctx, this.spec.id, 'model', chunk.length, () => session.run({ [session.inputNames[0]!]: x }));
    const y = Object.values(out)[0]!;
    timed(ctx, this.spec.id, 'post', chunk.length, () => this.post(y, chunk, ctx.index, ctx.frame.width, ctx.frame.height));
    ctx.scheduler.observe(this.spec.id, chunk.length * h * stride, performance.now() - started);
  }

  private post(y: Tensor, chunk: Item[], frame: number, frameWidth: number, frameHeight: number): void {
    const post = this.spec.post;
    const data = y.toFloat32();
    if (post.op === 'angle') {
      const classes = y.dims[1]!;
      chunk.forEach((it, k) => {
        const p180 = data[k * classes + 1]!;
        const flipped = p180 > data[k * classes]! && p180 >= (post.threshold ?? 0.9);
        if (it.track) {
          it.track.flipped = flipped;
          it.track.classifiedCut = touchesEdge(it.box, frameWidth, frameHeight);
        }
        else it.flipped = flipped;
      });
      return;
    }
    if (post.op !== 'ctc') throw new InputError(`stage '${this.spec.id}': post-processing '${post.op}' does not apply to crops`);
    const [, steps, classes] = y.dims as [number, number, number];
    this.alphabet ??= ctcAlphabet(this.keysFile!, classes);
    chunk.forEach((it, k) => {
      const { text, score } = decodeLine(data, steps, classes, this.alphabet!, k * steps * classes);
      const kept = score >= (post.dropScore ?? 0.5) ? text : '';
      if (it.track) {
        recordRead(it.track, { text: kept, score }, it.box, frame, touchesEdge(it.box, frameWidth, frameHeight), this.spec.changeThreshold ?? 0.15, this.policy === 'on-change');
        if (score < (post.dropScore ?? 0.5)) doubtFlip(it.track);
      }
      it.text = kept;
      it.textScore = score;
    });
  }

  reset(): void {
    this.firstDue.clear();
  }

  async close(): Promise<void> {
    for (const x of this.sessions) await x.release();
  }
}

/**
 * Whether a region needs a crop stage now, and how urgently (lower first; undefined: not now). 0: never run
 * here; 1: run while cut by the frame edge and whole now (its text, or angle, was judged on part of it);
 * 1 < p ≤ 2: a recogniser's re-read of a box whose width or height changed by `changeThreshold` (on-change),
 * the longest-waiting first; 2 < p ≤ 3 (on-change; only when the frame has room, see `pickWork`): with `confirm`,
 * a re-read of a read taken while cut, its box still at the edge, or a second opinion, `confirm` frames after the
 * read; with `refresh`, a re-read of a track last read `refresh` or more frames ago. Untracked regions, and every-frame stages, run
 * every frame.
 */
export function cropDue(it: Item, st: { policy: string; recognizes: boolean; changeThreshold: number; refresh?: number; confirm?: number }, frame: number, frameWidth: number, frameHeight: number): number | undefined {
  const t = it.track;
  if (!t || st.policy === 'every-frame') return 0;
  const last = st.recognizes ? t.recognizedAt : t.flipped === undefined ? undefined : 0;
  if (last === undefined) return 0; // never seen: first
  if ((st.recognizes ? t.recognizedCut : t.classifiedCut) && !touchesEdge(it.box, frameWidth, frameHeight)) return 1;
  if (st.policy === 'once' || !st.recognizes) return undefined;
  const age = frame - t.recognizedAt!;
  if (boxChange(t.recognizedBox!, it.box) >= st.changeThreshold) return 1 + 1 / (1 + age);
  // spare work: a read taken while cut by the frame edge, its box still there (2 < p ≤ 2.25: the text may be whole
  // now, though its box is within the edge margin), before a second opinion (2.25 < p ≤ 2.5), before a refresh
  // (2.5 < p ≤ 3), see `pickWork`. A cut read is never confirmed (recordRead), so it is due every `confirm` frames
  if (st.confirm !== undefined && t.recognizedCut && age >= st.confirm) return 2 + 0.25 / (1 + age);
  if (st.confirm !== undefined && (t.reads ?? 1) < 2 && age >= st.confirm) return 2.25 + 0.25 / (1 + age);
  if (st.refresh !== undefined && age >= st.refresh) return 2.5 + 0.5 / (1 + age);
  return undefined;
}

/** The relative change of a box's width or height (the larger). */
const boxChange = (b: Rect, a: Rect) => {
  const [w0, h0] = [b[2] - b[0], b[3] - b[1]];
  const [w1, h1] = [a[2] - a[0], a[3] - a[1]];
  return Math.max(Math.abs(w1 - w0) / Math.max(1, w0), Math.abs(h1 - h0) / Math.max(1, h0));
};

/**
 * After a read of a track's crop below the drop score: if the angle classifier had found the track upside down
 * (and no flip of it was doubted before), the flip is undone and the track is left as never read, so the
 * recogniser reads it the right way up next (as a first read). The classifier judges a track once, and a wrong
 * flip then stood for the track's life: issue 14's diagnosis found a text judged upside down on its first crop
 * (p 0.976), read as "oo pe", "", "r", … on every later read, 227 frames without its text (3.4% of the video's
 * scored texts). Once per track: a text that reads no better either way is left as it is.
 */
export function doubtFlip(t: Pick<Track, 'flipped' | 'flipDoubted' | 'text' | 'textScore' | 'recognizedBox' | 'recognizedAt' | 'recognizedCut' | 'reads' | 'votes' | 'dueSince'>): boolean {
  if (!t.flipped || t.flipDoubted) return false;
  t.flipped = false;
  t.flipDoubted = true;
  for (const k of ['text', 'textScore', 'recognizedBox', 'recognizedAt', 'recognizedCut', 'reads', 'votes', 'dueSince'] as const) delete t[k];
  return true;
}

/**
 * Records a recogniser's read of a track (`cut`: its box touched the frame edge). With `bestOf` (on-change
 * recognisers, whose re-reads of an unchanged box are confirm or refresh reads), a second opinion on the box that
 * stands — not the first read, not a changed box, not a cut read now whole — keeps the text read most often of
 * that box, and of texts read as often the better-scored (the CTC score: mean probability of the kept
 * characters), except that a read containing the other one whole (the other truncated by a box that lagged the
 * text) stands whatever the counts, as does the read with more spaces of two that differ only in spaces; any other
 * read replaces the text (every-frame recognisers always: the text is this frame's read).
 */
export function recordRead(t: Pick<Track, 'text' | 'textScore' | 'recognizedBox' | 'recognizedAt' | 'recognizedCut' | 'reads' | 'votes' | 'dueSince'>, read: { text: string; score: number }, box: Rect, frame: number, cut: boolean, changeThreshold: number, bestOf: boolean): void {
  const second = bestOf && t.recognizedAt !== undefined && t.recognizedBox !== undefined && !t.recognizedCut && !cut && boxChange(t.recognizedBox, box) < changeThreshold;
  t.recognizedAt = frame;
  t.dueSince = undefined;
  t.reads = second ? (t.reads ?? 1) + 1 : 1;
  t.votes = second ? { ...(t.votes ?? (t.text !== undefined ? { [t.text]: 1 } : {})) } : {};
  t.votes[read.text] = (t.votes[read.text] ?? 0) + 1;
  if (second) {
    // a read that holds the other one whole is the more complete read of the box (the other one was cut short
    // by a box that lagged the text): it stands, whatever the scores — "Park green Bosto" (a higher score)
    // stood 17–25 frames over "Park green Boston" on tmp/vsearch; otherwise the text read more often stands, of
    // texts read as often the better-scored: one misread with a high score ("Park areen Boston", 0.99) stood 91
    // frames over later reads of "Park green Boston" on tmp/vsearch under a frame budget, when the best score won
    const old = t.text ?? '';
    const votes = t.votes;
    const wins = () => votes[read.text]! > (votes[old] ?? 1) || (votes[read.text] === (votes[old] ?? 1) && read.score > (t.textScore ?? -Infinity));
    const truncates = (a: string, b: string) => a !== '' && b.length > a.length && b.includes(a);
    if (truncates(read.text, old)) return;
    // the same characters with a space more (or fewer): the read with more spaces stands, whatever the scores.
    // PaddleOCR's recogniser drops the space between close words and does not put one in where there is none: on
    // tmp/vsearch the baseline (every text read on every frame) read 84 texts with a space dropped and none with
    // one added; a read policy that kept the better-scored read held "orMarch" over "or March" for 50 frames
    const squeezed = (s: string) => s.replace(/\s+/g, '');
    if (read.text !== old && squeezed(read.text) === squeezed(old)) {
      const spaces = (s: string) => s.length - squeezed(s).length;
      if (spaces(read.text) < spaces(old) || (spaces(read.text) === spaces(old) && !wins())) return;
    } else if (!truncates(old, read.text) && !wins()) return;
  }
  t.text = read.text;
  t.textScore = read.score;
  t.recognizedBox = [...box];
  t.recognizedCut = cut;
}

/**
 * Which due regions a crop stage on tracks runs this frame (`due` in waiting order; `p` as `CropStage.due`
 * gives it; `fit(order)`: how many of `order`, taken from its start, the scheduler fits in the frame). A region
 * never read (p 0), or read while cut by the frame edge and whole now (p 1), has no right text yet, and goes
 * before any re-read: with `newWait` > 0, one that has `waited` fewer frames than that is taken only when there
 * is room (a text read while cut mostly becomes whole on a detector frame, which has the least room); after that
 * it runs now — but of several such, only as many as fit (in waiting order, each that fits beside those taken,
 * so a text too wide for the room lets narrower ones by), and at least the longest-waiting one, budget or not,
 * unless this is a `detectorFrame` (the detector has taken its part of the frame; the next frame has none). So
 * a burst of new texts (the video's first frame: ten at once, 200 ms of reads on one frame in issue 14's
 * diagnosis) drains over the next frames instead of overrunning one, and no text waits for ever. (Fitting them
 * on their mean cost instead, as overdue re-reads are, admitted three new texts on a frame that then took
 * 68–85 ms, 3 of session 8's spec's 4 misses on tmp/video300.) Regions without a track (`waited` undefined) have
 * no later frame: they run now, budget or not. While a region without its text waits, no re-read runs (it would
 * take the room first). A re-read of a region whose box changed (zoom; 1 < p ≤ 2) waits for a frame with room — but once one has waited MAX_WAIT frames, one runs per frame
 * as long as `fitOverdue` fits it (the stage passes its mean cost against the whole budget, no margin: forcing
 * it regardless put frames already late from their detector and first reads over the budget, 5 of 21 misses in
 * issue 14's diagnosis; default: always) and it is not a `detectorFrame` (forced re-reads that fit on their mean
 * after a 38–42 ms detector ran 67–73 ms), so a burst of re-reads (every box grew at once) drains without
 * becoming a burst again. A refresh
 * (p > 2) runs only once every other due region is taken, and only as far as `fitSpare` (the same, planned to
 * a smaller part of the budget; default `fit`) fits; it is never forced, and never on a `detectorFrame` (the
 * frame where the detector's boxes arrive already carries the detector and the reads of the texts it found or
 * changed; a second opinion or a refresh waits for the next frame, with or without a budget — with `confirm`
 * equal to the detector's interval, every second opinion of a read made on a detector frame fell on the next
 * detector frame).
 */
export function pickWork<T extends { p: number; dueSince?: number; waited?: number }>(due: readonly T[], index: number, fit: (order: readonly T[]) => number, newWait = 0, fitSpare = fit, detectorFrame = false, fitOverdue: (order: readonly T[]) => number = (o) => o.length): T[] {
  const canWait = (d: T) => d.p <= 1 && (d.waited ?? 0) < newWait;
  const first = due.filter((d) => d.p <= 1 && !canWait(d));
  // past newWait: untracked ones run now; tracked ones in waiting order, each that fits beside those taken (one
  // too wide for the room lets narrower ones by), and at least the longest-waiting one
  const firstTaken = first.filter((d) => d.waited === undefined);
  const tracked = first.filter((d) => d.waited !== undefined);
  for (const d of tracked) if (fit([...firstTaken, d]) > firstTaken.length) firstTaken.push(d);
  if (tracked.length && !detectorFrame && !tracked.some((d) => firstTaken.includes(d))) firstTaken.push(tracked[0]!);
  const mandatory = first.filter((d) => firstTaken.includes(d));
  if (mandatory.length < first.length) return mandatory;
  const deferrable = [...due.filter(canWait), ...due.filter((d) => d.p > 1 && d.p <= 2)];
  // a second opinion checks a read nothing has checked yet: it goes before the refreshes of reads made twice; a
  // read made while cut by the frame edge goes first (on tmp/vsearch under a 66 ms budget, reads such as "12/3/202"
  // and "24/6/201" stood 7 frames after the text was whole, its box still within the edge margin, while the spare
  // room went to second opinions due before them)
  const band = (lo: number, hi: number) => due.filter((d) => d.p > lo && d.p <= hi);
  const refresh = [...band(2, 2.25), ...band(2.25, 2.5), ...band(2.5, 3)];
  const overdue = !detectorFrame && due.some((d) => d.p > 1 && d.p <= 2 && d.dueSince !== undefined && index - d.dueSince >= MAX_WAIT) && deferrable.length > 0 && fitOverdue([...mandatory, deferrable[0]!]) > mandatory.length ? 1 : 0;
  const extra = Math.max(overdue, fit([...mandatory, ...deferrable]) - mandatory.length);
  const taken = [...mandatory, ...deferrable.slice(0, extra)];
  if (extra < deferrable.length || !refresh.length || detectorFrame) return taken;
  return [...taken, ...refresh.slice(0, Math.max(0, fitSpare([...taken, ...refresh]) - taken.length))];
}

/**
 * Whether a box reaches within `edgeMargin` of the frame's edge (the text may continue outside). The detector's
 * box of a text cut by the edge stops short of it — on tmp/vsearch (render-video --seed 1, the baseline's boxes
 * matched to texts the truth marks cut) by 2 px at the median, 5 px at p90, 7–8 px at p95 — and a read of such a
 * box taken as whole ("18/7/200" 2.4 px from the edge) stood for the track's life: 49 frames wrong.
 */
export const touchesEdge = (b: Rect, w: number, h: number) => {
  const m = edgeMargin(w, h);
  return b[0] <= m || b[1] <= m || b[2] >= w - m || b[3] >= h - m;
};

/** 1.25% of the frame's longer side (8 px at 640), at least 2 px: the p95 above, at the detector's scale. */
export const edgeMargin = (w: number, h: number) => Math.max(2, 0.0125 * Math.max(w, h));

/**
 * A text line's read: `ctcDecode` without spaces at either end — those are the crop's margin read as a space, never
 * part of the line (an on-change read "Open name " stood for 170 frames of tmp/video300 whose text is "Open name").
 * The score stays PaddleOCR's, over every kept character.
 */
export function decodeLine(probs: Float32Array, steps: number, classes: number, alphabet: readonly string[], offset = 0): { text: string; score: number } {
  const d = ctcDecode(probs, steps, classes, alphabet, offset);
  return { text: d.text.trim(), score: d.score };
}

/** Greedy CTC decoding with PaddleOCR's score: the mean of the kept characters' probabilities. */
export function ctcDecode(probs: Float32Array, steps: number, classes: number, alphabet: readonly string[], offset = 0): { text: string; score: number } {
  let prev = -1;
  let text = '';
  let sum = 0;
  let n = 0;
  for (let t = 0; t < steps; t++) {
    const base = offset + t * classes;
    let best = 0;
    for (let c = 1; c < classes; c++) if (probs[base + c]! > probs[base + best]!) best = c;
    if (best !== prev && best !== 0) {
      text += alphabet[best] ?? '';
      sum += probs[base + best]!;
      n++;
    }
    prev = best;
  }
  return { text, score: n ? sum / n : 0 };
}

export async function createStage(p: PipelineSpec, st: StageSpec): Promise<StageRunner> {
  if (st.type === 'tracker') return new TrackerStage(st);
  if (st.pre.op === 'resize') return DetectorStage.create(p, st);
  return CropStage.create(p, st);
}

export { DetectorStage, CropStage, TrackerStage, quadBounds };
