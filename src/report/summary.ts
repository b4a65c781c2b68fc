import type { Measurement, MetricValue } from '../search/goals.js';
import { metricDrop, speedupOf } from '../search/goals.js';
import type { Candidate } from '../search/candidate.js';
import type { OptimizeResults } from './results.js';

/** Formats a metric with its interval: `91.20% [90.10, 92.30]` for fractions, raw numbers otherwise. */
export function formatMetric(m: MetricValue): string {
  const f = (x: number) => (m.scale === 'fraction' ? (100 * x).toFixed(2) : x.toPrecision(4));
  const unit = m.scale === 'fraction' ? '%' : '';
  const ci = m.lo !== undefined && m.hi !== undefined ? ` [${f(m.lo)}, ${f(m.hi)}]` : '';
  return `${f(m.value)}${unit}${ci}`;
}

/** A value on a metric's scale, without an interval: `91.20%` for fractions. */
export function formatMetricValue(scale: Pick<MetricValue, 'scale'>, v: number): string {
  return scale.scale === 'fraction' ? `${(100 * v).toFixed(2)}%` : v.toPrecision(4);
}

export const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(2)} MB`;
export const ms = (x: number): string => `${x.toFixed(x < 10 ? 3 : 1)} ms`;

/**
 * Rows of the baseline-vs-chosen table: [what, baseline, chosen, change]. Latency comes from the final
 * side-by-side run (the same figures as the headline and results.json `sideBySide`); without one (the
 * chosen model is the baseline) from the baseline's own timing.
 */
export function summaryRows(r: OptimizeResults): string[][] {
  const b = r.baseline.measurement!;
  const c = r.chosen.measurement!;
  const ratio = (x: number, y: number) => `${(x / y).toFixed(2)}×`;
  const drop = metricDrop(b.metric, c.metric, false);
  const dropText = b.metric.scale === 'fraction' ? `${drop <= 0 ? '+' : '−'}${Math.abs(drop).toFixed(2)} points` : `${(-drop).toPrecision(3)}`;
  const s = r.sideBySide;
  const lb = s?.baseline ?? b.latency;
  const lc = s?.chosen ?? c.latency;
  const how = s ? ' (side by side)' : '';
  return [
    [`latency p50${how}`, ms(lb.p50), ms(lc.p50), s ? `${s.speedup.toFixed(2)}× faster [95% ${s.low.toFixed(2)}–${s.high.toFixed(2)}]` : `${ratio(lb.p50, lc.p50)} faster`],
    [`latency p99${how}`, ms(lb.p99), ms(lc.p99), `${ratio(lb.p99, lc.p99)} faster`],
    ['size', mb(b.sizeBytes), mb(c.sizeBytes), `${ratio(b.sizeBytes, c.sizeBytes)} smaller`],
    [b.metric.name, formatMetric(b.metric), formatMetric(c.metric), dropText],
  ];
}

/** One line for the terminal and the report's headline: the same side-by-side figures as the table. */
export function headline(r: OptimizeResults): string {
  const b = r.baseline.measurement!;
  const c = r.chosen.measurement!;
  const status = r.met ? 'all goals met' : 'GOALS NOT MET';
  const s = r.sideBySide;
  const speed = s
    ? `${s.speedup.toFixed(2)}× faster side by side [95% ${s.low.toFixed(2)}–${s.high.toFixed(2)}] (p50 ${ms(s.baseline.p50)} → ${ms(s.chosen.p50)}, ${s.runs} interleaved runs each)`
    : r.chosen.id === r.baseline.id
      ? `the input model unchanged (p50 ${ms(b.latency.p50)})`
      : `${speedupOf(b, c).toFixed(2)}× faster (p50 ${ms(b.latency.p50)} → ${ms(c.latency.p50)})`;
  return `${status}: ${speed}, ${mb(b.sizeBytes)} → ${mb(c.sizeBytes)}, ${b.metric.name} ${formatMetric(b.metric)} → ${formatMetric(c.metric)}; ${r.candidates.length - 1} candidates in ${(r.searchWallMs / 1000).toFixed(1)} s`;
}

/** A candidate's result, one short cell. */
export function candidateCell(c: Candidate, base: Measurement): string {
  if (!c.measurement) return c.error ?? 'failed';
  const m = c.measurement;
  const speed = m.vsBaseline ? `${m.vsBaseline.speedup.toFixed(2)}× [${m.vsBaseline.low.toFixed(2)}–${m.vsBaseline.high.toFixed(2)}]` : c.stage === 'baseline' ? 'timed alone' : `${speedupOf(base, m).toFixed(2)}×, timed separately`;
  // with the baseline's p50 of the same paired run: the two p50s and the ratio are one timing's
  const p50 = m.vsBaseline?.baselineP50 !== undefined ? `${ms(m.vsBaseline.baselineP50).replace(/ ms$/, '')} → ${ms(m.latency.p50)}` : ms(m.latency.p50);
  return `${p50} (${speed}), ${mb(m.sizeBytes)}, ${formatMetric({ ...m.metric, lo: undefined, hi: undefined })}`;
}

/** One line: the inputs every latency figure was timed on, and the thread counts. */
export function timingLine(r: OptimizeResults): string {
  const t = r.timing;
  const threads = t.threads.baseline === t.threads.chosen ? `${plural(t.threads.chosen, 'thread')} (baseline and chosen)` : `baseline ${plural(t.threads.baseline, 'thread')}, chosen ${t.threads.chosen}`;
  const again = t.reproduce ? `. The side-by-side figure again: ${t.reproduce}${t.source === 'data' ? ' (on the first of the input sets timed, written beside the model)' : ''}` : '';
  return `Timed on ${t.note}; ${threads}, ${t.backend} backend${t.device ? ` on device ${t.device.name} (${t.device.description})` : ''}${again}`;
}

/** `1 thread`, `2 threads`. */
export const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

/** Node and ONNX Runtime versions; a runtime package that is not installed is said so, not shown as '-'. */
export function runtimeLine(e: OptimizeResults['environment']): string {
  const v = (x: string | undefined) => x ?? 'not installed';
  return `Node ${e.node}; onnxruntime-node ${v(e.onnxruntime.node)}; onnxruntime-web ${v(e.onnxruntime.web)}`;
}

/** One pruned candidate of the search (stage 'prune'): its granularity, achieved sparsity, metric and latency. */
export interface SparsityRow {
  id: number;
  granularity: string;
  /** Parameters removed or zeroed, percent of the model's (0: the unpruned input model). */
  sparsity: number;
  metric: number;
  latencyMs: number;
  speedup: number;
  fineTuned: boolean;
}

/**
 * The pruning sweep of a search: every measured candidate of the prune stage, plus the input model
 * at sparsity 0 for each granularity tried, sorted by granularity and sparsity.
 */
export function sparsityRows(r: OptimizeResults): SparsityRow[] {
  const base = r.baseline.measurement!;
  const rows: SparsityRow[] = [];
  for (const c of r.candidates) {
    // a prune step with graph passes only (no quantizer, no QAT) after it
    if (c.stage !== 'prune' || !c.measurement) continue;
    const speedup = speedupOf(base, c.measurement);
    const at = { id: c.id, metric: c.measurement.metric.value, latencyMs: base.latency.p50 / speedup, speedup };
    // a student from the teacher (layers dropped, distilled) is a line of its own: its share of parameters gone
    const student = c.measurement.stepStats?.student;
    if (student?.params !== undefined && student.teacherParams) {
      rows.push({ ...at, granularity: 'student', sparsity: 100 * (1 - student.params / student.teacherParams), fineTuned: true });
      continue;
    }
    const last = c.recipe.steps.find((st) => st.pass === 'prune');
    const stats = c.measurement.stepStats?.prune;
    if (!last || stats?.sparsity === undefined) continue;
    rows.push({ ...at, granularity: String(last.params.granularity ?? 'channel'), sparsity: 100 * stats.sparsity, fineTuned: (stats.finetuneSteps ?? 0) > 0 });
  }
  // each line starts at the unpruned model with the same session and graph passes (the search pruned on top of
  // them: a thread change must not look like a pruning gain), else at the baseline
  const shrinks = (pass: string) => pass === 'prune' || pass === 'student';
  const key = (c: Candidate) => JSON.stringify([c.recipe.steps.filter((st) => !shrinks(st.pass)), c.recipe.session]);
  const byKey = new Map(r.candidates.filter((c) => c.measurement && !c.recipe.steps.some((st) => shrinks(st.pass))).map((c) => [key(c), c]));
  for (const g of new Set(rows.map((x) => x.granularity))) {
    const first = r.candidates.find((c) => c.stage === 'prune' && rows.some((x) => x.id === c.id && x.granularity === g))!;
    const ref = byKey.get(key(first)) ?? r.baseline;
    const speedup = ref === r.baseline ? 1 : speedupOf(base, ref.measurement!);
    rows.push({ id: ref.id, granularity: g, sparsity: 0, metric: ref.measurement!.metric.value, latencyMs: base.latency.p50 / speedup, speedup, fineTuned: false });
  }
  return rows.sort((a, b) => (a.granularity < b.granularity ? -1 : a.granularity > b.granularity ? 1 : a.sparsity - b.sparsity));
}
