import { InputError } from '../errors.js';
import type { Model } from '../ir/graph.js';
import { loadModel } from '../ir/io.js';
import type { Tensor } from '../ir/tensor.js';
import { batches, bindInputs } from '../data/dataset.js';
import type { Box, Dataset, Label } from '../data/types.js';
import { runtimeInputs } from '../runtime/inputs.js';
import { Session, type SessionOptions } from '../runtime/session.js';
import type { ResampleOptions, Estimate } from './bootstrap.js';
import { ClassificationScores } from './classification.js';
import { DetBoxScores, mapBoxes, matchBoxes, type BoxCounts } from './detboxes.js';
import { DetMapScores, pixelCounts, shrinkBox, type PixelCounts } from './detmap.js';
import { FidelityScores, isDistribution, sampleFidelity, type SampleFidelity } from './fidelity.js';
import { checkFeeds, sampleRows } from './model-io.js';
import { OcrScores, ctcAlphabet, ctcGreedy } from './ocr.js';
import { ReferenceOutputs } from './reference.js';

export type Task = 'classification' | 'ctc' | 'det-map' | 'tensors' | 'fidelity';

export interface EvaluateOptions extends SessionOptions {
  /** What the labels mean; default: guessed from the first label (index, string, boxes, tensors). */
  task?: Task;
  /** Output to score (default: the model's first). */
  output?: string;
  /** CTC character list (PaddleOCR keys file). */
  keys?: string;
  /** det-map probability threshold (default 0.3). */
  threshold?: number;
  /** det-map: shrink the true boxes as DB detectors shrink their targets (PaddleOCR: 0.4; default: no shrink). */
  shrinkRatio?: number;
  /** CTC: drop all spaces before comparing (PaddleOCR's RecMetric default); leading/trailing ones are always trimmed. */
  ignoreSpaces?: boolean;
  /**
   * A second model run on the same inputs; its outputs are the reference for fidelity metrics. A
   * ReferenceOutputs keeps them per batch for the next evaluation on the same data (the reference runs once).
   */
  reference?: Model | string | ReferenceOutputs;
  batch?: number;
  /** Called after each batch with the samples done so far. */
  onProgress?: (done: number) => void;
  bootstrap?: ResampleOptions;
  /**
   * Run only the batches whose index (0, 1, …) is `index` modulo `count`: one shard of the data for one
   * worker (src/distributed). The other batches are read, not run. Use with `records`.
   */
  shard?: { index: number; count: number };
  /** Also return every sample's outcome (`records`), from which `resultFromRecords` recomputes the metrics exactly. */
  records?: boolean;
  /**
   * A look part-way: once `samples` samples are done, `stop` sees the metrics so far; true ends the evaluation
   * there (the result holds those samples only, `stoppedAt` says so). A cheap screen in the same pass.
   */
  screen?: { samples: number; stop: (metrics: Record<string, Estimate>) => boolean };
}

/**
 * Every sample's outcome, as the scorers hold it (a few numbers per sample), with its position in the data:
 * shards merged by position give the same samples in the same order as one local run, so the metrics and
 * their bootstrap intervals are identical.
 */
export interface EvalRecords {
  task: Task;
  /** Values per sample row of the scored output (classification: the class count). */
  rowSize?: number;
  classes?: readonly string[];
  samples: SampleRecord[];
}

export interface SampleRecord {
  /** Position in the data (0-based, counting every sample of every shard). */
  i: number;
  id: string;
  /** The task scorer's per-sample outcome (absent for fidelity-only evaluations). */
  s?: unknown;
  /** Fidelity to the reference model. */
  f?: SampleFidelity;
}

export interface EvalResult {
  task: Task;
  samples: number;
  seconds: number;
  samplesPerSecond: number;
  /** Task metrics and, with a reference, fidelity metrics prefixed `fidelity.`. */
  metrics: Record<string, Estimate>;
  confusion?: number[][];
  classes?: readonly string[];
  misses?: { id: string; expected: string; got: string }[];
  peakRssMB: number;
  /** With `records: true`: every sample's outcome. */
  records?: EvalRecords;
  /** The evaluation ended after this many samples: `screen.stop` said so. */
  stoppedAt?: number;
}

