import { quantizeWithFallback } from '../quantize/fallback.js';
import type { QuantizeMode, QuantizeOptions } from '../quantize/quantize.js';
import type { Model } from '../ir/graph.js';
import type { Tensor } from '../ir/tensor.js';
import type { AccuracyBound, MetricValue } from './goals.js';
import type { RecipeStep } from './recipe.js';

/** The quantize modes whose accuracy-aware fallback the search can run, by pass id. */
const MODE_OF_PASS: Record<string, QuantizeMode> = { 'quantize-static': 'static', 'quantize-dynamic': 'dynamic' };

export function supportsFallback(step: RecipeStep): boolean {
  const mode = MODE_OF_PASS[step.pass];
  // static per-channel 'none' has no QuantizeOptions spelling (per channel is always on for Conv there)
  return mode !== undefined && !(mode === 'static' && step.params.perChannel === 'none');
}

/** A recipe step's parameters as quantizeModel options (names match; static per-channel is 'all' vs Conv-only). */
function optionsOf(step: RecipeStep, target: QuantizeOptions['target']): QuantizeOptions {
  const p = step.params as Record<string, unknown>;
  const mode = MODE_OF_PASS[step.pass]!;
  const o: QuantizeOptions = { mode, ...(target ? { target } : {}) };
  for (const k of ['include', 'exclude', 'activationType', 'weightType', 'symmetricActivations', 'reduceRange', 'calibMethod', 'percentile'] as const) {
    if (p[k] !== undefined) (o as unknown as Record<string, unknown>)[k] = p[k];
  }
  if (p.perChannel !== undefined) o.perChannel = mode === 'static' ? p.perChannel === 'all' : Boolean(p.perChannel);
  return o;
}

/**
 * Runs the quantizer's accuracy-aware fallback (src/quantize/fallback: the most sensitive nodes go back to
 * float, one by one then in batches, until the bound holds) on the model before `step`, and returns the step
 * with those nodes excluded — a plain recipe step that rebuilds the same model.
 */
export async function fallbackStep(
  prefixModel: Model,
  step: RecipeStep,
  target: QuantizeOptions['target'],
  select: (m: Model) => Promise<MetricValue>,
  baseline: MetricValue,
  bound: AccuracyBound,
  runtime: { calibration: Record<string, Tensor>[]; calibrate?: QuantizeOptions['calibrate'] },
  trials = 5,
  /** The search's deadline (see FallbackOptions.timeUp). */
  timeUp?: () => boolean,
): Promise<{ step: RecipeStep; floatNodes: string[]; met: boolean; message: string; stopped?: string }> {
  const points = baseline.scale === 'fraction' ? 100 : 1;
  const maxDrop = bound.relative ? (bound.value / 100) * Math.abs(baseline.value) * points : bound.value;
  const { report } = await quantizeWithFallback(prefixModel, { ...optionsOf(step, target), calibration: runtime.calibration, ...(runtime.calibrate ? { calibrate: runtime.calibrate } : {}) }, {
    maxDrop,
    // decisions on the selection samples; the search then reports the candidate on the disjoint scored ones
    evaluate: async (m) => (await select(m)).value * points,
    higherIsBetter: baseline.higherIsBetter,
    trials,
    feeds: runtime.calibration.slice(0, 8),
    ...(timeUp ? { timeUp } : {}),
  });
  const floatNodes = report.floatNodes.map((n) => n.node);
  const exclude = [...((step.params.exclude as string[] | undefined) ?? []), ...floatNodes];
  return { step: { pass: step.pass, params: { ...step.params, exclude } }, floatNodes, met: report.met, message: report.message, ...(report.stopped ? { stopped: report.stopped } : {}) };
}
