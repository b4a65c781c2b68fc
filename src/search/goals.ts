import { InputError } from '../errors.js';

/** A metric value with its (bootstrap) confidence interval. */
export interface MetricValue {
  name: string;
  value: number;
  lo?: number;
  hi?: number;
  higherIsBetter: boolean;
  /** 'fraction': 0..1, shown and bounded in percentage points; 'raw': as is. */
  scale: 'fraction' | 'raw';
  /** How it was measured, for the report (e.g. "top-1 agreement with the baseline on 64 random inputs"). */
  note?: string;
}

export interface LatencyStats {
  p50: number;
  p90?: number;
  p99: number;
  mean: number;
  /** Per-run times (ms), for histograms. */
  samples?: number[];
}

export interface Measurement {
  latency: LatencyStats;
  sizeBytes: number;
  metric: MetricValue;
  /** Recipe steps that left the model unchanged (a pass with nothing to do). */
  inertSteps?: string[];
  /** What each step of the recipe reported (by pass id): a prune step's achieved sparsity, a QAT step's training. */
  stepStats?: Record<string, Record<string, number>>;
  /**
   * Speed-up over the baseline timed side by side with it (runs interleaved in one process, median ratio
   * with its 95% interval): the paired figure every decision and the Pareto front use. Absent for the
   * baseline itself and for evaluators that time candidates alone. `baselineP50`: the baseline's p50 in that
   * same paired run (the candidate's is `latency.p50`), so that the two p50s shown beside the ratio are one
   * timing's (the baseline's own p50 is another run's).
   */
  vsBaseline?: SpeedupInterval & { baselineP50?: number };
  /**
   * Its paired timing ended after `rounds` of the `of` asked: its interval showed it could not beat the
   * incumbent's speed-up `bar` (a candidate that can only lose is not timed to the end).
   */
  stoppedEarly?: { rounds: number; of: number; bar: number };
  /**
   * The metric is from the first `samples` samples only: there it was already far past the accuracy bound
   * (its whole interval over twice the bound), so the rest were not scored and it was timed briefly.
   */
  screened?: { samples: number };
  /** Where the evaluation's time went (ms by phase: build, score, time), for the log and the report. */
  phasesMs?: Record<string, number>;
  /** On a WebGPU execution provider: its outputs against onnxruntime-web's wasm on the same inputs (checked on the device). */
  outputsVsWasm?: { ok: boolean; maxAbs: number; tolerance: string };
}

/** A speed-up (baseline time / candidate time, medians) with its 95% interval. */
export interface SpeedupInterval {
  speedup: number;
  low: number;
  high: number;
}

/** The candidate's speed-up over the baseline: the paired figure when there is one, else the ratio of p50s. */
export function speedupOf(baseline: Measurement, m: Measurement): number {
  return m.vsBaseline?.speedup ?? baseline.latency.p50 / m.latency.p50;
}

export interface AccuracyBound {
  value: number;
  /** true: percent of the baseline value (`--max-accuracy-drop 2%rel`); false: absolute points. */
  relative: boolean;
}

export interface Goals {
  maxLatencyMs?: number;
  minSpeedup?: number;
  maxSizeMB?: number;
  maxAccuracyDrop: AccuracyBound;
}

export const DEFAULT_ACCURACY_BOUND: AccuracyBound = { value: 1, relative: false };

/** `1` → 1 point; `2%rel` → 2 % of the baseline. */
export function parseAccuracyDrop(s: string): AccuracyBound {
  const m = /^(\d+(?:\.\d+)?)\s*(%rel|%)?$/.exec(s.trim());
  if (!m) throw new InputError(`bad --max-accuracy-drop '${s}': give points (1) or a relative percent (2%rel)`);
  if (m[2] === '%') throw new InputError(`--max-accuracy-drop '${s}' is ambiguous: write ${m[1]} for absolute points or ${m[1]}%rel for percent of the baseline`);
  return { value: Number(m[1]), relative: m[2] === '%rel' };
}

/** True when the user asked for a performance target; then the search may stop as soon as it is met. */
export function hasPerformanceTarget(g: Goals): boolean {
  return g.maxLatencyMs !== undefined || g.minSpeedup !== undefined || g.maxSizeMB !== undefined;
}