function guessTask(label: Label | undefined): Task {
  if (typeof label === 'number') return 'classification';
  if (typeof label === 'string') return 'ctc';
  if (label && typeof label === 'object' && 'boxes' in label) return 'det-map';
  if (label && typeof label === 'object') return 'tensors';
  throw new InputError('the data has no labels: give --reference <model> to compare against another model');
}

/** Accumulates one task's per-sample outcomes from batched outputs. */
interface Scorer {
  add(out: Tensor, labels: readonly (Label | undefined)[], ids: readonly string[], expected?: readonly (Record<string, Tensor> | undefined)[]): void;
  estimates(opts: ResampleOptions): Record<string, Estimate>;
  extra?(): Partial<EvalResult>;
  /** Each sample's outcome so far, in order (JSON-safe), and the row size seen. */
  rows(): { rows: unknown[]; rowSize?: number };
  /** Adds a recorded outcome as `add` would have (`rowSize` from the records). */
  replay(row: unknown, id: string, rowSize?: number): void;
}

function classificationScorer(classes: readonly string[] | undefined): Scorer {
  let scores: ClassificationScores | undefined;
  let width = 0;
  return {
    add(out, labels, ids) {
      const { values, rowSize } = sampleRows(out, labels.length);
      const known = classes?.length ?? rowSize;
      width ||= rowSize;
      scores ??= new ClassificationScores(Math.max(known, rowSize));
      labels.forEach((l, i) => {
        if (typeof l !== 'number') throw new InputError(`sample ${ids[i]}: a classification label must be a class index`);
        if (l >= rowSize) throw new InputError(`sample ${ids[i]}: label ${l} is out of range for a model with ${rowSize} classes`);
      });
      scores.add(values, rowSize, labels as number[]);
    },
    estimates: (o) => scores!.estimates(o),
    // a confusion matrix is for reading: past 100 classes it would only be large
    extra: () => (scores!.classes <= 100 ? { confusion: scores!.confusion(), classes } : { classes }),
    rows: () => ({ rows: (scores?.labels ?? []).map((l, i) => [l, scores!.top1[i]!, scores!.inTop5[i]!]), rowSize: width }),
    replay(row, _id, rowSize = 0) {
      const [label, top1, inTop5] = row as [number, number, number];
      scores ??= new ClassificationScores(Math.max(classes?.length ?? rowSize, rowSize));
      scores.labels.push(label);
      scores.top1.push(top1);
      scores.inTop5.push(inTop5);
    },
  };
}

function ctcScorer(keys: string | undefined, ignoreSpaces: boolean): Scorer {
  const norm = (s: string) => (ignoreSpaces ? s.replace(/\s+/g, '') : s.trim());
  const scores = new OcrScores();
  const texts: [string, string][] = [];
  let alphabet: string[] | undefined;
  return {
    add(out, labels, ids) {
      if (out.dims.length !== 3) throw new InputError(`a CTC output is [N, T, classes]; '${out.name}' is [${out.dims.join(',')}]`);
      const [, steps, classes] = out.dims as [number, number, number];
      if (!keys) throw new InputError('CTC decoding needs the character list: --keys <file> or "eval.keys" in the dataset spec');
      alphabet ??= ctcAlphabet(keys, classes);
      const values = out.toFloat32();
      labels.forEach((l, i) => {
        if (typeof l !== 'string') throw new InputError(`sample ${ids[i]}: an OCR label must be a string`);
        const got = ctcGreedy(values, steps, classes, 0, i * steps * classes).map((c) => alphabet![c]!).join('');
        texts.push([norm(l), norm(got)]);
        scores.add(ids[i]!, norm(l), norm(got));
      });
    },
    estimates: (o) => scores.estimates(o),
    extra: () => ({ misses: scores.misses }),
    rows: () => ({ rows: texts.slice() }),
    replay(row, id) {
      const [expected, got] = row as [string, string];
      texts.push([expected, got]);
      scores.add(id, expected, got);
    },
  };
}

