import type { Tensor } from '../ir/tensor.js';
import type { Rect } from './geometry.js';
import type { Frame } from './image.js';
import { FrameScheduler } from './scheduler.js';
import { resolveOrder, outputStage, type PipelineSpec, type StageSpec } from './spec.js';
import { CropStage, DetectorStage, createStage, type FrameContext, type PlanRecord, type Span, type StageOutput, type StageRunner } from './stages.js';

/** What the pipeline reports for one region of one frame. */
export interface OutputItem {
  box: Rect;
  text: string;
  score: number;
  trackId?: number;
}

export interface FrameResult {
  index: number;
  /** Frame start to result (ms). */
  latencyMs: number;
  spans: Span[];
  items: OutputItem[];
  /** What each crop stage on tracks planned (only with `PipelineOptions.tracePlans`). */
  plans?: PlanRecord[];
}

export interface PipelineOptions {
  /** Overrides the spec's schedule.budgetMs. */
  budgetMs?: number;
  /** Record model input shapes per stage (for optimizing each model at the shapes it really sees). */
  recordShapes?: boolean;
  /** Keep up to this many model inputs per stage (calibration data for quantization). */
  captureInputs?: number;
  /** Record each crop stage's plan per frame in `FrameResult.plans` (diagnosis: estimate vs actual). */
  tracePlans?: boolean;
}

/**
 * A pipeline ready to run: sessions open, stages in dependency order. Feed it frames in order with
 * `process`; it keeps the per-video state (tracks) until `reset`.
 */
export class Pipeline {
  readonly scheduler: FrameScheduler;
  readonly shapes = new Map<string, Map<string, number>>();
  readonly captured = new Map<string, Tensor[]>();
  private index = 0;

  private constructor(
    readonly spec: PipelineSpec,
    private readonly order: StageSpec[],
    private readonly runners: Map<string, StageRunner>,
    private readonly opts: PipelineOptions,
  ) {
    this.scheduler = new FrameScheduler(opts.budgetMs ?? spec.schedule?.budgetMs);
  }

  static async create(spec: PipelineSpec, opts: PipelineOptions = {}): Promise<Pipeline> {
    const { order } = resolveOrder(spec);
    const runners = new Map<string, StageRunner>();
    try {
      for (const st of order) runners.set(st.id, await createStage(spec, st));
    } catch (e) {
      for (const r of runners.values()) await r.close();
      throw e;
    }
    // a deferring crop stage reserves room for the crop stages after it on the same regions
    const crops = order.filter((s) => runners.get(s.id) instanceof CropStage);
    crops.forEach((s, i) => {
      (runners.get(s.id) as CropStage).newWait = spec.schedule?.newWait ?? 0;
      (runners.get(s.id) as CropStage).downstream = crops.slice(i + 1).map((d) => runners.get(d.id) as CropStage);
    });
    return new Pipeline(spec, order, runners, opts);
  }

  /**
   * Frames to run before timing: enough for every stage to have run 3 times (a detector every k frames: 3k),
   * so the JIT has compiled every stage's pre- and post-processing and ORT has planned its sessions.
   */
  get defaultWarmup(): number {
    const every = this.order.map((s) => (s.type === 'model' ? (s.interval ?? 1) : 1));
    return 3 * Math.max(1, ...every);
  }

  /** Runs one frame through every stage. */
  async process(frame: Frame): Promise<FrameResult> {
    const values = new Map<string, Frame | StageOutput>([['frame', frame]]);
    const ctx: FrameContext = {
      index: this.index,
      frame,
      t0: performance.now(),
      spans: [],
      scheduler: this.scheduler,
      ...(this.opts.recordShapes ? { shapes: this.shapes } : {}),
      ...(this.opts.tracePlans ? { plans: [] } : {}),
      ...(this.opts.captureInputs ? { capture: (stage: string, t: Tensor) => this.capture(stage, t) } : {}),
    };
    this.scheduler.startFrame();
    for (const st of this.order) values.set(st.id, await this.runners.get(st.id)!.run(values.get(st.input), ctx));
    this.scheduler.endFrame();
    const out = (values.get(outputStage(this.spec)) as StageOutput) ?? [];
    const latencyMs = performance.now() - ctx.t0;
    this.index++;
    return {
      index: ctx.index,
      latencyMs,
      spans: ctx.spans,
      items: out.map((it) => ({ box: it.box, text: it.text ?? '', score: it.textScore ?? it.score, ...(it.track ? { trackId: it.track.id } : {}) })),
      ...(ctx.plans ? { plans: ctx.plans } : {}),
    };
  }

  private capture(stage: string, t: Tensor): void {
    const list = this.captured.get(stage) ?? [];
    if (list.length >= (this.opts.captureInputs ?? 0)) return;
    list.push(t);
    this.captured.set(stage, list);
  }

  /** Waits for work running beside the frames (a detection) to finish; none of it is dropped. */
  async settle(): Promise<void> {
    for (const r of this.runners.values()) if (r instanceof DetectorStage) await r.settle();
  }

  /** Starts a new video: tracks forgotten, frame counter at 0 (learnt stage costs kept). */
  reset(): void {
    this.index = 0;
    for (const r of this.runners.values()) r.reset();
  }

  async close(): Promise<void> {
    for (const r of this.runners.values()) await r.close();
  }
}

export interface RunResult {
  frames: FrameResult[];
  wallMs: number;
}

/**
 * Runs a pipeline over decoded frames: `warmup` frames first (default `Pipeline.defaultWarmup`: sessions planned,
 * code compiled, stage costs learnt), then the pipeline is reset, the `leadIn` frames (those before `frames` in
 * the video, if any) run untimed, and every frame is timed. Frames come back to back, or with `paceMs` as a camera gives
 * them: a frame starts no sooner than `paceMs` after the one before it started (a pipeline that keeps up
 * waits for its frames; one that does not takes them back to back, and its latency is its processing time).
 * Pacing matters to work running beside the frames: a detection takes as many frames as it really would.
 */
export async function runFrames(p: Pipeline, frames: readonly Frame[], opts: { warmup?: number; paceMs?: number; leadIn?: readonly Frame[]; onFrame?: (r: FrameResult) => void } = {}): Promise<RunResult> {
  const warm = Math.min(opts.warmup ?? p.defaultWarmup, frames.length);
  for (let i = 0; i < warm; i++) await p.process(frames[i]!);
  await p.settle();
  p.reset();
  let last = -Infinity;
  const paced = async (f: Frame) => {
    if (opts.paceMs) {
      const wait = last + opts.paceMs - performance.now();
      if (wait > 0) await sleep(wait);
      last = performance.now();
    }
    return p.process(f);
  };
  // lead-in: the frames before these in the video, run as live but not returned, so the first timed frame
  // meets the tracks and the scheduler's state a live run has there (not every text new at once)
  for (const f of opts.leadIn ?? []) await paced(f);
  const out: FrameResult[] = [];
  const t0 = performance.now();
  for (const f of frames) {
    const r = await paced(f);
    out.push(r);
    opts.onFrame?.(r);
  }
  const wallMs = performance.now() - t0;
  await p.settle();
  return { frames: out, wallMs };
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
