import { bootstrap, type Estimate } from '../eval/bootstrap.js';
import { chars, editDistance } from '../eval/ocr.js';
import { summarize, type Summary } from '../util/stats.js';
import type { FrameTruth } from './frames.js';
import { boxIou, coverage } from './geometry.js';
import type { FrameResult, OutputItem } from './runner.js';
import type { Span } from './stages.js';

/** Text-spotting counts of one frame: a hit needs box IoU ≥ 0.5 and the exact text. */
export interface SpotCounts {
  tp: number;
  fp: number;
  fn: number;
}

/** One-to-one matching of predictions to the scored (not ignored) truth at IoU ≥ minIou, best pairs first. */
function matchFrame(pred: readonly OutputItem[], truth: FrameTruth, minIou: number): { pairs: [number, number][]; unmatchedPred: number[] } {
  const cand: [number, number, number][] = [];
  pred.forEach((p, i) => truth.items.forEach((t, j) => {
    if (t.ignore) return;
    const v = boxIou(p.box, t.box);
    if (v >= minIou) cand.push([v, i, j]);
  }));
  cand.sort((a, b) => b[0] - a[0]);
  const usedP = new Set<number>();
  const usedT = new Set<number>();
  const pairs: [number, number][] = [];
  for (const [, i, j] of cand) {
    if (usedP.has(i) || usedT.has(j)) continue;
    usedP.add(i);
    usedT.add(j);
    pairs.push([i, j]);
  }
  return { pairs, unmatchedPred: pred.map((_, i) => i).filter((i) => !usedP.has(i)) };
}

/**
 * Counts for one frame (the ICDAR end-to-end protocol, axis-aligned): boxes matched one to one at IoU ≥
 * 0.5; a matched pair with the exact text is a hit, otherwise the prediction is a false positive and the
 * truth a miss. Unmatched predictions lying mostly on an ignored item (text half out of the frame) count
 * as neither.
 */
export function spotFrame(pred: readonly OutputItem[], truth: FrameTruth, minIou = 0.5): SpotCounts {
  const { pairs, unmatchedPred } = matchFrame(pred, truth, minIou);
  let tp = 0;
  for (const [i, j] of pairs) if (pred[i]!.text === truth.items[j]!.text) tp++;
  const ignored = truth.items.filter((t) => t.ignore);
  const fpUnmatched = unmatchedPred.filter((i) => !ignored.some((t) => coverage(pred[i]!.box, t.box) >= 0.5)).length;
  const scored = truth.items.length - ignored.length;
  return { tp, fp: pairs.length - tp + fpUnmatched, fn: scored - tp };
}

const f1 = (c: SpotCounts) => (2 * c.tp) / Math.max(1, 2 * c.tp + c.fp + c.fn);

/**
 * Consecutive frames are strongly correlated (the same texts, a few pixels apart), so intervals resample
 * blocks of frames, not frames (a moving-block bootstrap): `block` frames per block.
 */
function blocks(n: number, block: number): number[][] {
  const out: number[][] = [];
  for (let s = 0; s < n; s += block) out.push(Array.from({ length: Math.min(block, n - s) }, (_, k) => s + k));
  return out;
}

export function spottingF1(counts: readonly SpotCounts[], block = 10): Estimate {
  const bl = blocks(counts.length, block);
  return bootstrap(bl.length, (idx) => {
    const s: SpotCounts = { tp: 0, fp: 0, fn: 0 };
    for (const b of idx) for (const i of bl[b]!) {
      s.tp += counts[i]!.tp;
      s.fp += counts[i]!.fp;
      s.fn += counts[i]!.fn;
    }
    return f1(s);
  });
}

/** F1(b) − F1(a) over the same frames, blocks resampled jointly (paired). In points (×100). */
export function f1Difference(a: readonly SpotCounts[], b: readonly SpotCounts[], block = 10): Estimate {
  const bl = blocks(a.length, block);
  return bootstrap(bl.length, (idx) => {
    const sa: SpotCounts = { tp: 0, fp: 0, fn: 0 };
    const sb: SpotCounts = { tp: 0, fp: 0, fn: 0 };
    for (const k of idx) for (const i of bl[k]!) {
      for (const [s, c] of [[sa, a[i]!], [sb, b[i]!]] as const) {
        s.tp += c.tp;
        s.fp += c.fp;
        s.fn += c.fn;
      }
    }
    return 100 * (f1(sb) - f1(sa));
  });
}

export interface TrackScore {
  id: number;
  text: string;
  frames: number;
  cer: number;
}