function detMapScorer(threshold: number, shrinkRatio: number | undefined, inputDims: () => number[]): Scorer {
  const scores = new DetMapScores();
  const boxScores = new DetBoxScores();
  return {
    add(out, labels, ids) {
      const d = out.dims;
      const [H, W] = [d[d.length - 2]!, d[d.length - 1]!];
      const [inH, inW] = inputDims().slice(-2) as [number, number];
      const { values, rowSize } = sampleRows(out, labels.length);
      if (rowSize !== H * W) throw new InputError(`a detection map is [N, 1, H, W]; '${out.name}' is [${d.join(',')}]`);
      labels.forEach((l, i) => {
        if (!l || typeof l !== 'object' || !('boxes' in l)) throw new InputError(`sample ${ids[i]}: a detection label has boxes`);
        const sx = W / inW;
        const sy = H / inH;
        const boxes = (l.boxes as Box[]).map(([x0, y0, x1, y1]): Box => [x0 * sx, y0 * sy, x1 * sx, y1 * sy]);
        const targets = shrinkRatio ? boxes.map((b) => shrinkBox(b, shrinkRatio)) : boxes;
        scores.add(pixelCounts(values, H, W, targets, threshold, i * rowSize));
        boxScores.add(matchBoxes(mapBoxes(values, H, W, threshold, { offset: i * rowSize }), boxes));
      });
    },
    estimates: (o) => ({ ...scores.estimates(o), ...boxScores.estimates(o) }),
    rows: () => ({ rows: scores.counts.map((c, i) => [c, boxScores.counts[i]!]) }),
    replay(row) {
      const [pixels, boxes] = row as [PixelCounts, BoxCounts];
      scores.add(pixels);
      boxScores.add(boxes);
    },
  };
}

/** Compares outputs with expected tensors stored with the data (ONNX test sets). */
function tensorsScorer(): Scorer {
  const scores = new FidelityScores();
  return {
    add(out, labels, ids) {
      labels.forEach((l, i) => {
        if (!l || typeof l !== 'object' || 'boxes' in l) throw new InputError(`sample ${ids[i]}: no expected output tensors`);
        const exp = (l as Record<string, Tensor>)[out.name] ?? Object.values(l as Record<string, Tensor>)[0];
        if (!exp || exp.size !== out.size) throw new InputError(`sample ${ids[i]}: expected output does not match '${out.name}' [${out.dims.join(',')}]`);
        const classes = out.dims[out.dims.length - 1] ?? 1;
        const ref = exp.toFloat32();
        scores.add(sampleFidelity(out.toFloat32(), ref, classes, isDistribution(ref, classes)));
      });
    },
    estimates: (o) => scores.estimates(o),
    rows: () => ({ rows: scores.samples.slice() }),
    replay: (row) => scores.add(row as SampleFidelity),
  };
}

/**
 * Runs a model over a dataset in batches and scores it: task metrics against labels and, given a reference
 * model, fidelity against that model's outputs on the same inputs. Every metric comes with a seeded
 * bootstrap interval. Memory: one batch of inputs and outputs plus a few numbers per sample.
 */
