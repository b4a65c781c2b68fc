import { InputError } from '../errors.js';
import type { Target } from '../passes/pass.js';
import { BudgetClock, type Budget } from './budget.js';
import { checkGoals, hasPerformanceTarget, speedupOf, type AccuracyBound, type GoalCheck, type Goals, type LatencyStats, type Measurement, type MetricValue } from './goals.js';
import type { Candidate, SearchResult, Skipped, Stage } from './candidate.js';
import { conclude } from './conclude.js';
import { describeRecipe, recipeKey, type Recipe, type RecipeStep, type SessionSettings } from './recipe.js';
import { paramVariations, reachableShare, type SearchablePass, type SearchSpace } from './space.js';

/** Two recipes timed side by side: median(candidate)/median(incumbent) with its 95% interval, and each side's figures. */
export interface SideBySide {
  ratio: number;
  low: number;
  high: number;
  /** Rounds (each runs both once, in a random order). */
  runs?: number;
  /** The incumbent's and the candidate's latency in this run. */
  a?: LatencyStats;
  b?: LatencyStats;
}

/**
 * What a candidate must beat to win (the incumbent's paired speed-up over the baseline, and its size): an
 * evaluator may stop timing a candidate early once its interval shows it cannot (see `OnnxEvaluator`).
 */
export interface Bar {
  speedup: number;
  sizeBytes: number;
  /** The baseline's metric and the bound: a candidate far past it on a first slice of the samples is screened out. */
  accuracy?: { baseline: MetricValue; bound: AccuracyBound };
}

/** Measures one recipe: builds the model, times it, scores it. Implementations cache what they can. */
export interface Evaluator {
  /**
   * Measures `recipe`. With `baseline` (every candidate after the baseline itself), an evaluator that can
   * times the two side by side and returns the paired speed-up in `vsBaseline`. With `bar`, it may time a
   * candidate that cannot beat it with fewer rounds (`Measurement.stoppedEarly` says so).
   */
  evaluate(recipe: Recipe, baseline?: Recipe, bar?: Bar): Promise<Measurement>;
  /**
   * Optional: times two recipes (each with its own session settings) side by side, interleaved, and returns
   * median(candidate)/median(incumbent) with a confidence interval. The search confirms every gain with it
   * before it believes it (shared machines are noisy).
   */
  confirm?(incumbent: Recipe, candidate: Recipe): Promise<SideBySide>;
  /**
   * Optional: accuracy-aware fallback for a quantized recipe that broke the accuracy bound: the recipe with
   * the most sensitive nodes kept in float (undefined when its last step has no fallback). `timeUp` says when
   * the search's time budget is spent: the fallback stops there with what it has (it can take minutes).
   */
  fallback?(recipe: Recipe, baseline: MetricValue, bound: AccuracyBound, timeUp?: () => boolean): Promise<{ recipe: Recipe; note: string } | undefined>;
  /**
   * Optional: quantization-aware training in place of a quantize step that missed the accuracy goal (the
   * recipe with its last step replaced, training limited to `seconds`), or undefined when the evaluator has no
   * training data or the step cannot be trained.
   */
  train?(recipe: Recipe, seconds: number): { recipe: Recipe; note: string } | undefined;
  /**
   * Optional: the recipes the search will most likely measure next, each against `baseline` (an evaluator
   * with spare workers starts them now: several candidates in flight). A hint only: the search measures and
   * decides in its own order whatever the evaluator did with it, so the same inputs choose the same recipe.
   */
  prefetch?(recipes: readonly Recipe[], baseline: Recipe): void;
}

export type { Candidate, SearchResult, Skipped, Stage } from './candidate.js';

export interface SearchOptions {
  goals: Goals;
  budget: Budget;
  target: Target;
  baseSession: SessionSettings;
  /** Share of baseline time per op type (from the profile), for pruning. */
  opShare?: Readonly<Record<string, number>>;
  /** A pass whose op types take less than this share of the time is not tried (default 0.1). */
  minShare?: number;
  /** Latencies within this ratio count as equal; the smaller model wins the tie (default 0.03). */
  tie?: number;
  /**
   * Gains smaller than this (ratio) are confirmed side by side with the incumbent before they are believed
   * (default: every gain). A gain over the baseline itself is confirmed by its paired measurement.
   */
  confirmBelow?: number;
  /**
   * Prune steps fine-tune for this many optimizer steps, distilled from the unpruned model with weight
   * `distill` (`optimize --train-data`); without it they are one-shot (magnitude, mean compensation).
   */
  pruneFinetune?: { steps: number; distill: number };
  /** Evaluate this recipe only (against the baseline), no search: `optimize --recipe`. */
  only?: Recipe;
  /**
   * false: time every candidate for all its rounds (default: the evaluator may stop timing a candidate whose
   * paired interval shows it cannot beat the incumbent: `optimize --no-early-stop`).
   */
  screen?: boolean;
  log?: (line: string) => void;
}

