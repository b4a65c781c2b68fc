import type { Measurement, MetricValue } from '../search/goals.js';
import { metricDrop } from '../search/goals.js';
import type { Candidate } from '../search/search.js';
import type { OptimizeResults } from './results.js';

/** Formats a metric with its interval: `91.20% [90.10, 92.30]` for fractions, raw numbers otherwise. */
export function formatMetric(m: MetricValue): string {
  const f = (x: number) => (m.scale === 'fraction' ? (100 * x).toFixed(2) : x.toPrecision(4));
  const unit = m.scale === 'fraction' ? '%' : '';
  const ci = m.lo !== undefined && m.hi !== undefined ? ` [${f(m.lo)}, ${f(m.hi)}]` : '';
  return `${f(m.value)}${unit}${ci}`;
}

export const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(2)} MB`;
export const ms = (x: number): string => `${x.toFixed(x < 10 ? 3 : 1)} ms`;

/** Rows of the baseline-vs-chosen table: [what, baseline, chosen, change]. */
export function summaryRows(r: OptimizeResults): string[][] {
  const b = r.baseline.measurement!;
  const c = r.chosen.measurement!;
  const ratio = (x: number, y: number) => `${(x / y).toFixed(2)}×`;
  const drop = metricDrop(b.metric, c.metric, false);
  const dropText = b.metric.scale === 'fraction' ? `${drop <= 0 ? '+' : '−'}${Math.abs(drop).toFixed(2)} points` : `${(-drop).toPrecision(3)}`;
  return [
    ['latency p50', ms(b.latency.p50), ms(c.latency.p50), `${ratio(b.latency.p50, c.latency.p50)} faster`],
    ['latency p99', ms(b.latency.p99), ms(c.latency.p99), `${ratio(b.latency.p99, c.latency.p99)} faster`],
    ['size', mb(b.sizeBytes), mb(c.sizeBytes), `${ratio(b.sizeBytes, c.sizeBytes)} smaller`],
    [b.metric.name, formatMetric(b.metric), formatMetric(c.metric), dropText],
  ];
}

/** One line for the terminal and the report's headline. */
export function headline(r: OptimizeResults): string {
  const b = r.baseline.measurement!;
  const c = r.chosen.measurement!;
  const status = r.met ? 'all goals met' : 'GOALS NOT MET';
  const s = r.sideBySide;
  // the interleaved side-by-side timing is the trustworthy figure; the search's separate runs come second
  const speed = s
    ? `${s.speedup.toFixed(2)}× faster side by side [95% ${s.low.toFixed(2)}–${s.high.toFixed(2)}] (timed apart: p50 ${ms(b.latency.p50)} → ${ms(c.latency.p50)})`
    : `${(b.latency.p50 / c.latency.p50).toFixed(2)}× faster (p50 ${ms(b.latency.p50)} → ${ms(c.latency.p50)})`;
  return `${status}: ${speed}, ${mb(b.sizeBytes)} → ${mb(c.sizeBytes)}, ${b.metric.name} ${formatMetric(b.metric)} → ${formatMetric(c.metric)}; ${r.candidates.length - 1} candidates in ${(r.searchWallMs / 1000).toFixed(1)} s`;
}

/** A candidate's result, one short cell. */
export function candidateCell(c: Candidate, base: Measurement): string {
  if (!c.measurement) return c.error ?? 'failed';
  const m = c.measurement;
  return `${ms(m.latency.p50)} (${(base.latency.p50 / m.latency.p50).toFixed(2)}×), ${mb(m.sizeBytes)}, ${formatMetric({ ...m.metric, lo: undefined, hi: undefined })}`;
}

/** One line: the inputs every latency figure was timed on, and the thread counts. */
export function timingLine(r: OptimizeResults): string {
  const t = r.timing;
  const threads = t.threads.baseline === t.threads.chosen ? `${t.threads.chosen} thread${t.threads.chosen === 1 ? '' : 's'} (baseline and chosen)` : `baseline ${t.threads.baseline} thread${t.threads.baseline === 1 ? '' : 's'}, chosen ${t.threads.chosen}`;
  return `Timed on ${t.note}; ${threads}, ${t.backend} backend`;
}
