import type { Model } from '../ir/graph.js';
import type { Tensor } from '../ir/tensor.js';
import { quantizeModel, type QuantizeOptions } from './quantize.js';
import { rankNodes, withStaticStats, type NodeSensitivity } from './sensitivity.js';

/**
 * Accuracy-aware quantization: quantize everything, evaluate; while the metric dropped by more than the
 * bound, move the most sensitive nodes back to float — one at a time for the first trials, then in doubling
 * batches — re-evaluating each time, within a trial budget. The best model seen is kept (never a silently
 * worse one), and the report says which nodes stayed float, why, and whether the bound was met.
 */
export interface FallbackOptions {
  /** Largest allowed drop of the metric, in its own units (percentage points for accuracies). */
  maxDrop: number;
  /** Scores a model (accuracy, -CER, fidelity…) for the decisions: when to stop moving nodes back to float. */
  evaluate: (model: Model) => Promise<number>;
  /**
   * Scores a model on data disjoint from `evaluate`'s (and from `feeds`): the baseline, score and drop reported
   * (and whether the bound is met) come from it, so the choice is not graded on the data that made it.
   */
  report?: (model: Model) => Promise<number>;
  /** False for error-like metrics (CER, loss): a rise is a drop. */
  higherIsBetter?: boolean;
  /** Quantize-and-evaluate trials after the first (default 10). */
  trials?: number;
  /** Feeds the sensitivity ranking runs on. */
  feeds: readonly Record<string, Tensor>[];
  /** How many trials move a single node before batches start (default 3). */
  singleSteps?: number;
  /**
   * Asked before each node of the sensitivity scan and before each trial: once true (a search's time budget
   * is spent), the fallback stops there and returns the best model so far, saying where it stopped.
   */
  timeUp?: () => boolean;
  log?: (msg: string) => void;
}

export interface FallbackTrial {
  floatNodes: number;
  score: number;
  drop: number;
}

export interface FallbackReport {
  met: boolean;
  maxDrop: number;
  baseline: number;
  /** Score with every node quantized. */
  fullyQuantized: number;
  /** Score of the model returned. */
  best: number;
  drop: number;
  /** Nodes left in float, in the order they were moved, with the sensitivity that ranked them. */
  floatNodes: NodeSensitivity[];
  ranking: NodeSensitivity[];
  /** Scores on the data the decisions were made on (the trials'), when `report` measured the figures above. */
  selection?: { baseline: number; best: number; drop: number };
  trials: FallbackTrial[];
  /** Where `timeUp` ended it before the bound held and before its trials ran out. */
  stopped?: string;
  message: string;
}

export async function quantizeWithFallback(model: Model, options: QuantizeOptions, f: FallbackOptions): Promise<{ model: Model; report: FallbackReport }> {
  const sign = f.higherIsBetter === false ? -1 : 1;
  const dropOf = (score: number) => sign * (baseline - score);
  const o = await withStaticStats(model, options);
  const baseline = await f.evaluate(model);
  const quantize = async (floatNodes: string[]) => (await quantizeModel(model, { ...o, inPlace: false, exclude: [...(o.exclude ?? []), ...floatNodes] })).model;
  let bestModel = await quantize([]);
  const fullyQuantized = await f.evaluate(bestModel);
  let best = { score: fullyQuantized, floatCount: 0 };
  const trials: FallbackTrial[] = [{ floatNodes: 0, score: fullyQuantized, drop: dropOf(fullyQuantized) }];
  f.log?.(`fallback: baseline ${fmt(baseline)}, fully quantized ${fmt(fullyQuantized)} (drop ${fmt(dropOf(fullyQuantized))}, bound ${fmt(f.maxDrop)})`);
  let ranking: NodeSensitivity[] = [];
  let stopped: string | undefined;
  if (dropOf(fullyQuantized) > f.maxDrop) {
    const ranked = await rankNodes(model, o, f.feeds, { ...(f.log ? { log: f.log } : {}), ...(f.timeUp ? { timeUp: f.timeUp } : {}) });
    // a ranking cut short would move the wrong nodes first: no trials on it
    if (!ranked.complete) stopped = `the time was up during the sensitivity scan (${ranked.ranking.length} of ${ranked.of} nodes ranked)`;
    else ranking = ranked.ranking;
    const budget = f.trials ?? 10;
    const singles = f.singleSteps ?? 3;
    let count = 0;
    for (let t = 0; t < budget && count < ranking.length; t++) {
      if (f.timeUp?.()) {
        stopped = `the time was up after ${t} trial(s)`;
        break;
      }
      count = Math.min(ranking.length, t < singles ? count + 1 : count + 2 ** (t - singles + 1));
      const names = ranking.slice(0, count).map((r) => r.node);
      const m = await quantize(names);
      const score = await f.evaluate(m);
      trials.push({ floatNodes: count, score, drop: dropOf(score) });
      f.log?.(`fallback trial ${t + 1}: ${count} node(s) float → ${fmt(score)} (drop ${fmt(dropOf(score))})`);
      if (dropOf(score) < dropOf(best.score)) {
        best = { score, floatCount: count };
        bestModel = m;
      }
      if (dropOf(score) <= f.maxDrop) break;
    }
  }
  const floatNodes = ranking.slice(0, best.floatCount);
  const selection = { baseline, best: best.score, drop: dropOf(best.score) };
  // the reported figures: on held-out data when there is some, else on the data the decisions were made on
  const held = f.report ? { baseline: await f.report(model), best: await f.report(bestModel) } : undefined;
  const reported = held ? { ...held, drop: sign * (held.baseline - held.best) } : selection;
  const met = reported.drop <= f.maxDrop;
  const where = held ? ` on held-out data (${fmt(selection.drop)} on the data the fallback decided on)` : '';
  const message = met
    ? `met: drop ${fmt(reported.drop)}${where} ≤ ${fmt(f.maxDrop)} with ${floatNodes.length} node(s) kept float`
    : `not met: the best model found drops ${fmt(reported.drop)}${where} (> ${fmt(f.maxDrop)}) with ${floatNodes.length} node(s) float after ${trials.length - 1} trial(s)${stopped ? ` (stopped: ${stopped})` : ''}; it is the one written`;
  return {
    model: bestModel,
    report: { met, maxDrop: f.maxDrop, baseline: reported.baseline, fullyQuantized, best: reported.best, drop: reported.drop, floatNodes, ranking, ...(held ? { selection } : {}), trials, ...(stopped ? { stopped } : {}), message },
  };
}

const fmt = (x: number) => (Math.abs(x) >= 100 ? x.toFixed(1) : x.toPrecision(4));