export async function evaluate(model: Model | string, data: Dataset, opts: EvaluateOptions = {}): Promise<EvalResult> {
  const m = typeof model === 'string' ? loadModel(model) : model;
  const session = await Session.create(typeof model === 'string' ? model : m, opts);
  const cache = opts.reference instanceof ReferenceOutputs ? opts.reference : undefined;
  const refModel = opts.reference instanceof ReferenceOutputs ? opts.reference.model : opts.reference;
  // with a cache, the reference's session is made only for a batch it has not kept
  let ref = refModel && !cache ? await Session.create(refModel, opts) : undefined;
  const refOutput = async (feeds: Record<string, Tensor>, batch: string): Promise<Tensor | undefined> => {
    const kept = cache?.get(batch, outName);
    if (kept) return kept;
    ref ??= await Session.create(refModel!, opts);
    const r = (await ref.run(feeds, [outName]))[outName];
    if (r) cache?.keep(batch, outName, r);
    return r;
  };
  const inputNames = runtimeInputs(m).map((v) => v.name);
  const outName = opts.output ?? defaultOutput(m, session.outputNames, opts.task);
  if (!session.outputNames.includes(outName)) throw new InputError(`the model has no output '${outName}' (outputs: ${session.outputNames.join(', ')})`);
  let task = opts.task;
  let scorer: Scorer | undefined;
  const fidelity = refModel ? new FidelityScores() : undefined;
  let lastFeeds: Record<string, Tensor> = {};
  let done = 0;
  // with records: each run sample's position in the data and id (shards skip the other batches)
  const positions: { i: number; id: string }[] = [];
  let seen = 0;
  let batchIndex = 0;
  const shard = opts.shard;
  if (shard && !(Number.isInteger(shard.count) && shard.count >= 1 && Number.isInteger(shard.index) && shard.index >= 0 && shard.index < shard.count)) {
    throw new InputError(`bad shard ${shard.index} of ${shard.count}`);
  }
  let looked = false;
  let stoppedAt: number | undefined;
  const metricsOf = (boot: ResampleOptions): Record<string, Estimate> => {
    const metrics: Record<string, Estimate> = scorer && task !== 'fidelity' ? scorer.estimates(boot) : {};
    if (fidelity) for (const [k, v] of Object.entries(fidelity.estimates(boot))) metrics[`fidelity.${k}`] = v;
    return metrics;
  };
  const t0 = performance.now();
  try {
    for await (const b of batches(data, opts.batch ?? 1)) {
      const mine = !shard || batchIndex % shard.count === shard.index;
      batchIndex++;
      seen += b.ids.length;
      if (!mine) continue;
      if (opts.records) b.ids.forEach((id, k) => positions.push({ i: seen - b.ids.length + k, id }));
      const feeds = bindInputs(b.inputs, inputNames);
      checkFeeds(m, feeds);
      lastFeeds = feeds;
      const out = (await session.run(feeds, [outName]))[outName]!;
      const hasLabels = b.labels.some((l) => l !== undefined);
      if (!scorer && (hasLabels || !refModel)) {
        task ??= guessTask(b.labels[0]);
        scorer = makeScorer(task, opts, data.classes, () => Object.values(lastFeeds)[0]!.dims);
      }
      if (scorer && task !== 'fidelity') scorer.add(out, b.labels, b.ids);
      if (fidelity) {
        const r = await refOutput(feeds, `${batchIndex - 1}\u0001${b.ids.join('\u0001')}`);
        if (!r) throw new InputError(`the reference model has no output '${outName}'`);
        addFidelity(fidelity, out, r, b.ids.length);
      }
      done += b.ids.length;
      opts.onProgress?.(done);
      if (opts.screen && !looked && done >= opts.screen.samples) {
        looked = true;
        if (opts.screen.stop(metricsOf(opts.bootstrap ?? {}))) {
          stoppedAt = done;
          break;
        }
      }
    }
  } finally {
    await session.release();
    await ref?.release();
  }
  if (done === 0 && !(shard && seen > 0)) throw new InputError('the data holds no samples (check the path, --limit and the split)');
  const records = opts.records ? recordsOf(task ?? 'fidelity', positions, scorer && task !== 'fidelity' ? scorer : undefined, fidelity, data.classes) : undefined;
  if (done === 0) return { task: task ?? 'fidelity', samples: 0, seconds: 0, samplesPerSecond: 0, metrics: {}, peakRssMB: process.resourceUsage().maxRSS / 1024, records: records! };
  const seconds = (performance.now() - t0) / 1000;
  const metrics = metricsOf(opts.bootstrap ?? {});
  return {
    task: task ?? 'fidelity',
    ...(stoppedAt !== undefined ? { stoppedAt } : {}),
    samples: done,
    seconds,
    samplesPerSecond: done / seconds,
    metrics,
    ...(scorer && task !== 'fidelity' ? scorer.extra?.() : {}),
    peakRssMB: process.resourceUsage().maxRSS / 1024,
    ...(records ? { records } : {}),
  };
}

function recordsOf(task: Task, positions: { i: number; id: string }[], scorer: Scorer | undefined, fidelity: FidelityScores | undefined, classes: readonly string[] | undefined): EvalRecords {
  const rows = scorer?.rows();
  const samples = positions.map(({ i, id }, k): SampleRecord => ({
    i,
    id,
    ...(rows ? { s: rows.rows[k] } : {}),
    ...(fidelity ? { f: fidelity.samples[k]! } : {}),
  }));
  return { task, ...(rows?.rowSize ? { rowSize: rows.rowSize } : {}), ...(classes ? { classes } : {}), samples };
}

