import { InputError } from '../errors.js';
import type { FrameTruth } from './frames.js';
import { decodeFrames, listFrames } from './frames.js';
import type { Frame } from './image.js';
import { latencyReport, scoreAccuracy, type AccuracyReport, type LatencyReport } from './metrics.js';
import { Pipeline, runFrames, type FrameResult } from './runner.js';
import type { PipelineSpec } from './spec.js';

/** Frames decoded in memory with their truth (when the folder has truth.jsonl). */
export interface FrameSet {
  dir: string;
  frames: Frame[];
  truth?: FrameTruth[];
}

export async function loadFrameSet(dir: string, limit?: number): Promise<FrameSet> {
  const { files, truth } = listFrames(dir);
  const n = Math.min(files.length, limit ?? files.length);
  if (n < 1) throw new InputError('--limit must leave at least one frame');
  return { dir, frames: await decodeFrames(files, n), ...(truth ? { truth: truth.slice(0, n) } : {}) };
}

export interface PipelineRun {
  spec: PipelineSpec;
  latency: LatencyReport;
  accuracy?: AccuracyReport;
  frames: FrameResult[];
  /** Model input shapes each stage saw, with counts. */
  shapes: Record<string, Record<string, number>>;
}

/** Runs a pipeline on a frame set and scores it: latency per frame and per stage, and accuracy against the truth. */
export async function runPipeline(spec: PipelineSpec, set: FrameSet, opts: { budgetMs?: number; warmup?: number; paceMs?: number; onFrame?: (r: FrameResult) => void } = {}): Promise<PipelineRun> {
  // the budget counts misses; the scheduler plans against the spec's own schedule.budgetMs (a decision of the spec)
  const p = await Pipeline.create(spec, { recordShapes: true });
  try {
    const r = await runFrames(p, set.frames, { ...(opts.warmup !== undefined ? { warmup: opts.warmup } : {}), ...(opts.paceMs !== undefined ? { paceMs: opts.paceMs } : {}), ...(opts.onFrame ? { onFrame: opts.onFrame } : {}) });
    return {
      spec,
      latency: latencyReport(r.frames, r.wallMs, opts.budgetMs ?? spec.schedule?.budgetMs),
      ...(set.truth ? { accuracy: scoreAccuracy(r.frames, set.truth) } : {}),
      frames: r.frames,
      shapes: Object.fromEntries([...p.shapes].map(([k, m]) => [k, Object.fromEntries(m)])),
    };
  } finally {
    await p.close();
  }
}
