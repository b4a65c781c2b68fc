import type { BudgetClock } from './budget.js';
import { metricDrop, speedupOf, type GoalCheck, type Goals } from './goals.js';
import { paretoFront } from './pareto.js';
import { recipeKey } from './recipe.js';
import type { Candidate, SearchResult, Skipped } from './candidate.js';

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
  const base = x.baseline.measurement!;
  // paired figures: each candidate's speed-up was timed side by side with the baseline
  const speed = (c: Candidate) => speedupOf(base, c.measurement!);
  const simpler = (a: Candidate, b: Candidate) => a.recipe.steps.length - b.recipe.steps.length || (recipeKey(a.recipe) < recipeKey(b.recipe) ? -1 : 1);
  const fasterThenSmaller = (a: Candidate, b: Candidate) => {
    const sa = speed(a);
    const sb = speed(b);
    if (Math.abs(sa - sb) <= x.tie * Math.min(sa, sb)) return a.measurement!.sizeBytes - b.measurement!.sizeBytes || simpler(a, b);
    return sb - sa;
  };
  const meeting = measured.filter((c) => c.meetsAll).sort(fasterThenSmaller);
  const accurate = measured.filter((c) => c.accurate).sort(fasterThenSmaller);
  const forced = x.forced?.measurement ? x.forced : undefined;
  const met = forced ? forced.meetsAll : meeting.length > 0;
  const pool = met ? meeting : accurate;
  // the incumbent's every step was confirmed side by side: it stands unless the pool holds something the
  // paired figures put clearly ahead of it (its interval above the incumbent's)
  const clearlyAhead = (a: Candidate, b: Candidate) => (a.measurement!.vsBaseline?.low ?? speed(a)) > (b.measurement!.vsBaseline?.high ?? speed(b)) * (1 + x.tie);
  const incumbentFits = pool.includes(x.incumbent) && !clearlyAhead(pool[0]!, x.incumbent);
  const chosen = forced ?? (incumbentFits ? x.incumbent : pool[0] ?? x.baseline);
  const warnings: string[] = [];
  const failures: string[] = [];
  const m = chosen.measurement!;
  if (chosen === x.baseline || chosen.recipe.steps.length === 0 && sameSession(chosen, x.baseline)) {
    warnings.push('no candidate beat the baseline: the output model is the input model unchanged');
  } else {
    if (speed(chosen) < 1) warnings.push(`the chosen model is slower than the baseline (${(1 / speed(chosen)).toFixed(2)}× its p50 latency, timed side by side)`);
    const drop = metricDrop(base.metric, m.metric, false);
    if (drop > 0) {
      const f = (v: number) => (base.metric.scale === 'fraction' ? `${(100 * v).toFixed(2)}%` : v.toPrecision(4));
      const way = base.metric.higherIsBetter ? 'lower' : 'higher';
      warnings.push(`the chosen model is worse than the baseline on ${base.metric.name} (${f(base.metric.value)} → ${f(m.metric.value)}: ${way} is worse), within the bound`);
    }
    if (m.sizeBytes > base.sizeBytes * 1.01) warnings.push(`the chosen model is larger than the baseline (${(m.sizeBytes / 1e6).toFixed(2)} MB vs ${(base.sizeBytes / 1e6).toFixed(2)} MB)`);
  }
  if (!met) failures.push(...explainFailures(forced ? [forced] : measured, x.goals));
  // the trade-off front among usable candidates: a broken model is not a trade-off, however small it is
  // on paired figures: the baseline's latency over each candidate's side-by-side speed-up
  const pareto = paretoFront(accurate.map((c) => ({ latencyMs: base.latency.p50 / speed(c), drop: metricDrop(base.metric, c.measurement!.metric, false), sizeBytes: c.measurement!.sizeBytes }))).map((i) => accurate[i]!.id);
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
