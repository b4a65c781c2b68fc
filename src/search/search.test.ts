import { describe, expect, it, vi } from 'vitest';
import type { Pass } from '../passes/pass.js';
import { checkGoals, parseAccuracyDrop, type Goals, type Measurement } from './goals.js';
import { parseBudget } from './budget.js';
import { paretoFront } from './pareto.js';
import { DEFAULT_SESSION, parseRecipeFile, recipeKey, type Recipe } from './recipe.js';
import { runSearch, type Evaluator } from './search.js';
import type { SearchSpace } from './space.js';

const noop = (id: string, params: Pass<any>['params'] = {}): Pass<any> => ({ id, doc: id, params, run: (model) => ({ model, modified: false }) });

const fold = noop('fake-fold');
const quantA = noop('fake-quant-a', { fallback: { type: 'boolean', default: false, search: [false, true], doc: 'keep sensitive layers in float' } });
const quantB = noop('fake-quant-resize');

const space: SearchSpace = {
  passes: [
    { pass: quantA, kind: 'quantize', buildCost: 5, speedsUp: ['MatMul'] },
    { pass: quantB, kind: 'quantize', buildCost: 2, speedsUp: ['Resize'] },
    { pass: fold, kind: 'graph', buildCost: 1 },
  ],
  session: { threads: [1, 2], optLevel: ['basic', 'all'], executionMode: ['sequential'] },
};

/**
 * A fake evaluator with known answers: 10 ms at baseline; 1 thread 1.6× slower; level basic 1.05×;
 * fake-fold 0.9×; fake-quant-a 0.5× but 2 points less accurate, 0.6× and 0.5 points with fallback.
 */
class FakeEvaluator implements Evaluator {
  calls: Recipe[] = [];
  async evaluate(r: Recipe): Promise<Measurement> {
    this.calls.push(r);
    let ms = 10;
    let acc = 0.9;
    let size = 4e6;
    if (r.session.threads === 1) ms *= 1.6;
    if (r.session.optLevel === 'basic') ms *= 1.05;
    for (const s of r.steps) {
      if (s.pass === 'fake-fold') ms *= 0.9;
      if (s.pass === 'fake-quant-a') {
        ms *= s.params.fallback ? 0.6 : 0.5;
        acc -= s.params.fallback ? 0.005 : 0.02;
        size /= 4;
      }
      if (s.pass === 'fake-quant-resize') throw new Error('must have been pruned');
    }
    return { latency: { p50: ms, p99: ms * 1.2, mean: ms }, sizeBytes: size, metric: { name: 'accuracy', value: acc, higherIsBetter: true, scale: 'fraction' } };
  }
}

/** A pruner whose granularity and sparsity are parameters (the fakes' evaluators give them their effect). */
const prune = noop('fake-prune', {
  granularity: { type: 'string', default: 'channel', doc: '' },
  sparsity: { type: 'number', default: 0.5, search: [0.25, 0.5, 0.75], doc: '' },
  steps: { type: 'integer', default: 0, doc: '' },
  distill: { type: 'number', default: 0, doc: '' },
});

/**
 * performance.now() that only the test moves on (`clock.fake += ms`): candidates that take minutes in no time,
 * and no real time in what the search sees (the "55 s left" of a verdict does not become "54 s" on a slow machine).
 */
function fakeClock() {
  const clock = { fake: 0, restore: () => spy.mockRestore() };
  const spy = vi.spyOn(performance, 'now').mockImplementation(() => clock.fake);
  return clock;
}

const goals = (g: Partial<Goals> = {}): Goals => ({ maxAccuracyDrop: { value: 1, relative: false }, ...g });
const opts = (g: Partial<Goals> = {}, budget = parseBudget('50')) => ({
  goals: goals(g),
  budget,
  target: 'cpu' as const,
  baseSession: DEFAULT_SESSION,
  opShare: { MatMul: 0.7, Resize: 0.02, Add: 0.28 },
});