class Stop extends Error {}

/** The longest QAT step the search asks for when the budget is not a time (seconds of training). */
const QAT_SECONDS = 600;

/**
 * The strategy, cheapest first: baseline; ORT session settings on the unchanged graph; graph passes (kept
 * when they help); each quantization pass with its defaults, skipping those the profile says cannot pay;
 * parameter variations of the promising ones (one parameter at a time, from the pass's declared search
 * values); session settings again on the best graph. Every step is kept only if it stays within the accuracy
 * bound and is faster (or as fast and smaller). Stops when the budget is spent, or — when the user asked for a
 * performance target — as soon as a candidate meets every goal.
 */
export async function runSearch(space: SearchSpace, evaluator: Evaluator, opts: SearchOptions): Promise<SearchResult> {
  const clock = new BudgetClock(opts.budget);
  const tie = opts.tie ?? 0.03;
  const minShare = opts.minShare ?? 0.1;
  const log = opts.log ?? (() => {});
  const candidates: Candidate[] = [];
  const skipped: Skipped[] = [];
  const seen = new Map<string, Candidate>();
  let stopped = 'the search space was exhausted';
  let forced: Candidate | undefined;

  const baselineRecipe: Recipe = { target: opts.target, steps: [], session: { ...opts.baseSession } };
  const baseline = await measure(baselineRecipe, 'baseline');
  if (!baseline.measurement) throw new Error(`the baseline model could not be measured: ${baseline.error}`);
  const base = baseline.measurement;
  let best = baseline;

  async function measure(recipe: Recipe, stage: Stage, note?: string): Promise<Candidate> {
    const key = recipeKey(recipe);
    const cached = seen.get(key);
    if (cached) return cached;
    if (stage !== 'baseline' && stage !== 'webgpu' && clock.spent()) {
      stopped = `the budget was spent (${clock.trials} candidates in ${(clock.elapsedMs / 1000).toFixed(1)} s)`;
      throw new Stop();
    }
    const label = describeRecipe(recipe, opts.baseSession);
    const t0 = performance.now();
    const c: Candidate = { id: candidates.length, stage, recipe, label, meetsAll: false, accurate: false, verdict: 'failed', reason: '', evalMs: 0 };
    try {
      // the bar is the incumbent's paired speed-up (1 for the baseline itself) and size
      const bar = stage === 'baseline' || opts.screen === false ? undefined : { speedup: speedupOf(base, best.measurement!), sizeBytes: best.measurement!.sizeBytes, accuracy: { baseline: base.metric, bound: opts.goals.maxAccuracyDrop } };
      c.measurement = await evaluator.evaluate(recipe, stage === 'baseline' ? undefined : baselineRecipe, bar);
    } catch (e) {
      // an evaluator that can no longer measure anything (its queue's server is gone) stops the search
      if ((e as { abortsSearch?: boolean } | undefined)?.abortsSearch === true) throw e;
      // the user's input is wrong (a metric the data does not have…): their one line, not an internal error
      if (stage === 'baseline' && e instanceof InputError) throw e;
      const msg = (e instanceof Error ? e.message : String(e)).split('\n')[0]!;
      c.error = msg.length > 240 ? `${msg.slice(0, 237)}...` : msg;
      c.reason = `failed: ${c.error}`;
    }
    c.evalMs = performance.now() - t0;
    if (stage !== 'baseline') clock.trials++;
    if (c.measurement) {
      const m = c.measurement;
      c.checks = checkGoals(opts.goals, stage === 'baseline' ? m : base, m);
      c.meetsAll = c.checks.every((g) => g.met);
      c.accurate = c.checks.find((g) => g.goal === 'max-accuracy-drop')!.met;
    }
    candidates.push(c);
    seen.set(key, c);
    if (stage === 'baseline') {
      c.verdict = 'baseline';
      c.reason = 'measured first; every candidate is compared with it';
    } else if (c.measurement) {
      const before = best;
      judge(c);
      if (best === c) await confirmGain(c, before);
      c.evalMs = performance.now() - t0; // with the confirmation runs
    }
    if (note) c.reason = c.reason ? `${note}; ${c.reason}` : note;
    log(`[${c.id}] ${stage}: ${label} — ${c.measurement ? summary(c.measurement) : c.error} → ${c.verdict}${c.reason ? ` (${c.reason})` : ''} ${took(c)}`);
    if (c.meetsAll && hasPerformanceTarget(opts.goals) && stage !== 'baseline') {
      stopped = `candidate ${c.id} met every goal`;
      throw new Stop();
    }
    return c;
  }

  /** Compares with the incumbent; the candidate becomes the incumbent when it is better. */
  function judge(c: Candidate): void {
    const m = c.measurement!;
    const b = best.measurement!;
    // paired figures: each candidate's speed-up was timed side by side with the baseline
    const vsBase = speedupOf(base, m);
    const ratio = speedupOf(base, b) / vsBase;
    const acc = c.checks!.find((g) => g.goal === 'max-accuracy-drop')!;
    const newStep = c.recipe.steps.at(-1);
    if (newStep && c.recipe.steps.length > best.recipe.steps.length && m.inertSteps?.includes(newStep.pass)) {
      c.verdict = 'dropped';
      c.reason = `${newStep.pass} found nothing to change in this model`;
      return;
    }
    if (!c.accurate) {
      c.verdict = 'dropped';
      c.reason = `${acc.detail}; ${vsBase.toFixed(2)}× vs baseline`;
      if (m.screened) c.reason += `; screened out on the first ${m.screened.samples} samples (not scored on the rest, timed ${m.latency.samples?.length ?? '?'} rounds)`;
      return;
    }
    const faster = ratio < 1 - tie;
    const sameSpeedSmaller = ratio <= 1 + tie && m.sizeBytes < b.sizeBytes * 0.95;
    if (faster || sameSpeedSmaller) {
      c.verdict = 'improved';
      c.reason = faster ? `${(1 / ratio).toFixed(2)}× faster than the best so far, ${vsBase.toFixed(2)}× vs baseline` : `as fast and ${((1 - m.sizeBytes / b.sizeBytes) * 100).toFixed(0)}% smaller`;
      best = c;
    } else {
      c.verdict = 'dropped';
      c.reason = ratio > 1 + tie ? `${ratio.toFixed(2)}× the latency of the best so far` : `no measurable gain (${ratio.toFixed(3)}× latency)`;
      const early = m.stoppedEarly;
      if (early) c.reason += `; timed ${early.rounds} of ${early.of} rounds: even the top of its interval (${m.vsBaseline!.high.toFixed(2)}×) is below the best so far (${early.bar.toFixed(2)}×)`;
    }
  }

  /**
   * Every gain is confirmed side by side before it is believed: against the baseline, the candidate's own
   * paired measurement; against another incumbent, a fresh interleaved run of the two. A speed gain whose
   * interval does not clear the tie leaves the incumbent (the simpler recipe) in place, and so does one that
   * does not clear it again in a second independent interleaved run; a size gain stands unless the candidate
   * is measurably slower.
   */
  async function confirmGain(c: Candidate, before: Candidate): Promise<void> {
    const claimed = speedupOf(base, c.measurement!) / speedupOf(base, before.measurement!);
    if (claimed >= (opts.confirmBelow ?? Infinity)) return;
    const smaller = c.measurement!.sizeBytes < before.measurement!.sizeBytes * 0.95;
    let r: SideBySide | undefined;
    if (before === baseline && c.measurement!.vsBaseline) {
      const v = c.measurement!.vsBaseline;
      r = { ratio: 1 / v.speedup, low: 1 / v.high, high: 1 / v.low };
    } else if (evaluator.confirm) {
      try {
        r = await evaluator.confirm(before.recipe, c.recipe);
      } catch (e) {
        // the side-by-side run could not be made (a worker refused its job): the gain is not confirmed
        if ((e as { abortsSearch?: boolean } | undefined)?.abortsSearch === true) throw e;
        best = before;
        c.refuted = true;
        c.verdict = 'dropped';
        c.reason = `not confirmed: the side-by-side run with the best so far failed (${(e instanceof Error ? e.message : String(e)).split('\n')[0]})`;
        return;
      }
    }
    if (!r) return;
    // a speed gain must hold by more than the tie: a 2% edge that is significant in one run and not in the
    // next would make the same inputs choose different recipes
    let held = smaller ? r.low <= 1 + tie : r.high < 1 - tie;
    let figure = `${r.ratio.toFixed(3)}× the latency [${r.low.toFixed(3)}, ${r.high.toFixed(3)}]`;
    // a speed gain must then hold in a second, independent interleaved run: on a shared machine one run's
    // interval can clear the tie by chance (two demo runs split on a 'parallel execution' edge that way)
    if (held && r.high < 1 - tie && !smaller && evaluator.confirm) {
      const again = await evaluator.confirm(before.recipe, c.recipe);
      const second = `${again.ratio.toFixed(3)}× [${again.low.toFixed(3)}, ${again.high.toFixed(3)}]`;
      held = again.high < 1 - tie;
      figure = held ? `${figure}, again ${second}` : `${figure} once, but ${second} in a second run`;
    }
    if (held) {
      const speedHeld = r.high < 1 - tie;
      c.reason += speedHeld ? `; confirmed side by side${before === baseline ? ' with the baseline' : ''}: ${figure}` : `; kept for its size: side by side ${figure} (no significant speed difference)`;
      return;
    }
    best = before;
    c.refuted = true;
    c.verdict = 'dropped';
    c.reason = smaller
      ? `smaller, but slower side by side with the best so far: ${figure}`
      : `not confirmed side by side: ${figure} of the best so far — not a significant gain, the simpler recipe stays`;
  }

  /**
   * Tries the pruning candidates the training share skipped, in the order they were skipped, each only when
   * the time left fits it: its estimated cost is the longest prune candidate of the same granularity measured
   * so far (else of the same pass, else any prune candidate) with 10% to spare. Each is measured as the first
   * pass would have (on the input graph, amounts upwards until one breaks the bound); one that is accurate and
   * faster in float than the pruning the quantizers went on then replaces it under the best recipe's quantizer
   * (when that fits too). One that does not fit is left, and a cheaper one after it may still be tried.
   */
  async function revisit(
    deferred: { sp: SearchablePass; amounts: Record<string, unknown>[]; skip: Skipped }[],
    x: { pruneFrom: Recipe; pruneIncumbent: Candidate; graphSteps: RecipeStep[]; tune: Record<string, unknown>; pruners: SearchablePass[]; amountText: (a: Record<string, unknown>) => string },
  ): Promise<void> {
    const speed = (c: Candidate) => (c.measurement ? speedupOf(base, c.measurement) : 0);
    const isPruner = (st: RecipeStep) => x.pruners.some((p) => p.pass.id === st.pass);
    /** Whether work estimated at `ms` (or one trial) fits what the budget has left; the reason when not. */
    const fits = (ms: number | undefined): string | undefined => {
      const b = opts.budget;
      if (b.trials !== undefined && clock.trials >= b.trials) return 'no trials were left';
      if (b.ms === undefined) return undefined;
      const left = b.ms - clock.elapsedMs;
      if (ms === undefined) return 'its cost could not be estimated (no prune candidate was measured)';
      return ms * 1.1 <= left ? undefined : `the ${(left / 1000).toFixed(0)} s left did not fit its estimated ${((ms * 1.1) / 1000).toFixed(0)} s`;
    };
    const costOf = (sp: SearchablePass): number | undefined => {
      const pruneCands = candidates.filter((c) => c.stage === 'prune' && c.measurement);
      const ofPass = pruneCands.filter((c) => c.recipe.steps[0]?.pass === sp.pass.id);
      const same = ofPass.filter((c) => c.recipe.steps[0]!.params.granularity === sp.params?.granularity);
      const pool = same.length ? same : ofPass.length ? ofPass : pruneCands;
      return pool.length ? Math.max(...pool.map((c) => c.evalMs)) : undefined;
    };
    for (const d of deferred) {
      let left = d.amounts;
      let why: string | undefined;
      try {
        while (left.length) {
          const amount = left[0]!;
          why = fits(costOf(d.sp));
          if (why) break;
          left = left.slice(1);
          const step = stepOf(d.sp, { ...x.tune, ...amount });
          const c = await measure(withSteps(x.pruneFrom, [step, ...x.graphSteps]), 'prune', 'tried again with the time the quantizers left');
          if (!c.accurate) {
            left = [];
            break;
          }
          // faster in float than the pruning under the quantizers (by more than the tie): under the best quantizer
          if (best === c || speed(c) <= speed(x.pruneIncumbent) * (1 + tie)) continue;
          const composed = withSteps(best.recipe, [step, ...best.recipe.steps.filter((st) => !isPruner(st))]);
          const whyNot = seen.has(recipeKey(composed)) ? undefined : fits(best.evalMs);
          if (whyNot) {
            skipped.push({ what: `${c.label} under the best recipe's quantizer`, reason: whyNot });
            continue;
          }
          await measure(composed, 'quantize', `${label(d.sp)} at ${x.amountText(amount)} (faster in float than the pruning the quantizers went on) in its place`);
        }
      } finally {
        // what was tried is no longer skipped; the rest says why it still was
        const at = skipped.indexOf(d.skip);
        if (!left.length) skipped.splice(at, 1);
        else if (left !== d.amounts) skipped[at] = { what: `${label(d.sp)} at ${x.amountText(left[0]!)} and beyond`, reason: `${d.skip.reason}; the amounts below it were tried at the end, then ${why ?? 'the search stopped'}` };
        else if (why) skipped[at] = { what: d.skip.what, reason: `${d.skip.reason}; not started at the end either: ${why}` };
      }
    }
  }

  const withSession = (r: Recipe, s: Partial<SessionSettings>): Recipe => ({ ...r, session: { ...r.session, ...s } });
  const withSteps = (r: Recipe, steps: RecipeStep[]): Recipe => ({ ...r, steps });
  const stepOf = (sp: SearchablePass, extra: Record<string, unknown> = {}): RecipeStep => ({ pass: sp.pass.id, params: { ...(sp.params ?? {}), ...extra } });
  /** Tells the evaluator what comes next (not yet measured, within what the trial budget has left). */
  const prefetch = (recipes: Recipe[]) => {
    if (!evaluator.prefetch) return;
    const left = opts.budget.trials !== undefined ? Math.max(0, opts.budget.trials - clock.trials) : Infinity;
    const next = recipes.filter((r, i) => !seen.has(recipeKey(r)) && recipes.findIndex((x) => recipeKey(x) === recipeKey(r)) === i).slice(0, left);
    if (next.length) evaluator.prefetch(next, baselineRecipe);
  };
  const applicable = space.passes.filter((sp) => !sp.targets || sp.targets.includes(opts.target));
  for (const sp of space.passes) if (!applicable.includes(sp)) skipped.push({ what: label(sp), reason: `not available for --target ${opts.target}` });

  async function tuneSession(stage: Stage): Promise<void> {
    prefetch([
      ...space.session.threads.filter((t) => t !== best.recipe.session.threads).map((threads) => withSession(best.recipe, { threads })),
      ...space.session.optLevel.filter((l) => l !== best.recipe.session.optLevel).map((optLevel) => withSession(best.recipe, { optLevel })),
      ...space.session.executionMode.filter((m) => m !== best.recipe.session.executionMode).map((executionMode) => withSession(best.recipe, { executionMode })),
    ]);
    for (const threads of space.session.threads) if (threads !== best.recipe.session.threads) await measure(withSession(best.recipe, { threads }), stage);
    for (const optLevel of space.session.optLevel) if (optLevel !== best.recipe.session.optLevel) await measure(withSession(best.recipe, { optLevel }), stage);
    for (const executionMode of space.session.executionMode) if (executionMode !== best.recipe.session.executionMode) await measure(withSession(best.recipe, { executionMode }), stage);
  }

  try {
    if (opts.only) {
      forced = await measure(opts.only, 'graph');
      stopped = 'the recipe was given (--recipe): no search';
      throw new Stop();
    }
    await tuneSession('session');
    const graphCandidates: Candidate[] = [];
    const graphPasses = applicable.filter((p) => p.kind === 'graph').sort((a, b) => a.buildCost - b.buildCost);
    prefetch(graphPasses.map((sp) => withSteps(best.recipe, [...best.recipe.steps, stepOf(sp)])));
    for (const sp of graphPasses) {
      graphCandidates.push(await measure(withSteps(best.recipe, [...best.recipe.steps, stepOf(sp)]), 'graph'));
    }
    // Quantizers build on the graph passes that changed the graph and kept accuracy, even those dropped for
    // bringing no speed to the float model: folding BatchNorm into Conv is what lets ORT fuse the QDQ Conv
    // into QLinearConv (ORT's own quantizer pre-processes the same way).
    let graphSteps = best.recipe.steps;
    for (const c of graphCandidates) {
      const step = c.recipe.steps[c.recipe.steps.length - 1]!;
      const changed = c.measurement && !(c.measurement.inertSteps ?? []).includes(step.pass);
      if (c.accurate && changed && !graphSteps.some((s) => s.pass === step.pass)) graphSteps = [...graphSteps, step];
    }
    // Pruning: each granularity at each of its sparsity search values on the graph passes' model (the report
    // plots accuracy and latency against sparsity per granularity); the best one kept goes under the quantizers.
    // With training data the students come first: dropping whole layers is the biggest win on a transformer
    // (spam-bert: every 4th layer + int8 gave 5.11×, the best channel pruning 2.01×), and under a time budget
    // the cheaper granularities tried first used it all. Otherwise the cheapest build first.
    const studentFirst = (p: SearchablePass) => (opts.pruneFinetune && p.variant === 'student' ? 0 : 1);
    const pruners = applicable.filter((p) => p.kind === 'prune').sort((a, b) => studentFirst(a) - studentFirst(b) || a.buildCost - b.buildCost);
    const tune = opts.pruneFinetune && opts.pruneFinetune.steps > 0 ? { steps: opts.pruneFinetune.steps, distill: opts.pruneFinetune.distill } : {};
    // Candidates that fine-tune take minutes each on a transformer (spam-bert: a prune candidate's 300 steps are
    // longer than most time budgets): under a time budget they get half of the time left, so the quantizers
    // after them are still tried.
    const trainingShare = opts.pruneFinetune && opts.budget.ms !== undefined ? clock.share(0.5) : undefined;
    const shareNote = 'the candidates that fine-tune had used half of the time budget left (the quantizers get the rest)';
    // what the share skipped, in order: tried again at the end when the time left fits (see revisit below)
    const deferred: { sp: SearchablePass; amounts: Record<string, unknown>[]; skip: Skipped }[] = [];
    const pruneFrom = best.recipe;
    const amountsOf = (sp: SearchablePass): Record<string, unknown>[] => {
      const amounts = paramVariations(sp).map((v): Record<string, unknown> => ({ [v.name]: v.value }));
      const dflt = Object.fromEntries((sp.searchParams ?? []).map((k) => [k, sp.params?.[k] ?? (sp.pass.params as Record<string, { default: unknown }>)[k]!.default]));
      amounts.push(dflt);
      return amounts.sort((a, b) => Number(Object.values(a)[0] ?? 0) - Number(Object.values(b)[0] ?? 0));
    };
    const amountText = (amount: Record<string, unknown>) => Object.entries(amount).map(([k, v]) => `${k} ${v}`).join(', ');
    // Without fine-tuning a prune candidate is a cheap build: the amounts left of this granularity and the first
    // amount of each later one are built and scored ahead on free workers (a candidate that fine-tunes is minutes
    // of a worker's time, wasted when an amount before it breaks the bound: never ahead).
    const prunable = pruners.filter((sp) => !(sp.needs?.includes('training') && !opts.pruneFinetune) && reachableShare(sp, opts.opShare) >= minShare);
    const pruneAhead = (sp: SearchablePass, from: number) => {
      if (opts.pruneFinetune && opts.pruneFinetune.steps > 0) return;
      const later = prunable.slice(prunable.indexOf(sp) + 1);
      prefetch([
        ...amountsOf(sp).slice(from).map((amount) => withSteps(best.recipe, [stepOf(sp, { ...tune, ...amount }), ...graphSteps])),
        ...later.map((l) => withSteps(best.recipe, [stepOf(l, { ...tune, ...amountsOf(l)[0]! }), ...graphSteps])),
      ]);
    };
    for (const sp of pruners) {
      if (sp.needs?.includes('training') && !opts.pruneFinetune) {
        skipped.push({ what: label(sp), reason: 'it trains (distillation from the model): it needs --train-data' });
        continue;
      }
      const share = reachableShare(sp, opts.opShare);
      if (share < minShare) {
        skipped.push({ what: label(sp), reason: `${sp.speedsUp!.join('/')} take ${(share * 100).toFixed(1)}% of the baseline time: nothing of this granularity to prune` });
        continue;
      }
      // Pruned (and fine-tuned) on the input graph, BatchNorm still there, then the graph passes again. Amounts
      // go up from the smallest and stop at the first that breaks the accuracy bound (more would break it too).
      const amounts = amountsOf(sp);
      if (trainingShare?.()) {
        const skip = { what: label(sp), reason: shareNote };
        skipped.push(skip);
        deferred.push({ sp, amounts, skip });
        continue;
      }
      for (const [i, amount] of amounts.entries()) {
        if (i > 0 && trainingShare?.()) {
          const skip = { what: `${label(sp)} at ${amountText(amount)} and beyond`, reason: shareNote };
          skipped.push(skip);
          deferred.push({ sp, amounts: amounts.slice(i), skip });
          break;
        }
        pruneAhead(sp, i + 1);
        const c = await measure(withSteps(best.recipe, [stepOf(sp, { ...tune, ...amount }), ...graphSteps]), 'prune');
        if (!c.accurate) break; // or it failed: nothing of this granularity in the model (the error says why)
      }
    }
    // the float model the quantizers build on: a revisited pruning must beat it to go under them
    const pruneIncumbent = best;
    // Each quantizer goes on the pruned model when a pruning was kept, and on the unpruned one too: pruning
    // that bought size or a little speed in float may buy nothing once quantized, and cost accuracy.
    const prunedSteps = best.recipe.steps.some((st) => pruners.some((p) => p.pass.id === st.pass)) ? best.recipe.steps : undefined;
    const prefixes = prunedSteps ? [prunedSteps, graphSteps] : [graphSteps];
    const quantizers = applicable.filter((p) => p.kind === 'quantize').sort((a, b) => a.buildCost - b.buildCost);
    const tried: { sp: SearchablePass; c: Candidate; prefix: RecipeStep[] }[] = [];
    const pruned = (sp: SearchablePass) => reachableShare(sp, opts.opShare) < minShare && !(sp.reducesSize === true && opts.goals.maxSizeMB !== undefined);
    prefetch(quantizers.filter((sp) => !pruned(sp)).flatMap((sp) => prefixes.map((prefix) => withSteps(best.recipe, [...prefix, stepOf(sp)]))));
    for (const sp of quantizers) {
      const share = reachableShare(sp, opts.opShare);
      if (pruned(sp)) {
        const why = sp.speedsUp!.length === 0 ? 'it does not speed up this target and no size goal is set' : `${sp.speedsUp!.join('/')} take ${(share * 100).toFixed(1)}% of the baseline time: at most ${(1 / (1 - share)).toFixed(2)}× to gain`;
        skipped.push({ what: label(sp), reason: why });
        continue;
      }
      // refined on the prefix whose quantized model did better (accurate first, then faster)
      let pick: { sp: SearchablePass; c: Candidate; prefix: RecipeStep[] } | undefined;
      for (const prefix of prefixes) {
        const c = await measure(withSteps(best.recipe, [...prefix, stepOf(sp)]), 'quantize');
        const better = !pick || (c.accurate && !pick.c.accurate) || (c.accurate === pick.c.accurate && (c.measurement ? speedupOf(base, c.measurement) : 0) > (pick.c.measurement ? speedupOf(base, pick.c.measurement) : 0));
        if (better) pick = { sp, c, prefix };
      }
      tried.push(pick!);
    }
    // Refine the most promising quantizers first: fastest first, accurate or not (a variation may fix accuracy).
    const speed = (c: Candidate) => (c.measurement ? speedupOf(base, c.measurement) : 0);
    tried.sort((a, b) => speed(b.c) - speed(a.c));
    for (const { sp, c, prefix } of tried) {
      if (!c.measurement) continue;
      if (speed(c) < 1 / (1 + tie) && c.accurate) {
        skipped.push({ what: `parameter variations of ${label(sp)}`, reason: 'its default was slower than the baseline' });
        continue;
      }
      const variants = [c];
      prefetch(paramVariations(sp, opts.target).map((v) => withSteps(best.recipe, [...prefix, stepOf(sp, { [v.name]: v.value })])));
      for (const v of paramVariations(sp, opts.target)) variants.push(await measure(withSteps(best.recipe, [...prefix, stepOf(sp, { [v.name]: v.value })]), 'refine'));
      if (evaluator.fallback && !variants.some((v) => v.accurate)) {
        // the fastest variant that broke the bound and has a fallback (static per-channel 'none' has none: the
        // rec model's fastest variant was that one, and no fallback ran at all), its most sensitive nodes back in float
        let fb: Awaited<ReturnType<NonNullable<Evaluator['fallback']>>>;
        for (const v of variants.filter((x) => x.measurement).sort((a, b) => speed(b) - speed(a))) {
          if (clock.spent()) {
            stopped = `the budget was spent (${clock.trials} candidates in ${(clock.elapsedMs / 1000).toFixed(1)} s)`;
            throw new Stop();
          }
          // a time budget bounds the fallback too: it stops at the budget's end with what it has
          fb = await evaluator.fallback(v.recipe, base.metric, opts.goals.maxAccuracyDrop, () => clock.timeUp());
          if (fb) break;
        }
        if (fb) {
          const f = await measure(fb.recipe, 'fallback');
          f.reason = `${fb.note}; ${f.reason}`;
          variants.push(f);
        }
      }
      if (evaluator.train && !variants.some((v) => v.accurate)) {
        // still no accurate variant: train the fastest one's quantization (QAT), within what the budget has left
        const fastest = variants.filter((v) => v.measurement && v.stage !== 'fallback').sort((a, b) => speed(b) - speed(a))[0];
        const left = opts.budget.ms !== undefined ? (opts.budget.ms - clock.elapsedMs) / 1000 : Infinity;
        const qat = fastest && left > 1 ? evaluator.train(fastest.recipe, Math.min(left * 0.8, QAT_SECONDS)) : undefined;
        if (qat) {
          const q = await measure(qat.recipe, 'qat');
          q.reason = `${qat.note}; ${q.reason}`;
        }
      }
    }
    if (best !== baseline && best.recipe.steps.length > 0) await tuneSession('retune');
    // Back to what the training share skipped, now that the quantizers are done: their share was a guess of
    // what they would need (spam-bert, session 8: head, ffn and unstructured skipped, 102 s of 600 left unused).
    const before = best;
    await revisit(deferred, { pruneFrom, pruneIncumbent, graphSteps, tune, pruners, amountText });
    if (best !== before && best.recipe.steps.length > 0) await tuneSession('retune');
  } catch (e) {
    if (!(e instanceof Stop)) throw e;
  }
  if (space.session.ep?.includes('webgpu') && !opts.only) {
    // WebGPU on a device page: the float model in fp32 and in fp16 (what GPUs run fast; int8 has few WebGPU
    // kernels) runs there too, each timed side by side with the wasm baseline on the device, its outputs
    // checked against wasm's. They are judged like every candidate, against the best wasm recipe found: the
    // choice follows the measured figures. Timed after the budget too (two candidates): the budget bounds
    // the search on wasm, and a device with a GPU is not to be judged by it alone.
    const half = applicable.find((sp) => sp.pass.id === 'convert-half');
    const onGpu = [withSession(baselineRecipe, { ep: 'webgpu' }), ...(half ? [withSession(withSteps(baselineRecipe, [stepOf(half)]), { ep: 'webgpu' })] : [])];
    try {
      for (const r of onGpu) await measure(r, 'webgpu');
    } catch (e) {
      if (!(e instanceof Stop)) throw e;
    }
  }
  return conclude({ baseline, candidates, skipped, stopped, clock, goals: opts.goals, tie, forced, incumbent: best });
}

