import type { BudgetClock } from './budget.js';
import { metricDrop, type GoalCheck, type Goals } from './goals.js';
import { paretoFront } from './pareto.js';
import { recipeKey } from './recipe.js';
import type { Candidate, SearchResult, Skipped } from './search.js';

export interface ConcludeInput {
  baseline: Candidate;
  candidates: Candidate[];
  skipped: Skipped[];
  stopped: string;
  clock: BudgetClock;
  goals: Goals;
  tie: number;
  /** The candidate to return whatever it measured (a given recipe). */
  forced?: Candidate;
  /** The search's final incumbent: preferred over candidates only noise-level faster. */
  incumbent: Candidate;
}

/** Picks the result (fastest meeting every goal, then smallest) and writes what the user must be told. */
export function conclude(x: ConcludeInput): SearchResult {
  const measured = x.candidates.filter((c) => c.measurement && !c.refuted);
  const byLatencyThenSize = (a: Candidate, b: Candidate) => {
    const la = a.measurement!.latency.p50;
    const lb = b.measurement!.latency.p50;
    if (Math.abs(la - lb) <= x.tie * Math.min(la, lb)) return a.measurement!.sizeBytes - b.measurement!.sizeBytes || la - lb;
    return la - lb;
  };
  const meeting = measured.filter((c) => c.meetsAll).sort(byLatencyThenSize);
  const accurate = measured.filter((c) => c.accurate).sort(byLatencyThenSize);
  const forced = x.forced?.measurement ? x.forced : undefined;
  const met = forced ? forced.meetsAll : meeting.length > 0;
  const pool = met ? meeting : accurate;
  const within = (a: Candidate, b: Candidate) => a.measurement!.latency.p50 <= b.measurement!.latency.p50 * (1 + x.tie) && a.measurement!.sizeBytes <= b.measurement!.sizeBytes * 1.05;
  const incumbentFits = pool.includes(x.incumbent) && pool.length > 0 && within(x.incumbent, pool[0]!);
  const chosen = forced ?? (incumbentFits ? x.incumbent : pool[0] ?? x.baseline);
  const warnings: string[] = [];
  const failures: string[] = [];
  const base = x.baseline.measurement!;
  const m = chosen.measurement!;
  if (chosen === x.baseline || chosen.recipe.steps.length === 0 && sameSession(chosen, x.baseline)) {
    warnings.push('no candidate beat the baseline: the output model is the input model unchanged');
  } else {
    if (m.latency.p50 > base.latency.p50) warnings.push(`the chosen model is slower than the baseline (${(m.latency.p50 / base.latency.p50).toFixed(2)}× its p50 latency)`);
    const drop = metricDrop(base.metric, m.metric, false);
    if (drop > 0) warnings.push(`the chosen model scores lower than the baseline on ${base.metric.name} (${base.metric.value.toFixed(4)} → ${m.metric.value.toFixed(4)}), within the bound`);
    if (m.sizeBytes > base.sizeBytes * 1.01) warnings.push(`the chosen model is larger than the baseline (${(m.sizeBytes / 1e6).toFixed(2)} MB vs ${(base.sizeBytes / 1e6).toFixed(2)} MB)`);
  }
  if (!met) failures.push(...explainFailures(forced ? [forced] : measured, x.goals));
  // the trade-off front among usable candidates: a broken model is not a trade-off, however small it is
  const pareto = paretoFront(accurate.map((c) => ({ latencyMs: c.measurement!.latency.p50, drop: metricDrop(base.metric, c.measurement!.metric, false), sizeBytes: c.measurement!.sizeBytes }))).map((i) => accurate[i]!.id);
  return { baseline: x.baseline, candidates: x.candidates, skipped: x.skipped, chosen, met, pareto, stopped: x.stopped, warnings, failures, wallMs: x.clock.elapsedMs };
}

function sameSession(a: Candidate, b: Candidate): boolean {
  return recipeKey(a.recipe) === recipeKey(b.recipe);
}

/** For each goal no candidate met: how close the closest candidates came and what would be needed. */
function explainFailures(measured: Candidate[], goals: Goals): string[] {
  const out: string[] = [];
  const goalIds = measured[0]?.checks?.map((g) => g.goal) ?? [];
  for (const goal of goalIds) {
    const meetsOthers = measured.filter((c) => c.checks!.every((g) => g.goal === goal || g.met));
    if (measured.some((c) => c.checks!.find((g) => g.goal === goal)!.met) && meetsOthers.length === 0) continue;
    const pool = (meetsOthers.length ? meetsOthers : measured).filter((c) => !c.checks!.find((g) => g.goal === goal)!.met);
    if (pool.length === 0) continue;
    pool.sort((a, b) => a.checks!.find((g) => g.goal === goal)!.shortfall - b.checks!.find((g) => g.goal === goal)!.shortfall);
    const closest = pool.slice(0, 3).map((c) => `#${c.id} ${c.label}: ${c.checks!.find((g) => g.goal === goal)!.detail}`);
    const top = pool[0]!.checks!.find((g) => g.goal === goal)!;
    out.push(`${goal} not met${meetsOthers.length ? ' by any candidate that meets the other goals' : ''}; closest: ${closest.join('; ')}. ${needed(goal, top, goals)}`);
  }
  if (out.length === 0 && measured.length) out.push('no single candidate met every goal at once, though each goal was met by some candidate');
  return out;
}

function needed(goal: GoalCheck['goal'], g: GoalCheck, goals: Goals): string {
  switch (goal) {
    case 'max-latency':
      return `Needed: another ${(g.actual / g.limit).toFixed(2)}× speed-up over the closest candidate, or --max-latency ${Math.ceil(g.actual * 10) / 10}.`;
    case 'min-speedup':
      return `Needed: ${(g.limit / g.actual).toFixed(2)}× more speed than the closest candidate, or --min-speedup ${Math.floor(g.actual * 100) / 100}.`;
    case 'max-size':
      return `Needed: ${(g.actual / g.limit).toFixed(2)}× smaller (e.g. 4-bit weights or pruning), or --max-size ${Math.ceil(g.actual * 10) / 10}.`;
    case 'max-accuracy-drop':
      return `Needed: a looser bound (--max-accuracy-drop ${Math.ceil(g.actual * 100) / 100}${goals.maxAccuracyDrop.relative ? '%rel' : ''}) or a gentler technique (fallback of sensitive layers, QAT).`;
  }
}