/** How much worse the candidate's metric is than the baseline's (positive = worse), in the bound's unit. */
export function metricDrop(baseline: MetricValue, m: MetricValue, relative: boolean): number {
  const worse = baseline.higherIsBetter ? baseline.value - m.value : m.value - baseline.value;
  if (relative) return baseline.value === 0 ? (worse === 0 ? 0 : Infinity) : (100 * worse) / Math.abs(baseline.value);
  return baseline.scale === 'fraction' ? 100 * worse : worse;
}

export interface GoalCheck {
  goal: 'max-latency' | 'min-speedup' | 'max-size' | 'max-accuracy-drop';
  met: boolean;
  actual: number;
  limit: number;
  unit: string;
  /** How far from the limit, as a fraction of it (0 when met): what the closest-candidate ranking uses. */
  shortfall: number;
  /** One line: "latency 12.4 ms > 10 ms (24% over)". */
  detail: string;
}

const fmt = (x: number, d = 2) => (Number.isFinite(x) ? Number(x.toFixed(d)).toString() : String(x));

/** Checks every goal for one candidate measured against the baseline. */
export function checkGoals(goals: Goals, baseline: Measurement, m: Measurement): GoalCheck[] {
  const out: GoalCheck[] = [];
  const upper = (goal: GoalCheck['goal'], what: string, actual: number, limit: number, unit: string) => {
    const met = actual <= limit;
    const shortfall = met ? 0 : (actual - limit) / Math.max(Math.abs(limit), 1e-9);
    out.push({ goal, met, actual, limit, unit, shortfall, detail: `${what} ${fmt(actual)}${unit} ${met ? '≤' : '>'} ${fmt(limit)}${unit}${met ? '' : ` (${fmt(100 * shortfall, 1)}% over)`}` });
  };
  if (goals.maxLatencyMs !== undefined) upper('max-latency', 'latency p50', m.latency.p50, goals.maxLatencyMs, ' ms');
  if (goals.minSpeedup !== undefined) {
    const speedup = speedupOf(baseline, m);
    const met = speedup >= goals.minSpeedup;
    const shortfall = met ? 0 : (goals.minSpeedup - speedup) / goals.minSpeedup;
    out.push({ goal: 'min-speedup', met, actual: speedup, limit: goals.minSpeedup, unit: '×', shortfall, detail: `speed-up ${fmt(speedup)}× ${met ? '≥' : '<'} ${fmt(goals.minSpeedup)}×` });
  }
  if (goals.maxSizeMB !== undefined) upper('max-size', 'size', m.sizeBytes / 1e6, goals.maxSizeMB, ' MB');
  const b = goals.maxAccuracyDrop;
  const drop = metricDrop(baseline.metric, m.metric, b.relative);
  const unit = b.relative ? '% of baseline' : baseline.metric.scale === 'fraction' ? ' points' : '';
  const met = drop <= b.value + 1e-12;
  const shortfall = met ? 0 : (drop - b.value) / Math.max(b.value, 1e-9);
  out.push({ goal: 'max-accuracy-drop', met, actual: drop, limit: b.value, unit, shortfall, detail: `${baseline.metric.name} drop ${fmt(drop, 3)}${unit} ${met ? '≤' : '>'} ${fmt(b.value)}${unit}` });
  return out;
}

export function describeGoals(g: Goals): string[] {
  const out: string[] = [];
  if (g.maxLatencyMs !== undefined) out.push(`latency p50 ≤ ${g.maxLatencyMs} ms`);
  if (g.minSpeedup !== undefined) out.push(`speed-up ≥ ${g.minSpeedup}×`);
  if (g.maxSizeMB !== undefined) out.push(`size ≤ ${g.maxSizeMB} MB`);
  out.push(`metric drop ≤ ${g.maxAccuracyDrop.value}${g.maxAccuracyDrop.relative ? '% of baseline' : ' points'}`);
  if (!hasPerformanceTarget(g)) out.push('then as fast as possible');
  return out;
}