function label(sp: SearchablePass): string {
  return sp.variant ? `${sp.pass.id} (${sp.variant})` : sp.pass.id;
}

/** How long the candidate took, and where (the evaluator's phases; the rest is confirmation runs). */
function took(c: Candidate): string {
  const p = c.measurement?.phasesMs;
  const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  if (!p) return `[${s(c.evalMs)}]`;
  const rest = c.evalMs - Object.values(p).reduce((a, b) => a + b, 0);
  return `[${s(c.evalMs)}: ${Object.entries(p).map(([k, v]) => `${k} ${s(v)}`).join(', ')}${rest > 50 ? `, confirm ${s(rest)}` : ''}]`;
}

/** Two decimals, three under 1 ms (a 0.14 ms model's p50s would all read 0.1). */
const p50ms = (x: number) => x.toFixed(x < 1 ? 3 : 2);

function summary(m: Measurement): string {
  const v = m.vsBaseline;
  const paired = v ? ` (${v.speedup.toFixed(2)}× vs baseline side by side [${v.low.toFixed(2)}, ${v.high.toFixed(2)}])` : '';
  // both p50s of the paired run beside its ratio (the baseline's own p50, timed alone, is another run's)
  const p50 = v?.baselineP50 !== undefined ? `p50 ${p50ms(v.baselineP50)} → ${p50ms(m.latency.p50)} ms` : `p50 ${p50ms(m.latency.p50)} ms`;
  return `${p50}${paired}, ${(m.sizeBytes / 1e6).toFixed(2)} MB, ${m.metric.name} ${m.metric.value.toFixed(4)}`;
}
