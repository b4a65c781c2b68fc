import { InputError } from '../errors.js';
import type { Model } from '../ir/graph.js';
import { feeds, openDataset, split, type DatasetSpec } from '../data/dataset.js';
import type { Dataset, Sample } from '../data/types.js';
import type { Estimate } from '../eval/bootstrap.js';
import { evaluate, type EvalResult } from '../eval/evaluate.js';
import { inferShapes } from '../ops/index.js';
import { randomInputs, runtimeInputs, type InputSpec } from '../runtime/inputs.js';
import type { Tensor } from '../ir/tensor.js';
import type { MetricValue } from './goals.js';

/** Scores a candidate model: the metric the accuracy goal bounds. */
export interface MetricSource {
  /** Metric name and how it is measured, for the report. */
  readonly name: string;
  readonly source: 'data' | 'fidelity';
  readonly note: string;
  score(model: Model): Promise<MetricValue>;
  /** Feeds for calibration, disjoint from the samples scored. */
  calibration(): Promise<Record<string, Tensor>[]>;
  /** With data: up to `count` real batches of `batch` samples, the inputs latency is timed on. */
  timingFeeds?(batch: number, count: number): Promise<Record<string, Tensor>[]>;
}

const LOWER_IS_BETTER = new Set(['cer', 'kl', 'meanAbsError', 'maxAbsError', 'maxAbsErrorWorst']);
const RAW_SCALE = new Set(['kl', 'meanAbsError', 'maxAbsError', 'maxAbsErrorWorst']);

/** Direction and scale of a metric from src/eval by its name (`fidelity.` prefix ignored). */
export function metricValue(name: string, e: Estimate, note?: string): MetricValue {
  const base = name.replace(/^fidelity\./, '');
  return {
    name,
    value: e.value,
    lo: e.low,
    hi: e.high,
    higherIsBetter: !LOWER_IS_BETTER.has(base),
    scale: RAW_SCALE.has(base) ? 'raw' : 'fraction',
    ...(note ? { note } : {}),
  };
}

/** The default metric of a task: top-1 for classes, CER for OCR, the first otherwise. */
function defaultMetric(r: EvalResult): string {
  const keys = Object.keys(r.metrics);
  for (const k of ['top1', 'cer', 'f1', 'fidelity.top1Agreement']) if (keys.includes(k)) return k;
  if (keys.length === 0) throw new InputError('the evaluation produced no metric');
  return keys[0]!;
}

function pick(r: EvalResult, wanted: string | undefined, note: string): MetricValue {
  const name = wanted ?? defaultMetric(r);
  const e = r.metrics[name];
  if (!e) throw new InputError(`metric '${name}' is not among those measured: ${Object.keys(r.metrics).join(', ')}`);
  return metricValue(name, e, note);
}

/** Up to `limit` feeds of `batch` samples each, bound to the model's input names. */
async function collectFeeds(ds: AsyncIterable<Sample>, model: Model, limit: number, batch = 1): Promise<Record<string, Tensor>[]> {
  const out: Record<string, Tensor>[] = [];
  for await (const f of feeds(ds, { batch, inputNames: runtimeInputs(model).map((v) => v.name) })) {
    out.push(f);
    if (out.length >= limit) break;
  }
  return out;
}

const TASK_METRIC: Record<string, string> = { classification: 'top1', ctc: 'cer', 'det-map': 'f1' };

/**
 * The metric on a labelled dataset (`--data`): the evaluation part scores, the calibration part (never
 * overlapping) feeds static quantization.
 */
export async function dataMetric(model: Model, spec: string | DatasetSpec, opts: { metric?: string; limit?: number; calibrationSamples?: number } = {}): Promise<MetricSource> {
  const ds = await openDataset(spec, opts.limit ? { limit: opts.limit } : {});
  const parts = split(ds, { calibrationFraction: 0.2, seed: 0 });
  const evalSpec = ds.spec.eval ?? {};
  let name = opts.metric ?? (evalSpec.task ? TASK_METRIC[evalSpec.task] : undefined);
  const note = `on ${ds.description} (evaluation part; calibration uses a disjoint part), 95% bootstrap interval`;
  return {
    get name() {
      return name ?? 'metric';
    },
    source: 'data',
    note,
    async score(model) {
      const r = await evaluate(model, parts.evaluation, { ...(evalSpec.task ? { task: evalSpec.task } : {}), ...(evalSpec.keys ? { keys: evalSpec.keys } : {}), ...(evalSpec.output ? { output: evalSpec.output } : {}), ...(evalSpec.threshold ? { threshold: evalSpec.threshold } : {}), batch: 8 });
      const v = pick(r, name, note);
      name = v.name;
      return v;
    },
    calibration: () => collectFeeds(parts.calibration, model, opts.calibrationSamples ?? 64),
    timingFeeds: (batch, count) => collectFeeds(parts.evaluation, model, count, batch),
  };
}

/** Seeded random inputs as a dataset (no labels). */
export function randomDataset(model: Model, count: number, spec: InputSpec = {}, seed0 = 1000): Dataset {
  return {
    description: `${count} seeded random inputs`,
    size: count,
    async *[Symbol.asyncIterator]() {
      for (let i = 0; i < count; i++) yield { id: `random-${i}`, inputs: randomInputs(model, { ...spec, seed: seed0 + i }) };
    },
  };
}

/**
 * Without data: fidelity to the baseline model on seeded random inputs. Top-1 agreement when the output looks
 * like class scores (last dimension ≥ 2 and one row per sample), else cosine similarity of the outputs.
 */
export function fidelityMetric(baseline: Model, opts: { samples?: number; input?: InputSpec; metric?: string } = {}): MetricSource {
  const samples = opts.samples ?? 32;
  if (baseline.graph.outputs[0]?.type?.kind !== 'tensor' || !baseline.graph.outputs[0].type.shape) inferShapes(baseline, opts.input ?? {});
  const out = baseline.graph.outputs[0]?.type;
  const shape = out?.kind === 'tensor' ? out.shape : undefined;
  const classLike = shape !== undefined && shape.length === 2 && typeof shape[1] === 'number' && shape[1] >= 2;
  const name = opts.metric ?? (classLike ? 'fidelity.top1Agreement' : 'fidelity.cosine');
  const note = `fidelity to the baseline model on ${samples} seeded random inputs (no --data given): the candidate's output compared with the baseline's, not accuracy on real labels`;
  if (runtimeInputs(baseline).length === 0) throw new InputError('the model has no inputs to feed');
  return {
    name,
    source: 'fidelity',
    note,
    async score(model) {
      const r = await evaluate(model, randomDataset(baseline, samples, opts.input), { reference: baseline, task: 'fidelity' });
      return pick(r, name, note);
    },
    calibration: () => collectFeeds(randomDataset(baseline, 32, opts.input, 5000), baseline, 32),
  };
}
