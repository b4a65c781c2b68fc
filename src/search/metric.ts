import { InputError } from '../errors.js';
import type { Model } from '../ir/graph.js';
import { feeds, openDataset, split, type DatasetSpec } from '../data/dataset.js';
import type { Dataset, Sample } from '../data/types.js';
import type { Estimate } from '../eval/bootstrap.js';
import { ReferenceOutputs } from '../eval/reference.js';
import { evaluate, resultFromRecords, type EvalRecords, type EvalResult, type EvaluateOptions } from '../eval/evaluate.js';
import { metricTraits } from '../eval/metric-traits.js';
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
  /**
   * With `screen`: a look after the first `screen.samples` samples; when `stop` says so, the rest are not
   * scored and the value is that of the first ones (`screenedAt` samples).
   */
  score(model: Model, screen?: ScoreScreen): Promise<MetricValue & { screenedAt?: number }>;
  /**
   * The same metric on samples disjoint from `score`'s, for decisions made inside a candidate (the
   * accuracy-aware fallback's trials), so that the figure reported by `score` is not graded on the data that
   * chose it.
   */
  select(model: Model): Promise<MetricValue>;
  /** Feeds for calibration, disjoint from the samples scored. */
  calibration(): Promise<Record<string, Tensor>[]>;
  /** With data: up to `count` real batches of `batch` samples, the inputs latency is timed on. */
  timingFeeds?(batch: number, count: number): Promise<Record<string, Tensor>[]>;
  /**
   * One shard of the samples `score` uses (every `count`-th batch from `index`), with each sample's outcome:
   * workers score shards (src/distributed) and `fromRecords` merges them into the value `score` gives.
   */
  scoreShard(model: Model, shard: { index: number; count: number }): Promise<EvalRecords>;
  /** The metric of merged shard records: exactly `score`'s value and interval on the whole. */
  fromRecords(records: readonly EvalRecords[]): MetricValue;
}

/** A cheap look part-way through scoring (evaluate's `screen`): `stop` sees the metric so far. */
export interface ScoreScreen {
  samples: number;
  stop: (sofar: MetricValue) => boolean;
}

/** evaluate's screen option for a ScoreScreen on the metric `pickOf` picks. */
function screenOption(screen: ScoreScreen | undefined, pickOf: (metrics: Record<string, Estimate>) => MetricValue): Pick<EvaluateOptions, 'screen'> {
  return screen ? { screen: { samples: screen.samples, stop: (metrics) => screen.stop(pickOf(metrics)) } } : {};
}

/** The picked metric, with the samples it stopped at when the screen stopped it. */
function screened(v: MetricValue, r: EvalResult): MetricValue & { screenedAt?: number } {
  return r.stoppedAt !== undefined ? { ...v, screenedAt: r.stoppedAt } : v;
}

/** A metric's estimate with its direction and scale (src/eval/metric-traits). */
export function metricValue(name: string, e: Estimate, note?: string): MetricValue {
  return {
    name,
    value: e.value,
    lo: e.low,
    hi: e.high,
    ...metricTraits(name),
    ...(note ? { note } : {}),
  };
}