describe('search with a fake-fast evaluator', () => {
  it('gives each candidate the bar to beat (the incumbent’s speed-up and size, the bound), none with screen: false', async () => {
    const bars: unknown[] = [];
    const ev = new FakeEvaluator();
    const seeing: Evaluator = { evaluate: (r, b, bar) => (bars.push(bar), ev.evaluate(r)) };
    const res = await runSearch(space, seeing, opts());
    expect(bars[0]).toBeUndefined(); // the baseline
    const metric = res.baseline.measurement!.metric;
    expect(bars[1]).toEqual({ speedup: 1, sizeBytes: 4e6, accuracy: { baseline: metric, bound: { value: 1, relative: false } } });
    // after fake-fold won, candidates are held to its speed-up
    const fold = res.candidates.findIndex((c) => c.stage === 'graph' && c.verdict === 'improved');
    expect((bars[fold + 1] as { speedup: number }).speedup).toBeCloseTo(1 / 0.9, 9);
    bars.length = 0;
    await runSearch(space, seeing, { ...opts(), screen: false });
    expect(bars.every((b) => b === undefined)).toBe(true);
  });

  it('explores cheap first, prunes by the profile, refines parameters and picks the fastest accurate recipe', async () => {
    const ev = new FakeEvaluator();
    const res = await runSearch(space, ev, opts());
    expect(res.candidates.map((c) => c.stage)).toEqual(['baseline', 'session', 'session', 'graph', 'quantize', 'refine', 'retune', 'retune']);
    expect(ev.calls).toHaveLength(res.candidates.length); // nothing evaluated twice
    expect(res.skipped.map((s) => s.what)).toContain('fake-quant-resize');
    expect(res.skipped.find((s) => s.what === 'fake-quant-resize')!.reason).toMatch(/Resize take 2\.0% of the baseline time/);
    const quant = res.candidates.find((c) => c.stage === 'quantize')!;
    expect(quant.verdict).toBe('dropped');
    expect(quant.reason).toMatch(/accuracy drop 2 points > 1 points/);
    expect(res.met).toBe(true);
    expect(res.chosen.recipe.steps).toEqual([{ pass: 'fake-fold', params: {} }, { pass: 'fake-quant-a', params: { fallback: true } }]);
    expect(res.chosen.measurement!.latency.p50).toBeCloseTo(10 * 0.9 * 0.6, 9);
    expect(res.stopped).toMatch(/exhausted/);
    expect(res.warnings).toEqual([expect.stringMatching(/is worse than the baseline on .*: lower is worse\), within the bound/)]);
    // the chosen recipe is on the Pareto front of usable candidates; the 2-point-drop one (fastest) is not usable
    expect(res.pareto).toContain(res.chosen.id);
    expect(res.pareto).not.toContain(quant.id);
    expect(res.pareto).not.toContain(res.baseline.id); // fake-fold alone is as accurate and faster
  });

  it('stops when the trial budget is spent', async () => {
    const ev = new FakeEvaluator();
    const res = await runSearch(space, ev, opts({}, parseBudget('3')));
    expect(res.candidates).toHaveLength(4); // baseline + 3 trials
    expect(res.stopped).toMatch(/budget was spent \(3 candidates/);
    expect(res.chosen.recipe.steps).toEqual([{ pass: 'fake-fold', params: {} }]);
  });

  it('stops as soon as a performance target is met', async () => {
    const res = await runSearch(space, new FakeEvaluator(), opts({ maxLatencyMs: 9.5 }));
    expect(res.met).toBe(true);
    expect(res.candidates.at(-1)!.recipe.steps).toEqual([{ pass: 'fake-fold', params: {} }]);
    expect(res.stopped).toBe(`candidate ${res.chosen.id} met every goal`);
  });

  it('says which goal failed, by how much, and what would be needed', async () => {
    const res = await runSearch(space, new FakeEvaluator(), opts({ maxLatencyMs: 1 }));
    expect(res.met).toBe(false);
    expect(res.failures).toHaveLength(1);
    expect(res.failures[0]).toMatch(/^max-latency not met by any candidate that meets the other goals; closest: #\d+ fake-fold → fake-quant-a\(fallback=true\): latency p50 5\.4 ms > 1 ms \(440% over\)/);
    expect(res.failures[0]).toMatch(/Needed: another 5\.40× speed-up/);
    // best effort: the fastest accurate candidate
    expect(res.chosen.measurement!.latency.p50).toBeCloseTo(5.4, 9);
  });

  it('returns the baseline, and says so, when nothing is faster', async () => {
    const slow: Evaluator = {
      evaluate: async (r) => ({ latency: { p50: r.steps.length || r.session.threads !== 2 || r.session.optLevel !== 'all' ? 12 : 10, p99: 12, mean: 10 }, sizeBytes: 1e6, metric: { name: 'acc', value: 0.5, higherIsBetter: true, scale: 'fraction' } }),
    };
    const res = await runSearch(space, slow, opts());
    expect(res.chosen).toBe(res.baseline);
    expect(res.warnings[0]).toMatch(/no candidate beat the baseline/);
  });

  it('re-measures small gains side by side and drops those that do not hold', async () => {
    const ev = new FakeEvaluator();
    const confirms: string[] = [];
    const noisy: Evaluator = {
      evaluate: (r) => ev.evaluate(r),
      async confirm(a, b) {
        confirms.push(b.steps.map((s) => s.pass).join('+'));
        // fake-fold's 0.9× was noise; anything else holds
        return b.steps.length === 1 && b.steps[0]!.pass === 'fake-fold' ? { ratio: 1.01, low: 0.97, high: 1.05 } : { ratio: 0.6, low: 0.55, high: 0.65 };
      },
    };
    const res = await runSearch(space, noisy, opts());
    // every accepted gain is confirmed, large ones too (the quantizer's 1.67×)
    expect(confirms[0]).toBe('fake-fold');
    expect(confirms).toContain('fake-fold+fake-quant-a');
    const fold = res.candidates.find((c) => c.stage === 'graph')!;
    expect(fold.verdict).toBe('dropped');
    expect(fold.reason).toMatch(/not confirmed side by side: 1\.010× .*\[0\.970, 1\.050\]/);
    // the fold brought no speed on its own, but it changed the graph and kept accuracy: quantizers build on it
    expect(res.chosen.recipe.steps.map((s) => s.pass)).toEqual(['fake-fold', 'fake-quant-a']);
  });

  it('believes a speed gain only when a second independent side-by-side run confirms it too', async () => {
    const ev = new FakeEvaluator();
    const calls = new Map<string, number>();
    const fluke: Evaluator = {
      evaluate: async (r) => ({ ...(await ev.evaluate(r)), sizeBytes: 4e6 }), // no size gain to keep it for
      // the quantizer's gain clears the tie in its first interleaved run only (a lucky run on a busy machine)
      async confirm(_a, b) {
        const key = b.steps.map((s) => s.pass).join('+');
        calls.set(key, (calls.get(key) ?? 0) + 1);
        if (b.steps.some((s) => s.pass === 'fake-quant-a')) return calls.get(key)! % 2 === 1 ? { ratio: 0.8, low: 0.68, high: 0.96 } : { ratio: 1.1, low: 0.57, high: 2.2 };
        return { ratio: 0.9, low: 0.88, high: 0.92 };
      },
    };
    const res = await runSearch(space, fluke, opts());
    const quant = res.candidates.filter((c) => c.recipe.steps.some((s) => s.pass === 'fake-quant-a') && c.accurate);
    expect(quant.length).toBeGreaterThan(0);
    for (const c of quant) {
      expect(c.verdict).toBe('dropped');
      expect(c.reason).toMatch(/not confirmed side by side: 0\.800× the latency \[0\.680, 0\.960\] once, but 1\.100× \[0\.570, 2\.200\] in a second run/);
    }
    expect(res.chosen.recipe.steps.map((s) => s.pass)).toEqual(['fake-fold']);
    // a gain that holds twice is believed, and says both figures
    const fold = res.candidates.find((c) => c.stage === 'graph')!;
    expect(fold.verdict).toBe('improved');
    expect(fold.reason).toMatch(/confirmed side by side.*: 0\.900× the latency \[0\.880, 0\.920\], again 0\.900× \[0\.880, 0\.920\]/);
    expect(calls.get('fake-fold')).toBe(2); // two independent interleaved runs (this fake has no paired baseline figure)
  });

  it('believes no gain, however large, that does not hold side by side: the simpler recipe stays', async () => {
    const ev = new FakeEvaluator();
    const noisy: Evaluator = {
      evaluate: async (r) => ({ ...(await ev.evaluate(r)), sizeBytes: 4e6 }), // no size gain to keep it for
      // timed apart, fake-quant-a looked 2× faster; interleaved with the incumbent it is not
      confirm: async (_a, b) => (b.steps.some((s) => s.pass === 'fake-quant-a') ? { ratio: 0.98, low: 0.9, high: 1.07 } : { ratio: 0.9, low: 0.88, high: 0.92 }),
    };
    const res = await runSearch(space, noisy, opts());
    const quant = res.candidates.filter((c) => c.recipe.steps.some((s) => s.pass === 'fake-quant-a') && c.accurate);
    expect(quant.length).toBeGreaterThan(0);
    for (const c of quant) expect(c.verdict).toBe('dropped');
    expect(res.chosen.recipe.steps.map((s) => s.pass)).toEqual(['fake-fold']);
  });

  it('decides on paired figures (speed-up timed side by side with the baseline), not on latencies timed apart', async () => {
    // timed apart, every candidate's p50 drifts (a busy machine); the paired speed-ups are what is true:
    // only fake-fold is faster (1.2×), and fake-quant-a is slower (0.8×) though its p50 alone reads 2 ms
    const evaluate = async (r: Recipe, baseline?: Recipe): Promise<Measurement> => {
      const quant = r.steps.some((s) => s.pass === 'fake-quant-a');
      const fold = r.steps.some((s) => s.pass === 'fake-fold');
      const speedup = r.steps.length === 0 ? 1 : quant ? 0.8 : fold ? 1.2 : 1;
      const alone = quant ? 2 : 10;
      return {
        latency: { p50: alone, p99: alone, mean: alone },
        sizeBytes: quant ? 1e6 : 4e6,
        metric: { name: 'acc', value: 0.9, higherIsBetter: true, scale: 'fraction' },
        ...(baseline ? { vsBaseline: { speedup: r.session.threads === 2 && r.session.optLevel === 'all' ? speedup : 0.7, low: speedup * 0.97, high: speedup * 1.03 } } : {}),
      };
    };
    const res = await runSearch(space, { evaluate, confirm: async () => ({ ratio: 0.83, low: 0.8, high: 0.86 }) }, opts());
    expect(res.chosen.recipe.steps.map((s) => s.pass)).toEqual(['fake-fold']);
    // the Pareto front uses the paired figures: timed apart, the quantized model (2 ms, smaller) would
    // dominate fake-fold; side by side it is slower, and fake-fold is on the front
    expect(res.pareto).toContain(res.chosen.id);
    expect(res.pareto).not.toContain(res.baseline.id);
  });

  it('runs the accuracy-aware fallback when every variant of a quantizer breaks the bound', async () => {
    const ev = new FakeEvaluator();
    const withFallback: Evaluator = {
      async evaluate(r) {
        const m = await ev.evaluate({ ...r, steps: r.steps.map((s) => (s.params.exclude ? { ...s, params: { fallback: true } } : s)) });
        return m;
      },
      async fallback(r, baseline, bound) {
        expect(baseline.value).toBeCloseTo(0.9, 9);
        expect(bound).toEqual({ value: 1, relative: false });
        const last = r.steps.at(-1)!;
        return { recipe: { ...r, steps: [...r.steps.slice(0, -1), { pass: last.pass, params: { ...last.params, exclude: ['MatMul_3'] } }] }, note: 'accuracy-aware fallback: 1 node kept in float' };
      },
    };
    const noVariants: SearchSpace = { ...space, passes: space.passes.map((p) => (p.pass === quantA ? { ...p, searchParams: [] } : p)) };
    const res = await runSearch(noVariants, withFallback, opts());
    const fb = res.candidates.find((c) => c.stage === 'fallback')!;
    expect(fb.recipe.steps.at(-1)).toEqual({ pass: 'fake-quant-a', params: { exclude: ['MatMul_3'] } });
    expect(fb.reason).toMatch(/^accuracy-aware fallback: 1 node kept in float; /);
    expect(res.chosen).toBe(fb);
  });

  // "p50 0.21 ms (1.53× vs baseline side by side)" under a baseline p50 of 0.14 ms: the line now gives both p50s of
  // the paired run its ratio comes from (the baseline's own p50 is another run's)
  it('logs a candidate with both p50s of the paired run beside its ratio', async () => {
    const ev = new FakeEvaluator();
    const paired: Evaluator = {
      async evaluate(r, baseline) {
        const m = await ev.evaluate(r);
        if (!baseline) return { ...m, latency: { ...m.latency, p50: 0.14 } };
        // in the pair the baseline ran at 0.32 ms, the candidate at 0.21 ms
        return { ...m, latency: { ...m.latency, p50: 0.21 }, vsBaseline: { speedup: 0.32 / 0.21, low: 1.5, high: 1.55, baselineP50: 0.32 } };
      },
    };
    const lines: string[] = [];
    await runSearch(space, paired, { ...opts(), log: (l) => lines.push(l) });
    expect(lines.find((l) => l.startsWith('[0] '))).toMatch(/ — p50 0\.140 ms, /);
    expect(lines.find((l) => l.startsWith('[1] '))).toMatch(/ — p50 0\.320 → 0\.210 ms \(1\.52× vs baseline side by side \[1\.50, 1\.55\]\), /);
  });

  it('runs the fallback from the fastest variant that has one (the fastest may have none)', async () => {
    const ev = new FakeEvaluator();
    const asked: Recipe[] = [];
    const firstHasNone: Evaluator = {
      // both variants of fake-quant-a break the bound here (its fallback param is ignored), at the same speed
      evaluate: (r) => ev.evaluate({ ...r, steps: r.steps.map((s) => (s.pass === 'fake-quant-a' && !s.params.exclude ? { ...s, params: {} } : s)) }),
      async fallback(r) {
        asked.push(r);
        if (asked.length === 1) return undefined; // no fallback for this variant (static per-channel 'none')
        const last = r.steps.at(-1)!;
        return { recipe: { ...r, steps: [...r.steps.slice(0, -1), { pass: last.pass, params: { ...last.params, exclude: ['MatMul_3'] } }] }, note: 'accuracy-aware fallback: 1 node kept in float' };
      },
    };
    const res = await runSearch(space, firstHasNone, opts());
    expect(asked).toHaveLength(2);
    expect(asked[0]).not.toEqual(asked[1]);
    expect(res.candidates.filter((c) => c.stage === 'fallback')).toHaveLength(1);
  });

  it('passes the time budget down to the fallback: it is told when the time is up, and the search stops there', async () => {
    const ev = new FakeEvaluator();
    let polls = 0;
    let sawTimeUp = false;
    const clock = fakeClock();
    try {
      const slowFallback: Evaluator = {
        evaluate: (r) => ev.evaluate(r),
        async fallback(r, _baseline, _bound, timeUp) {
          // a fallback that would run for minutes: it polls the deadline between its steps of 100 (fake) ms each,
          // at most 10 s; the candidates before it take no time, so a budget of 1 s ends inside it, at its 11th poll
          const t0 = performance.now();
          while (performance.now() - t0 < 10_000) {
            polls++;
            if (timeUp?.()) {
              sawTimeUp = true;
              break;
            }
            await new Promise((go) => setImmediate(go));
            clock.fake += 100;
          }
          return { recipe: { ...r, steps: [...r.steps.slice(0, -1), { pass: r.steps.at(-1)!.pass, params: { exclude: ['MatMul_3'] } }] }, note: 'accuracy-aware fallback: stopped' };
        },
      };
      const noVariants: SearchSpace = { ...space, passes: space.passes.map((p) => (p.pass === quantA ? { ...p, searchParams: [] } : p)) };
      const res = await runSearch(noVariants, slowFallback, opts({}, parseBudget('1s')));
      expect(sawTimeUp).toBe(true);
      expect(polls).toBe(11); // told at 1 s, not at the fallback's own 10 s
      expect(performance.now()).toBe(1000);
      expect(res.stopped).toMatch(/^the budget was spent/);
      expect(res.candidates.some((c) => c.stage === 'fallback')).toBe(false); // not measured after the budget
    } finally {
      clock.restore();
    }
  });

  it('tries quantization-aware training in place of a quantizer that missed the bound, when the evaluator can train', async () => {
    const ev = new FakeEvaluator();
    const seconds: number[] = [];
    // QAT: the quantized speed (0.5×) at 0.3 points lost
    const trainable: Evaluator = {
      async evaluate(r) {
        const qat = r.steps.at(-1)?.pass === 'qat';
        const m = await ev.evaluate({ ...r, steps: r.steps.map((s) => (s.pass === 'qat' ? { pass: 'fake-quant-a', params: {} } : s)) });
        return qat ? { ...m, metric: { ...m.metric, value: 0.897 } } : m;
      },
      train(r, s) {
        seconds.push(s);
        const last = r.steps.at(-1)!;
        if (last.pass !== 'fake-quant-a') return undefined;
        return { recipe: { ...r, steps: [...r.steps.slice(0, -1), { pass: 'qat', params: { ...last.params, seconds: Math.round(s) } }] }, note: 'quantization-aware training' };
      },
    };
    const res = await runSearch({ ...space, passes: space.passes.map((p) => (p.pass === quantA ? { ...p, searchParams: [] } : p)) }, trainable, opts({}, parseBudget('10m')));
    const q = res.candidates.find((c) => c.stage === 'qat')!;
    expect(q.recipe.steps.at(-1)!.pass).toBe('qat');
    expect(q.reason).toMatch(/^quantization-aware training; /);
    expect(res.chosen).toBe(q);
    // time-limited by what the budget has left (10 min, minus what the search spent), at most 600 s
    expect(seconds).toHaveLength(1);
    expect(seconds[0]).toBeGreaterThan(400);
    expect(seconds[0]).toBeLessThanOrEqual(480);
    // an accurate quantizer never triggers it
    const accurate: Evaluator = { evaluate: (r) => ev.evaluate(r), train: () => { throw new Error('QAT must not run'); } };
    const r2 = await runSearch(space, accurate, opts({ maxAccuracyDrop: { value: 3, relative: false } }));
    expect(r2.candidates.some((c) => c.stage === 'qat')).toBe(false);
  });

  it('prune steps: every granularity at its sparsity values, fine-tuned when there is training data; the best goes under the quantizer, then QAT', async () => {
    const entry = (granularity: string, speedsUp: string[]) => ({ pass: prune, kind: 'prune' as const, variant: granularity, params: { granularity }, buildCost: 4, speedsUp, searchParams: granularity === 'n:m' ? [] : ['sparsity'] });
    const pruneSpace: SearchSpace = {
      ...space,
      passes: [...space.passes.map((p) => (p.pass === quantA ? { ...p, searchParams: [] } : p)), entry('channel', ['MatMul']), entry('n:m', ['MatMul']), entry('head', ['Attention'])],
    };
    // channel: latency × (1 − 0.8·s), drop 0.2 / 0.6 / 3 points at s = 0.25 / 0.5 / 0.75 (half that fine-tuned);
    // 2:4 keeps the speed. Quantizing on top of channel 0.5 loses 0.5 more points: over the bound, so QAT.
    const trained: Recipe[] = [];
    const ev: Evaluator = {
      async evaluate(r) {
        const m = await new FakeEvaluator().evaluate({ ...r, steps: r.steps.filter((st) => st.pass !== 'fake-prune' && st.pass !== 'qat') });
        let ms = m.latency.p50;
        let acc = m.metric.value;
        for (const st of r.steps) {
          if (st.pass === 'qat') ms *= 0.5;
          if (st.pass !== 'fake-prune') continue;
          const sp = Number(st.params.sparsity ?? 0.5);
          const tuned = Number(st.params.steps ?? 0) > 0 ? 0.5 : 1;
          if (st.params.granularity === 'channel') {
            ms *= 1 - 0.8 * sp;
            acc -= (sp === 0.25 ? 0.002 : sp === 0.5 ? 0.006 : 0.03) * tuned;
          } else acc -= 0.001;
        }
        return { ...m, latency: { p50: ms, p99: ms, mean: ms }, metric: { ...m.metric, value: acc } };
      },
      train(r) {
        trained.push(r);
        return { recipe: { ...r, steps: [...r.steps.slice(0, -1), { pass: 'qat', params: {} }] }, note: 'quantization-aware training' };
      },
    };
    const res = await runSearch(pruneSpace, ev, { ...opts({ maxAccuracyDrop: { value: 0.7, relative: false } }, parseBudget('10m')), pruneFinetune: { steps: 100, distill: 0.5 } });
    const pruned = res.candidates.filter((c) => c.stage === 'prune');
    // each on the input graph (BatchNorm still there for fine-tuning), the graph passes after it
    // (amounts upwards until one breaks the bound)
    expect(pruned.map((c) => `${c.recipe.steps[0]!.params.granularity}@${c.recipe.steps[0]!.params.sparsity ?? '-'}`)).toEqual(['channel@0.25', 'channel@0.5', 'channel@0.75', 'n:m@-']);
    for (const c of pruned) expect(c.recipe.steps.map((st) => st.pass)).toEqual(['fake-prune', 'fake-fold']);
    for (const c of pruned) expect(c.recipe.steps[0]!.params).toMatchObject({ steps: 100, distill: 0.5 });
    expect(res.skipped.find((s) => s.what === 'fake-prune (head)')!.reason).toMatch(/Attention take 0\.0% of the baseline time: nothing of this granularity to prune/);
    // channel 0.75 fine-tuned loses 1.5 points: dropped; channel 0.5 (0.3 points) is the best accurate pruning
    expect(pruned.find((c) => c.recipe.steps[0]!.params.sparsity === 0.75)!.accurate).toBe(false);
    const quant = res.candidates.find((c) => c.stage === 'quantize' && c.recipe.steps.at(-1)!.pass === 'fake-quant-a')!;
    expect(quant.recipe.steps.map((st) => st.pass)).toEqual(['fake-prune', 'fake-fold', 'fake-quant-a']);
    expect(quant.recipe.steps[0]!.params).toEqual({ granularity: 'channel', sparsity: 0.5, steps: 100, distill: 0.5 });
    // and on the unpruned model too, so that pruning under a quantizer is a measured choice
    expect(res.candidates.filter((c) => c.stage === 'quantize').map((c) => c.recipe.steps.map((st) => st.pass).join(' → '))).toEqual(['fake-prune → fake-fold → fake-quant-a', 'fake-fold → fake-quant-a']);
    // quantized on top of the pruning it breaks the bound; QAT replaces the quantizer: prune → QAT in one recipe
    expect(trained).toHaveLength(1);
    expect(res.chosen.recipe.steps.map((st) => st.pass)).toEqual(['fake-prune', 'fake-fold', 'qat']);
    // without training data the prune steps are one-shot (no fine-tuning parameters in the recipe)
    const oneShot = await runSearch(pruneSpace, { evaluate: (r) => ev.evaluate(r) }, opts({ maxAccuracyDrop: { value: 0.7, relative: false } }, parseBudget('10m')));
    for (const c of oneShot.candidates.filter((x) => x.stage === 'prune')) expect(c.recipe.steps[0]!.params.steps).toBeUndefined();
    // one-shot: channel 0.5 loses 0.6 points (within 0.7), 0.75 loses 3 and is the last amount tried
    expect(oneShot.candidates.filter((x) => x.stage === 'prune').map((c) => c.recipe.steps[0]!.params.sparsity ?? '-')).toEqual([0.25, 0.5, 0.75, '-']);
    // a granularity whose smallest amount breaks the bound is not tried at larger ones
    const strict = await runSearch(pruneSpace, { evaluate: (r) => ev.evaluate(r) }, opts({ maxAccuracyDrop: { value: 0.15, relative: false } }, parseBudget('10m')));
    expect(strict.candidates.filter((x) => x.stage === 'prune').map((c) => `${c.recipe.steps[0]!.params.granularity}@${c.recipe.steps[0]!.params.sparsity ?? '-'}`)).toEqual(['channel@0.25', 'n:m@-']);
  });

  it('a student from the teacher: tried only with training data, every 2nd then every 4th layer while accurate, the quantizer goes on it', async () => {
    const student = noop('fake-student', { every: { type: 'integer', default: 2, search: [2, 4], doc: '' }, steps: { type: 'integer', default: 300, doc: '' }, distill: { type: 'number', default: 0.5, doc: '' } });
    const studentSpace: SearchSpace = {
      ...space,
      passes: [...space.passes, { pass: student, kind: 'prune', variant: 'student', buildCost: 50, needs: ['training'], searchParams: ['every'] }],
    };
    // every 2nd layer: half the latency, 0.4 points; every 4th: a quarter, 2 points (over the 1-point bound)
    const ev: Evaluator = {
      async evaluate(r) {
        const m = await new FakeEvaluator().evaluate({ ...r, steps: r.steps.filter((st) => st.pass !== 'fake-student') });
        const st = r.steps.find((x) => x.pass === 'fake-student');
        const every = Number(st?.params.every ?? 1);
        const ms = m.latency.p50 / every;
        return { ...m, latency: { p50: ms, p99: ms, mean: ms }, metric: { ...m.metric, value: m.metric.value - (every === 2 ? 0.004 : every === 4 ? 0.02 : 0) } };
      },
    };
    const withData = await runSearch(studentSpace, ev, { ...opts({}, parseBudget('10m')), pruneFinetune: { steps: 120, distill: 0.5 } });
    const students = withData.candidates.filter((c) => c.stage === 'prune');
    expect(students.map((c) => c.recipe.steps[0]!.params)).toEqual([{ every: 2, steps: 120, distill: 0.5 }, { every: 4, steps: 120, distill: 0.5 }]);
    expect(students.map((c) => c.accurate)).toEqual([true, false]);
    // the quantizer goes on the kept student (and on the full model), and the chosen recipe composes them
    // (fake-quant-a with its fallback: 0.5 points more, 0.9 in all)
    expect(withData.candidates.filter((c) => c.stage === 'quantize').map((c) => c.recipe.steps.map((x) => x.pass).join(' → '))).toEqual(['fake-student → fake-fold → fake-quant-a', 'fake-fold → fake-quant-a']);
    expect(withData.chosen.recipe.steps).toEqual([{ pass: 'fake-student', params: { every: 2, steps: 120, distill: 0.5 } }, { pass: 'fake-fold', params: {} }, { pass: 'fake-quant-a', params: { fallback: true } }]);
    // without training data it is not tried, and the report says why
    const without = await runSearch(studentSpace, ev, opts({}, parseBudget('10m')));
    expect(without.candidates.some((c) => c.recipe.steps.some((x) => x.pass === 'fake-student'))).toBe(false);
    expect(without.skipped.find((x) => x.what === 'fake-student (student)')!.reason).toMatch(/needs --train-data/);
  });

  it('under a time budget the candidates that fine-tune get half of the time left, so the quantizers are still tried', async () => {
    const student = noop('fake-student', { every: { type: 'integer', default: 2, search: [2, 4], doc: '' }, steps: { type: 'integer', default: 300, doc: '' }, distill: { type: 'number', default: 0.5, doc: '' } });
    // a cheaper fine-tuning pruner listed first: with training data the student still goes before it
    const channel = noop('fake-prune', { sparsity: { type: 'number', default: 0.5, search: [0.25, 0.5], doc: '' }, steps: { type: 'integer', default: 300, doc: '' }, distill: { type: 'number', default: 0.5, doc: '' } });
    const studentSpace: SearchSpace = { ...space, passes: [...space.passes, { pass: channel, kind: 'prune', variant: 'channel', buildCost: 5, speedsUp: ['MatMul'], searchParams: ['sparsity'] }, { pass: student, kind: 'prune', variant: 'student', buildCost: 50, needs: ['training'], searchParams: ['every'] }] };
    // a student takes 4 (fake) minutes to distil and runs in 1/every of the time; everything else takes no time
    const clock = fakeClock();
    try {
      const ev: Evaluator = {
        async evaluate(r) {
          const st = r.steps.find((x) => x.pass === 'fake-student');
          if (st) clock.fake += 4 * 60_000;
          const m = await new FakeEvaluator().evaluate({ ...r, steps: r.steps.filter((x) => x.pass !== 'fake-student') });
          const ms = m.latency.p50 / Number(st?.params.every ?? 1);
          return { ...m, latency: { p50: ms, p99: ms, mean: ms } };
        },
      };
      const res = await runSearch(studentSpace, ev, { ...opts({}, parseBudget('6m')), pruneFinetune: { steps: 300, distill: 0.5 } });
      // every 2nd layer took 4 of the 3 minutes the training candidates had: every 4th is not started, nor the
      // cheaper pruner after it (the student goes first with training data: the biggest win on a transformer)
      expect(res.candidates.filter((c) => c.stage === 'prune').map((c) => c.recipe.steps[0]!.params.every)).toEqual([2]);
      expect(res.skipped.find((x) => x.what === 'fake-student (student) at every 4 and beyond')!.reason).toMatch(/half of the time budget left/);
      expect(res.skipped.find((x) => x.what === 'fake-prune (channel)')!.reason).toMatch(/half of the time budget left/);
      // and the quantizer was tried on the student (whose build distils again: 4 more minutes, so the budget ends there)
      expect(res.candidates.filter((c) => c.stage === 'quantize').map((c) => c.recipe.steps.map((x) => x.pass).join(' → '))).toEqual(['fake-student → fake-fold → fake-quant-a']);
      // a trial budget is a count the user gave: no share there
      clock.fake = 0;
      const counted = await runSearch(studentSpace, ev, { ...opts({}, parseBudget('50')), pruneFinetune: { steps: 300, distill: 0.5 } });
      expect(counted.candidates.filter((c) => c.stage === 'prune').map((c) => c.recipe.steps[0]!.pass + ' ' + JSON.stringify(c.recipe.steps[0]!.params))).toEqual([
        'fake-student {"steps":300,"distill":0.5,"every":2}', 'fake-student {"steps":300,"distill":0.5,"every":4}',
        'fake-prune {"steps":300,"distill":0.5,"sparsity":0.25}', 'fake-prune {"steps":300,"distill":0.5,"sparsity":0.5}',
      ]);
    } finally {
      clock.restore();
    }
  });

  it('comes back to the prunings the training share skipped when the quantizers left time, and starts none that does not fit', async () => {
    const entry = (granularity: string) => ({ pass: prune, kind: 'prune' as const, variant: granularity, params: { granularity }, buildCost: granularity === 'channel' ? 4 : 5, speedsUp: ['MatMul'], searchParams: ['sparsity'] });
    const pruneSpace: SearchSpace = { ...space, passes: [...space.passes, entry('channel'), entry('head')] };
    // A prune candidate takes 60 (fake) s to fine-tune; on a kept pruned prefix a quantizer takes 1 s; the rest none.
    // channel: latency × (1 − 0.5·s), drop 0.2 / 0.4 / 3 points at s = 0.25 / 0.5 / 0.75; head: × (1 − 1.2·s), 0.3
    // points at 0.25, 3 beyond. fake-quant-a with its fallback: × 0.6 and 0.5 points more.
    const clock = fakeClock();
    try {
      const ev: Evaluator = {
        async evaluate(r) {
          const pr = r.steps.find((x) => x.pass === 'fake-prune');
          if (pr) clock.fake += r.steps.some((x) => x.pass === 'fake-quant-a') ? 1_000 : 60_000;
          const m = await new FakeEvaluator().evaluate({ ...r, steps: r.steps.filter((x) => x.pass !== 'fake-prune') });
          let ms = m.latency.p50;
          let acc = m.metric.value;
          if (pr) {
            const sp = Number(pr.params.sparsity);
            if (pr.params.granularity === 'channel') {
              ms *= 1 - 0.5 * sp;
              acc -= sp === 0.25 ? 0.002 : sp === 0.5 ? 0.004 : 0.03;
            } else {
              ms *= 1 - 1.2 * sp;
              acc -= sp === 0.25 ? 0.003 : 0.03;
            }
          }
          return { ...m, latency: { p50: ms, p99: ms, mean: ms }, metric: { ...m.metric, value: acc } };
        },
      };
      const at = (c: { recipe: Recipe }) => `${c.recipe.steps[0]!.params.granularity}@${c.recipe.steps[0]!.params.sparsity}`;
      const run = (budget: string) => runSearch(pruneSpace, ev, { ...opts({}, parseBudget(budget)), pruneFinetune: { steps: 30, distill: 0.5 } });
      // 5 minutes: the share (150 s) ends after channel 0.75 (180 s), so head is skipped; the quantizers and the
      // session settings on the pruned model take 4 s, which leaves 116 s: head 0.25 (estimated 60 s, the longest
      // prune candidate, + 10%) is tried, it is faster in float than channel 0.5, replaces it under the quantizer
      // (1 s) and wins; head 0.5 would need 66 s of the 55 left: not started
      clock.fake = 0;
      const res = await run('5m');
      expect(res.candidates.filter((c) => c.stage === 'prune').map(at)).toEqual(['channel@0.25', 'channel@0.5', 'channel@0.75', 'head@0.25']);
      const head = res.candidates.find((c) => c.stage === 'prune' && at(c) === 'head@0.25')!;
      expect(head.reason).toMatch(/^tried again with the time the quantizers left/);
      expect(res.chosen.recipe.steps).toEqual([{ pass: 'fake-prune', params: { granularity: 'head', sparsity: 0.25, steps: 30, distill: 0.5 } }, { pass: 'fake-fold', params: {} }, { pass: 'fake-quant-a', params: { fallback: true } }]);
      expect(res.chosen.reason).toMatch(/fake-prune \(head\) at sparsity 0\.25 \(faster in float than the pruning the quantizers went on\) in its place/);
      expect(res.skipped.find((x) => x.what.startsWith('fake-prune (head)'))).toEqual({ what: 'fake-prune (head) at sparsity 0.5 and beyond', reason: expect.stringMatching(/half of the time budget left.*the amounts below it were tried at the end, then the 55 s left did not fit its estimated 66 s$/) });
      expect(res.wallMs).toBeLessThanOrEqual(300_000);
      // 4 minutes: the share (120 s) ends after channel 0.5, so channel 0.75 and head are skipped; 116 s are left
      // after the quantizers: channel 0.75 is tried (it breaks the bound: channel is done), then head (66 s) does
      // not fit the 56 s left and is never started
      clock.fake = 0;
      const short = await run('4m');
      expect(short.candidates.filter((c) => c.stage === 'prune').map(at)).toEqual(['channel@0.25', 'channel@0.5', 'channel@0.75']);
      expect(short.candidates.find((c) => c.stage === 'prune' && at(c) === 'channel@0.75')!.reason).toMatch(/^tried again with the time the quantizers left/);
      expect(short.skipped.some((x) => x.what.includes('channel'))).toBe(false);
      expect(short.skipped.find((x) => x.what === 'fake-prune (head)')!.reason).toMatch(/half of the time budget left.*; not started at the end either: the 56 s left did not fit its estimated 66 s$/);
      expect(short.chosen.recipe.steps[0]!.params).toMatchObject({ granularity: 'channel', sparsity: 0.5 });
      expect(short.wallMs).toBeLessThanOrEqual(240_000);
    } finally {
      clock.restore();
    }
  });

  it('records failed candidates and carries on', async () => {
    const flaky: Evaluator = {
      async evaluate(r) {
        if (r.steps.some((s) => s.pass === 'fake-fold')) throw new Error('ORT could not load the model\nstack');
        return new FakeEvaluator().evaluate(r);
      },
    };
    const res = await runSearch(space, flaky, opts());
    const failed = res.candidates.find((c) => c.verdict === 'failed')!;
    expect(failed.reason).toBe('failed: ORT could not load the model');
    expect(res.chosen.recipe.steps).toEqual([{ pass: 'fake-quant-a', params: { fallback: true } }]);
  });
});

describe('search on a device page with WebGPU', () => {
  const half = noop('convert-half');
  const gpuSpace: SearchSpace = { ...space, passes: [...space.passes, { pass: half, kind: 'quantize', buildCost: 2, speedsUp: [], reducesSize: true }], session: { ...space.session, ep: ['webgpu'] } };
  /** The fake's wasm figures; on WebGPU the float model takes `gpuMs` (fp16: 0.6 of it), whatever else. */
  const onDevice = (gpuMs: number) => {
    const calls: Recipe[] = [];
    const ev: Evaluator = {
      async evaluate(r) {
        calls.push(r);
        if (r.session.ep !== 'webgpu') return new FakeEvaluator().evaluate({ ...r, steps: r.steps.filter((st) => st.pass !== 'convert-half') });
        const fp16 = r.steps.some((st) => st.pass === 'convert-half');
        return { latency: { p50: gpuMs * (fp16 ? 0.6 : 1), p99: gpuMs, mean: gpuMs }, sizeBytes: fp16 ? 2e6 : 4e6, metric: { name: 'accuracy', value: fp16 ? 0.899 : 0.9, higherIsBetter: true, scale: 'fraction' }, outputsVsWasm: { ok: true, maxAbs: 1e-6, tolerance: '0.0001 + 0.001·|wasm|' } };
      },
    };
    return { ev, calls };
  };

  it('times fp32 and fp16 on WebGPU beside the wasm search, after the budget too, and picks by the measured latency', async () => {
    // a fast GPU: fp16 on WebGPU (1.2 ms) beats the best wasm recipe (int8 with fallback, 6 ms)
    const fast = onDevice(2);
    const r1 = await runSearch(gpuSpace, fast.ev, opts({}, parseBudget('4')));
    const gpu = r1.candidates.filter((c) => c.recipe.session.ep === 'webgpu');
    expect(gpu.map((c) => [c.stage, c.recipe.steps.map((st) => st.pass)])).toEqual([['webgpu', []], ['webgpu', ['convert-half']]]);
    expect(gpu.every((c) => c.measurement!.latency.p50 > 0)).toBe(true);
    expect(r1.chosen.recipe).toEqual({ target: 'cpu', steps: [{ pass: 'convert-half', params: {} }], session: { ...DEFAULT_SESSION, ep: 'webgpu' } });
    // the budget of 4 bounded the wasm search only: both WebGPU candidates came after it
    expect(r1.candidates.filter((c) => c.stage !== 'baseline' && c.stage !== 'webgpu')).toHaveLength(4);
    // a slow (software) adapter: both are timed, both slower than the best wasm recipe, which stays chosen
    const slow = onDevice(80);
    const r2 = await runSearch(gpuSpace, slow.ev, opts());
    const slowGpu = r2.candidates.filter((c) => c.recipe.session.ep === 'webgpu');
    expect(slowGpu).toHaveLength(2);
    expect(slowGpu.every((c) => c.verdict === 'dropped' && c.measurement)).toBe(true);
    expect(r2.chosen.recipe.session.ep).toBeUndefined();
    // the same choice as the search without WebGPU
    expect(r2.chosen.recipe).toEqual((await runSearch(space, new FakeEvaluator(), opts())).chosen.recipe);
    expect(r2.chosen.recipe.steps.map((st) => st.pass)).toContain('fake-quant-a');
    // without WebGPU in the space, nothing is timed there
    const none = onDevice(2);
    await runSearch(space, none.ev, opts());
    expect(none.calls.some((c) => c.session.ep)).toBe(false);
  });
});

describe('goals, budget, recipe, pareto', () => {
  const m = (p50: number, acc: number, size = 1e6): Measurement => ({ latency: { p50, p99: p50, mean: p50 }, sizeBytes: size, metric: { name: 'cer', value: acc, higherIsBetter: false, scale: 'fraction' } });
  it('checks lower-is-better metrics in points and relative percent', () => {
    expect(parseAccuracyDrop('1')).toEqual({ value: 1, relative: false });
    expect(parseAccuracyDrop('2.5%rel')).toEqual({ value: 2.5, relative: true });
    expect(() => parseAccuracyDrop('2%')).toThrow(/ambiguous/);
    const pts = checkGoals(goals({ minSpeedup: 2, maxSizeMB: 0.5 }), m(10, 0.1), m(4, 0.105, 0.6e6));
    expect(pts.map((g) => [g.goal, g.met])).toEqual([['min-speedup', true], ['max-size', false], ['max-accuracy-drop', true]]);
    expect(pts[2]!.actual).toBeCloseTo(0.5, 9);
    const rel = checkGoals(goals({ maxAccuracyDrop: { value: 4, relative: true } }), m(10, 0.1), m(4, 0.105));
    expect(rel[0]!.actual).toBeCloseTo(5, 9);
    expect(rel[0]!.met).toBe(false);
  });
  it('parses budgets and recipe files', () => {
    expect(parseBudget('20')).toEqual({ trials: 20 });
    expect(parseBudget('5m')).toEqual({ ms: 300_000 });
    expect(parseBudget('90s')).toEqual({ ms: 90_000 });
    expect(() => parseBudget('soon')).toThrow(/bad --budget/);
    const r: Recipe = { target: 'cpu', steps: [{ pass: 'x', params: { b: 1, a: [2] } }], session: DEFAULT_SESSION };
    expect(parseRecipeFile(JSON.parse(JSON.stringify({ format: 'inferopt-recipe', version: 1, recipe: r }))).recipe).toEqual(r);
    expect(recipeKey(r)).toBe(recipeKey({ session: DEFAULT_SESSION, steps: [{ params: { a: [2], b: 1 }, pass: 'x' }], target: 'cpu' }));
    expect(() => parseRecipeFile({ format: 'inferopt-recipe', version: 1, recipe: { ...r, session: { ...DEFAULT_SESSION, threads: 0 } } })).toThrow(/threads/);
  });
  it('finds the Pareto front', () => {
    const pts = [
      { latencyMs: 10, drop: 0, sizeBytes: 4 },
      { latencyMs: 5, drop: 1, sizeBytes: 1 },
      { latencyMs: 6, drop: 1, sizeBytes: 1 },
      { latencyMs: 10, drop: 0, sizeBytes: 5 },
    ];
    expect(paretoFront(pts)).toEqual([0, 1]);
  });
});

describe('candidates in flight (Evaluator.prefetch)', () => {
  /** The fake evaluator, also told what comes next: it measures those ahead, in its own order. */
  class AheadEvaluator extends FakeEvaluator {
    hinted: Recipe[] = [];
    private readonly early = new Map<string, Promise<Measurement>>();
    prefetch(recipes: readonly Recipe[]): void {
      // measured ahead in reverse order, before the search asks
      for (const r of [...recipes].reverse()) {
        this.hinted.push(r);
        if (!this.early.has(recipeKey(r))) this.early.set(recipeKey(r), super.evaluate(r));
      }
    }
    override evaluate(r: Recipe): Promise<Measurement> {
      return this.early.get(recipeKey(r)) ?? super.evaluate(r);
    }
  }

  it('the same budget chooses the same recipe, with the same candidates in the same order, as without', async () => {
    for (const budget of ['50', '3', '5']) {
      const plain = await runSearch(space, new FakeEvaluator(), opts({}, parseBudget(budget)));
      const ev = new AheadEvaluator();
      const ahead = await runSearch(space, ev, opts({}, parseBudget(budget)));
      expect(ev.hinted.length).toBeGreaterThan(0);
      expect(ahead.chosen.recipe).toEqual(plain.chosen.recipe);
      expect(ahead.candidates.map((c) => [c.label, c.verdict, c.reason])).toEqual(plain.candidates.map((c) => [c.label, c.verdict, c.reason]));
    }
  });

  it('hints only what the budget has left and nothing measured before', async () => {
    const hints: Recipe[][] = [];
    const ev = new FakeEvaluator();
    const spy: Evaluator = { evaluate: (r) => ev.evaluate(r), prefetch: (rs) => void hints.push([...rs]) };
    const res = await runSearch(space, spy, opts({}, parseBudget('2')));
    expect(res.candidates).toHaveLength(3); // baseline + 2
    expect(hints.length).toBeGreaterThan(0);
    for (const h of hints) expect(h.length).toBeLessThanOrEqual(2);
    // the session stage's hint lists the threads and level variations it then measures, in that order
    expect(hints[0]!.map((r) => recipeKey(r))).toEqual(res.candidates.slice(1, 3).map((c) => recipeKey(c.recipe)));
  });

  it('the pruning stage hints the amounts it goes on to and the first amount of each later granularity; never a candidate that fine-tunes', async () => {
    const entry = (granularity: string) => ({ pass: prune, kind: 'prune' as const, variant: granularity, params: { granularity }, buildCost: granularity === 'channel' ? 4 : 5, speedsUp: ['MatMul'], searchParams: ['sparsity'] });
    const pruneSpace: SearchSpace = { ...space, passes: [...space.passes, entry('channel'), entry('head')] };
    const at = (r: Recipe) => { const st = r.steps.find((x) => x.pass === 'fake-prune'); return st ? `${st.params.granularity}@${st.params.sparsity}` : undefined; };
    const hints: string[][] = [];
    const ev = new FakeEvaluator();
    const spy: Evaluator = { evaluate: (r) => ev.evaluate(r), prefetch: (rs) => void hints.push(rs.map(at).filter((x): x is string => !!x)) };
    const res = await runSearch(pruneSpace, spy, opts());
    // every amount is accurate here: channel 0.25, 0.5, 0.75, then head's
    const measured = res.candidates.filter((c) => c.stage === 'prune').map((c) => at(c.recipe));
    expect(measured).toEqual(['channel@0.25', 'channel@0.5', 'channel@0.75', 'head@0.25', 'head@0.5', 'head@0.75']);
    const pruneHints = hints.filter((h) => h.length);
    expect(pruneHints.slice(0, 4)).toEqual([
      ['channel@0.5', 'channel@0.75', 'head@0.25'], // asked with channel 0.25 in flight
      ['channel@0.75', 'head@0.25'],
      ['head@0.25'],
      ['head@0.5', 'head@0.75'],
    ]);
    // with fine-tuning a prune candidate is minutes of training: nothing of the pruning stage ahead
    hints.length = 0;
    await runSearch(pruneSpace, spy, { ...opts(), pruneFinetune: { steps: 30, distill: 0.5 } });
    expect(hints.filter((h) => h.length)).toEqual([]);
  });
});
