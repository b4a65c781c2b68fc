import { describe, expect, it } from 'vitest';
import type { Model } from '../ir/graph.js';
import { randomInputs } from '../runtime/inputs.js';
import { quantizeWithFallback } from './fallback.js';
import { compareModels } from './fidelity.js';
import { mlpModel } from './fixtures.js';
import { nodeSensitivity } from './sensitivity.js';

/**
 * fc2 holds one weight 200× larger than the rest: per-tensor int8 rounds the others to ±1 step or 0. The
 * metric (top-1 agreement with the float model on near-tied random logits) is harsh: the other int8 layers
 * alone cost ~5 points, fc2 another ~8.
 */
const fragile = () => mlpModel({ fragileScale: 40 });
const evalFeeds = (m: Model) => [0, 1, 2, 3].map((seed) => randomInputs(m, { dims: { N: 64 }, seed: 200 + seed }));

/** Metric: top-1 agreement with the float model, in percent. */
const agreement = (ref: Model) => async (m: Model) => {
  const fs = await compareModels(ref, m, evalFeeds(ref));
  return 100 * fs[0]!.top1!;
};

describe('sensitivity and accuracy-aware fallback', () => {
  it('ranks the fragile layer first', async () => {
    const m = fragile();
    const ranking = await nodeSensitivity(m, { mode: 'dynamic' }, evalFeeds(m).slice(0, 1));
    expect(ranking.map((r) => r.node).sort()).toEqual(['fc1', 'fc2', 'fc3']);
    expect(ranking[0]!.node).toBe('fc2');
    expect(ranking[0]!.outputSqnr).toBeLessThan(ranking[1]!.outputSqnr);
  });

  it('moves the fragile layer back to float and meets the bound', async () => {
    const m = fragile();
    const { model, report } = await quantizeWithFallback(m, { mode: 'dynamic' }, { maxDrop: 6, evaluate: agreement(m), feeds: evalFeeds(m).slice(0, 1) });
    expect(report.fullyQuantized).toBeLessThan(report.baseline - 6); // the bound is not met without fallback
    expect(report.met).toBe(true);
    expect(report.floatNodes.map((n) => n.node)).toEqual(['fc2']);
    expect(model.graph.nodes.find((n) => n.name === 'fc2')!.opType).toBe('Gemm');
    expect(model.graph.nodes.filter((n) => n.opType === 'DynamicQuantizeMatMul')).toHaveLength(2);
  });

  it('decides on one split and reports the drop measured on a disjoint one', async () => {
    const m = fragile();
    const heldOut = [0, 1, 2, 3].map((seed) => randomInputs(m, { dims: { N: 64 }, seed: 900 + seed }));
    const seen: Model[] = [];
    const report = async (x: Model) => {
      seen.push(x);
      return 100 * (await compareModels(m, x, heldOut))[0]!.top1!;
    };
    const r = await quantizeWithFallback(m, { mode: 'dynamic' }, { maxDrop: 6, evaluate: agreement(m), report, feeds: evalFeeds(m).slice(0, 1) });
    // the held-out data grades only the baseline and the model chosen, never a trial
    expect(seen).toEqual([m, r.model]);
    expect(r.report.best).toBe(await report(r.model));
    expect(r.report.drop).toBeCloseTo(r.report.baseline - r.report.best, 9);
    expect(r.report.selection!.best).toBe(Math.max(...r.report.trials.map((t) => t.score)));
    expect(r.report.best).not.toBe(r.report.selection!.best); // other data, another figure
    expect(r.report.message).toMatch(/on held-out data/);
  });

  it('an unreachable bound is reported as not met and the best model is kept', async () => {
    const m = fragile();
    const { report } = await quantizeWithFallback(m, { mode: 'dynamic' }, { maxDrop: -1, evaluate: agreement(m), feeds: evalFeeds(m).slice(0, 1), trials: 2 });
    expect(report.met).toBe(false);
    expect(report.message).toMatch(/not met/);
    expect(report.best).toBe(Math.max(...report.trials.map((t) => t.score)));
  });

  it('stops at the deadline: mid-scan it runs no trial, between trials it runs no more', async () => {
    const m = fragile();
    const scores: Model[] = [];
    const evaluate = async (x: Model) => (scores.push(x), agreement(m)(x));
    // the time is up after the first node of the sensitivity scan (timeUp is asked before each node)
    let asked = 0;
    const r = await quantizeWithFallback(m, { mode: 'dynamic' }, { maxDrop: 6, evaluate, feeds: evalFeeds(m).slice(0, 1), timeUp: () => ++asked > 1 });
    expect(r.report.stopped).toBe('the time was up during the sensitivity scan (1 of 3 nodes ranked)');
    expect(r.report.trials).toHaveLength(1); // the fully quantized model only
    expect(scores).toHaveLength(2); // baseline and fully quantized: no trial
    expect(r.report.met).toBe(false);
    expect(r.report.message).toMatch(/\(stopped: the time was up during the sensitivity scan/);
    // the time is up after the scan and one trial (asked 3× in the scan, then before each trial)
    asked = 0;
    const r2 = await quantizeWithFallback(m, { mode: 'dynamic' }, { maxDrop: -1, evaluate: agreement(m), feeds: evalFeeds(m).slice(0, 1), timeUp: () => ++asked > 4 });
    expect(r2.report.stopped).toBe('the time was up after 1 trial(s)');
    expect(r2.report.trials).toHaveLength(2);
  });
});
