import * as fs from 'node:fs';
import * as path from 'node:path';
import { InputError } from '../errors.js';
import { feeds as datasetFeeds, loadDatasetSpec, openDataset, split } from '../data/dataset.js';
import { evaluate } from '../eval/evaluate.js';
import { metricTraits } from '../eval/metric-traits.js';
import { defaultImagePreprocess } from '../eval/model-io.js';
import type { Model } from '../ir/graph.js';
import type { Tensor } from '../ir/tensor.js';
import { randomInputs, runtimeInputs, type InputSpec } from '../runtime/inputs.js';
import { dataContentKey } from './calibrate.js';
import type { CalibrationData } from './stream.js';

/**
 * Where calibration and evaluation data come from for the CLI: a dataset (src/data: folder, data file or
 * JSON spec) or `random:N` (N seeded random batches — a smoke test of the mechanics, not a calibration).
 */
export interface DataRef {
  data: CalibrationData;
  /** Identity of the data for the calibration cache: a hash of its content (reads the data once more). */
  contentKey: () => Promise<string>;
  description: string;
}

export async function calibrationData(ref: string, model: Model, opts: { limit?: number; batch?: number; inputs?: InputSpec } = {}): Promise<DataRef> {
  const random = /^random(?::(\d+))?$/.exec(ref);
  if (random) {
    const n = Number(random[1] ?? 16);
    if (n < 1) throw new InputError('random:N needs N ≥ 1');
    return { data: randomBatches(model, n, opts.inputs ?? {}), contentKey: () => dataContentKey(randomBatches(model, n, opts.inputs ?? {})), description: `${n} random batches` };
  }
  const spec = await loadDatasetSpec(ref, 'training');
  const ds = await openDataset(spec, { image: spec.image ?? defaultImagePreprocess(model), ...(opts.limit !== undefined && { limit: opts.limit }) });
  const inputNames = runtimeInputs(model).map((v) => v.name);
  const open = () => datasetFeeds(ds, { batch: opts.batch ?? 1, inputNames });
  // keyed on what the model is fed (after decoding and preprocessing), not on file names or dates
  return { data: open(), contentKey: () => dataContentKey(open()), description: ds.description };
}

async function* randomBatches(model: Model, n: number, spec: InputSpec): AsyncGenerator<Record<string, Tensor>> {
  for (let i = 0; i < n; i++) yield randomInputs(model, { ...spec, seed: 1000 + i });
}

/** The first `n` batches of some data, held in memory (for sensitivity rankings). */
export async function takeFeeds(data: CalibrationData, n: number): Promise<Record<string, Tensor>[]> {
  const out: Record<string, Tensor>[] = [];
  for await (const f of data as AsyncIterable<Record<string, Tensor>>) {
    if (out.length >= n) break;
    out.push(f);
  }
  return out;
}

/**
 * Scoring functions for the fallback on two disjoint parts of a dataset (split by hashed sample id):
 * `select` scores the trials and `feeds` feed the sensitivity ranking (the decisions), `report` measures the
 * baseline and the chosen model (the figures reported). Scores are in the unit of `--max-accuracy-drop`, as
 * optimize reads it: percentage points for rates (accuracies, CER), the metric's own unit for raw ones (KL,
 * abs errors), or percent of the float model's score with `relative`.
 */
export async function datasetEvaluator(
  ref: string,
  model: Model,
  opts: { metric?: string; limit?: number; log?: (m: string) => void; relative?: boolean },
): Promise<{ select: (m: Model) => Promise<number>; report: (m: Model) => Promise<number>; feeds: (n: number) => Promise<Record<string, Tensor>[]>; metric: string; higherIsBetter: boolean }> {
  const spec = await loadDatasetSpec(ref);
  const open = async () => split(await openDataset(spec, { image: spec.image ?? defaultImagePreprocess(model), ...(opts.limit !== undefined && { limit: opts.limit }) }), { calibrationFraction: 0.5, seed: 17 });
  let metric = opts.metric;
  const evaluateOn = async (m: Model, part: 'calibration' | 'evaluation') => {
    const r = await evaluate(m, (await open())[part], { task: spec.eval?.task, output: spec.eval?.output, keys: spec.eval?.keys, threshold: spec.eval?.threshold, shrinkRatio: spec.eval?.shrinkRatio, ignoreSpaces: spec.eval?.ignoreSpaces, bootstrap: { iterations: 1 } });
    metric ??= Object.keys(r.metrics)[0];
    const e = metric ? r.metrics[metric] : undefined;
    if (!e) throw new InputError(`metric '${metric}' is not produced by this data (available: ${Object.keys(r.metrics).join(', ')})`);
    return e.value;
  };
  // learn the metric name and its scale from a first evaluation of the float model (kept for the baselines)
  const raw = await evaluateOn(model, 'calibration');
  const traits = metricTraits(metric!);
  if (opts.relative && raw === 0) throw new InputError(`--max-accuracy-drop: ${metric} of the float model is 0, so a bound relative to it bounds nothing; give points`);
  const scale = opts.relative ? 100 / Math.abs(raw) : traits.scale === 'fraction' ? 100 : 1;
  const cache = { calibration: new Map<Model, number>([[model, raw * scale]]), evaluation: new Map<Model, number>() };
  const scorer = (part: 'calibration' | 'evaluation') => async (m: Model) => {
    const known = cache[part].get(m);
    if (known !== undefined) return known;
    const v = (await evaluateOn(m, part)) * scale;
    if (m === model) cache[part].set(m, v);
    return v;
  };
  return {
    metric: metric!,
    higherIsBetter: traits.higherIsBetter,
    select: scorer('calibration'),
    report: scorer('evaluation'),
    feeds: async (n) => takeFeeds(datasetFeeds((await open()).calibration, { inputNames: runtimeInputs(model).map((v) => v.name) }), n),
  };
}