export interface AccuracyReport {
  f1: Estimate;
  precision: number;
  recall: number;
  counts: SpotCounts;
  perFrame: SpotCounts[];
  /** Σ edits / Σ characters over every scored appearance of every text (a missed region counts all its characters). */
  cer: number;
  tracks: TrackScore[];
  /** Ground-truth texts whose matched predicted track id changed from one frame to a later one (CLEAR-MOT). */
  idSwitches: number;
  /** Ground-truth tracks scored. */
  truthTracks: number;
}

/**
 * Text spotting F1 with its interval, CER per ground-truth track, and tracker ID switches. `restarts`: the
 * indices of frames where tracking started afresh (runs of frames scored together); a new id there is no switch.
 */
export function scoreAccuracy(results: readonly FrameResult[], truth: readonly FrameTruth[], restarts: ReadonlySet<number> = new Set()): AccuracyReport {
  const perFrame: SpotCounts[] = [];
  const edits = new Map<number, { text: string; e: number; n: number; frames: number }>();
  const lastId = new Map<number, number>();
  let idSwitches = 0;
  results.forEach((r, k) => {
    const t = truth[k]!;
    if (restarts.has(k)) lastId.clear();
    perFrame.push(spotFrame(r.items, t));
    const { pairs } = matchFrame(r.items, t, 0.5);
    const predOf = new Map(pairs.map(([i, j]) => [j, r.items[i]!]));
    t.items.forEach((g, j) => {
      if (g.ignore) return;
      const p = predOf.get(j);
      const acc = edits.get(g.id) ?? { text: g.text, e: 0, n: 0, frames: 0 };
      acc.e += p ? editDistance(chars(g.text), chars(p.text)) : chars(g.text).length;
      acc.n += chars(g.text).length;
      acc.frames++;
      edits.set(g.id, acc);
      if (p?.trackId !== undefined) {
        const prev = lastId.get(g.id);
        if (prev !== undefined && prev !== p.trackId) idSwitches++;
        lastId.set(g.id, p.trackId);
      }
    });
  });
  const counts = perFrame.reduce((s, c) => ({ tp: s.tp + c.tp, fp: s.fp + c.fp, fn: s.fn + c.fn }), { tp: 0, fp: 0, fn: 0 });
  const tracks = [...edits].map(([id, a]) => ({ id, text: a.text, frames: a.frames, cer: a.e / Math.max(1, a.n) })).sort((a, b) => a.id - b.id);
  const totalE = [...edits.values()].reduce((s, a) => s + a.e, 0);
  const totalN = [...edits.values()].reduce((s, a) => s + a.n, 0);
  return {
    f1: spottingF1(perFrame),
    precision: counts.tp / Math.max(1, counts.tp + counts.fp),
    recall: counts.tp / Math.max(1, counts.tp + counts.fn),
    counts,
    perFrame,
    cer: totalE / Math.max(1, totalN),
    tracks,
    idSwitches,
    truthTracks: edits.size,
  };
}

export interface StageTime {
  stage: string;
  /** ms per frame, over all frames (0 where the stage did not run). */
  mean: number;
  p99: number;
  /** Frames in which it ran. */
  ranIn: number;
  share: number;
}

export interface LatencyReport {
  frames: number;
  latency: Summary;
  budgetMs?: number;
  deadlineMisses?: number;
  missRate?: number;
  /** Frames per second, processing back to back. */
  throughput: number;
  stages: StageTime[];
}

export function latencyReport(results: readonly FrameResult[], wallMs: number, budgetMs?: number): LatencyReport {
  const lat = results.map((r) => r.latencyMs);
  const byStage = new Map<string, number[]>();
  results.forEach((r, k) => {
    for (const s of r.spans) {
      let arr = byStage.get(s.stage);
      if (!arr) byStage.set(s.stage, (arr = new Array<number>(results.length).fill(0)));
      arr[k]! += s.end - s.start;
    }
  });
  const total = lat.reduce((a, b) => a + b, 0);
  const stages = [...byStage].map(([stage, xs]) => {
    const s = summarize(xs);
    return { stage, mean: s.mean, p99: s.p99, ranIn: xs.filter((x) => x > 0).length, share: (s.mean * results.length) / Math.max(1e-9, total) };
  });
  const misses = budgetMs !== undefined ? lat.filter((x) => x > budgetMs).length : undefined;
  return {
    frames: results.length,
    latency: summarize(lat),
    ...(budgetMs !== undefined ? { budgetMs, deadlineMisses: misses!, missRate: misses! / Math.max(1, lat.length) } : {}),
    throughput: (1000 * results.length) / Math.max(1e-9, wallMs),
    stages,
  };
}

/** Per-stage time of one frame (ms), summed over its spans. */
export function stageTimes(spans: readonly Span[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const s of spans) m.set(s.stage, (m.get(s.stage) ?? 0) + s.end - s.start);
  return m;
}