/** The default metric of a task: top-1 for classes, CER for OCR, box hmean for text detection, the first otherwise. */
function defaultMetric(r: EvalResult): string {
  const keys = Object.keys(r.metrics);
  for (const k of ['top1', 'cer', 'boxHmean', 'f1', 'fidelity.top1Agreement']) if (keys.includes(k)) return k;
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

/** Each task's default metric: one its evaluation reports (det-map: the box-level hmean PaddleOCR's DB reports). */
const TASK_METRIC: Record<string, string> = { classification: 'top1', ctc: 'cer', 'det-map': 'boxHmean' };

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
  const evalOpts = { ...(evalSpec.task ? { task: evalSpec.task } : {}), ...(evalSpec.keys ? { keys: evalSpec.keys } : {}), ...(evalSpec.output ? { output: evalSpec.output } : {}), ...(evalSpec.threshold ? { threshold: evalSpec.threshold } : {}), batch: 8 };
  const named = (r: EvalResult) => {
    const v = pick(r, name, note);
    name = v.name;
    return v;
  };
  const scoreOn = async (model: Model, part: Dataset, screen?: ScoreScreen) => {
    const r = await evaluate(model, part, { ...evalOpts, ...screenOption(screen, (metrics) => pick({ metrics } as EvalResult, name, note)) });
    return screened(named(r), r);
  };
  return {
    get name() {
      return name ?? 'metric';
    },
    source: 'data',
    note,
    score: (model, screen) => scoreOn(model, parts.evaluation, screen),
    // the calibration part: disjoint from the evaluation part that `score` reports on
    select: (model) => scoreOn(model, parts.calibration),
    scoreShard: async (model, shard) => (await evaluate(model, parts.evaluation, { ...evalOpts, shard, records: true })).records!,
    fromRecords: (records) => named(resultFromRecords(records, evalOpts)),
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

/** Outputs with at most this many values per sample are scalars or small regressions, not feature maps. */
const SMALL_OUTPUT = 16;

/**
 * The proxy for an output without labels: top-1 agreement for class scores ([N, classes ≥ 2]); the worst
 * error against the output's own scale for scalar and small regression outputs (a cosine of one number per
 * sample is always 1, so it could not fail: openWakeWord's hello_deepa lost 0.1 of its 0..1 score to 4-bit
 * weights with cosine 1.0); cosine similarity for large outputs (embeddings, feature maps), where the angle
 * between the vectors means something.
 */
export function proxyMetricFor(shape: readonly (number | string | null)[] | undefined): string {
  if (shape && shape.length === 2 && typeof shape[1] === 'number' && shape[1] >= 2) return 'fidelity.top1Agreement';
  const perSample = shape?.slice(1).reduce<number | undefined>((n, d) => (n !== undefined && typeof d === 'number' && d > 0 ? n * d : undefined), 1);
  if (shape && (shape.length <= 1 || (perSample !== undefined && perSample <= SMALL_OUTPUT))) return 'fidelity.maxRelError';
  return 'fidelity.cosine';
}

/**
 * Without data: fidelity to the baseline model on seeded random inputs, by the proxy that fits the output
 * (proxyMetricFor).
 */
export function fidelityMetric(baseline: Model, opts: { samples?: number; input?: InputSpec; metric?: string } = {}): MetricSource {
  const samples = opts.samples ?? 32;
  if (baseline.graph.outputs[0]?.type?.kind !== 'tensor' || !baseline.graph.outputs[0].type.shape) inferShapes(baseline, opts.input ?? {});
  const out = baseline.graph.outputs[0]?.type;
  const shape = out?.kind === 'tensor' ? out.shape : undefined;
  const name = opts.metric ?? proxyMetricFor(shape);
  const note = `fidelity to the baseline model on ${samples} seeded random inputs (no --data given): the candidate's output compared with the baseline's, not accuracy on real labels`;
  if (runtimeInputs(baseline).length === 0) throw new InputError('the model has no inputs to feed');
  // the baseline's outputs on each input set, computed once for every candidate scored on it
  const scored = new ReferenceOutputs(baseline);
  const selecting = new ReferenceOutputs(baseline);
  return {
    name,
    source: 'fidelity',
    note,
    score: async (model, screen) => {
      const r = await evaluate(model, randomDataset(baseline, samples, opts.input), { reference: scored, task: 'fidelity', ...screenOption(screen, (metrics) => pick({ metrics } as EvalResult, name, note)) });
      return screened(pick(r, name, note), r);
    },
    scoreShard: async (model, shard) => (await evaluate(model, randomDataset(baseline, samples, opts.input), { reference: scored, task: 'fidelity', shard, records: true })).records!,
    fromRecords: (records) => pick(resultFromRecords(records), name, note),
    // other seeds: inputs disjoint from those scored (1000…) and from calibration's (5000…)
    select: async (model) => pick(await evaluate(model, randomDataset(baseline, samples, opts.input, 3000), { reference: selecting, task: 'fidelity' }), name, note),
    calibration: () => collectFeeds(randomDataset(baseline, 32, opts.input, 5000), baseline, 32),
  };
}