/**
 * The evaluation result of records merged from shards (each `evaluate(…, { shard, records: true })`): the
 * samples are put back in data order and scored by the same scorers, so every metric and interval equals
 * that of one local run over the whole data. Duplicate or missing positions are refused.
 */
export function resultFromRecords(shards: readonly EvalRecords[], opts: Pick<EvaluateOptions, 'keys' | 'ignoreSpaces' | 'threshold' | 'shrinkRatio' | 'bootstrap'> & { seconds?: number } = {}): EvalResult {
  const samples = shards.flatMap((r) => r.samples).sort((a, b) => a.i - b.i);
  samples.forEach((s, k) => {
    if (s.i !== k) throw new InputError(`the shards' records ${s.i < k ? `hold sample ${s.i} twice` : `miss sample ${k}`}`);
  });
  if (samples.length === 0) throw new InputError('the data holds no samples (check the path, --limit and the split)');
  // a shard that ran no batch knows no task
  const scored = shards.filter((r) => r.samples.length > 0);
  const task = scored[0]!.task;
  if (scored.some((r) => r.task !== task)) throw new InputError('the shards were scored as different tasks');
  const rowSize = Math.max(0, ...shards.map((r) => r.rowSize ?? 0)) || undefined;
  const classes = shards.find((r) => r.classes)?.classes;
  const scoring = samples[0]!.s !== undefined;
  const scorer = scoring ? makeScorer(task, opts, classes, () => []) : undefined;
  const fidelity = samples[0]!.f !== undefined ? new FidelityScores() : undefined;
  for (const s of samples) {
    if (scorer) scorer.replay(s.s, s.id, rowSize);
    if (fidelity) fidelity.add(s.f!);
  }
  const boot = opts.bootstrap ?? {};
  const metrics: Record<string, Estimate> = scorer ? scorer.estimates(boot) : {};
  if (fidelity) for (const [k, v] of Object.entries(fidelity.estimates(boot))) metrics[`fidelity.${k}`] = v;
  const seconds = opts.seconds ?? 0;
  return {
    task,
    samples: samples.length,
    seconds,
    samplesPerSecond: seconds > 0 ? samples.length / seconds : 0,
    metrics,
    ...(scorer ? scorer.extra?.() : {}),
    peakRssMB: process.resourceUsage().maxRSS / 1024,
  };
}

function makeScorer(task: Task, opts: EvaluateOptions, classes: readonly string[] | undefined, inputDims: () => number[]): Scorer | undefined {
  switch (task) {
    case 'classification':
      return classificationScorer(classes);
    case 'ctc':
      return ctcScorer(opts.keys, opts.ignoreSpaces ?? false);
    case 'det-map':
      return detMapScorer(opts.threshold ?? 0.3, opts.shrinkRatio, inputDims);
    case 'tensors':
      return tensorsScorer();
    case 'fidelity':
      if (!opts.reference) throw new InputError('task fidelity needs --reference <model>');
      return undefined;
  }
}

function addFidelity(scores: FidelityScores, out: Tensor, ref: Tensor, samples: number): void {
  if (ref.size !== out.size) throw new InputError(`the reference's '${ref.name}' is [${ref.dims.join(',')}], the model's is [${out.dims.join(',')}]`);
  const a = sampleRows(out, samples);
  const b = sampleRows(ref, samples);
  const classes = out.dims[out.dims.length - 1] ?? 1;
  const probs = isDistribution(b.values, classes);
  for (let i = 0; i < samples; i++) {
    const s = i * a.rowSize;
    scores.add(sampleFidelity(a.values.subarray(s, s + a.rowSize), b.values.subarray(s, s + a.rowSize), classes, probs));
  }
}

/**
 * The output scored when none is named: for classification the first output of shape [N, classes] (encoders
 * often put last_hidden_state first and logits after), otherwise the first output.
 */
function defaultOutput(m: Model, names: readonly string[], task: Task | undefined): string {
  if (task === undefined || task === 'classification') {
    const rank2 = m.graph.outputs.find((v) => v.type?.kind === 'tensor' && v.type.shape?.length === 2 && names.includes(v.name));
    if (rank2) return rank2.name;
  }
  return names[0]!;
}
