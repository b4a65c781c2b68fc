import { InputError } from '../errors.js';
import { DataType, dtypeInfo, type TypedArray } from '../ir/dtype.js';
import type { Model } from '../ir/graph.js';
import { loadModel, modelToBytes } from '../ir/io.js';
import { Tensor } from '../ir/tensor.js';
import { rng } from '../runtime/inputs.js';
import { Session } from '../runtime/session.js';
import { loadCheckpoint, saveCheckpoint } from './checkpoint.js';
import type { LossSpec } from './loss.js';
import { adamBiasCorrections, STEP_INPUTS, type OptimizerSpec } from './optimizer.js';
import { learningRate, type ScheduleSpec } from './schedule.js';
import { buildTrainingGraph, makeInput, type TrainingGraph } from './training-graph.js';

/**
 * The training loop. Each step is one ONNX Runtime call of the training graph (forward, loss, backward,
 * clipping, update); the loop only gathers batches, feeds the carried tensors back and keeps the score.
 */

/** In-memory examples: one array per model input (rows of `itemShape`), integer labels. */
export interface TensorData {
  inputs: Record<string, { data: TypedArray; dtype: DataType; itemShape: number[] }>;
  labels: ArrayLike<number>;
  length: number;
}

export interface EpochStats {
  epoch: number;
  loss: number;
  trainAccuracy: number;
  testAccuracy?: number;
  testLoss?: number;
  samplesPerSecond: number;
  seconds: number;
}

export interface Progress {
  epoch: number;
  epochs: number;
  step: number;
  stepsPerEpoch: number;
  loss: number;
  accuracy: number;
  samplesPerSecond: number;
  lr: number;
}

export interface TrainOptions {
  train: TensorData;
  test?: TensorData;
  epochs: number;
  batch: number;
  lr: number;
  loss?: LossSpec;
  optimizer?: OptimizerSpec;
  schedule?: ScheduleSpec;
  clipNorm?: number;
  frozen?: (name: string) => boolean;
  seed?: number;
  threads?: number;
  /** Save a checkpoint here after every epoch. */
  checkpoint?: string;
  /** Continue from this checkpoint. */
  resume?: string;
  /** Stop after this many steps in total (for tests and benchmarks). */
  maxSteps?: number;
  /** Length of the learning-rate schedule in steps (default: the epochs' steps; a step-bounded run gives its count). */
  scheduleSteps?: number;
  /** Initializers that train although they are scalars (see TrainingGraphOptions). */
  extraParams?: readonly string[];
  /**
   * Early stopping on the held-out split (`test`): stop when its accuracy has not improved for this many
   * evaluations, and return the weights of the best one.
   */
  patience?: number;
  /**
   * What early stopping keeps: the evaluation with the best held-out 'accuracy' (default), or the lowest held-out
   * 'loss' (mean cross-entropy). On a few thousand held-out samples top-1 moves by ±0.3 points between
   * evaluations from sampling alone, so the accuracy picks a noisy winner, often early and still at the peak
   * learning rate; the loss is a smooth average over every sample and follows the schedule's decay.
   */
  selectBy?: 'accuracy' | 'loss';
  /** Evaluate on `test` every this many steps as well as after every epoch (short QAT/distillation runs). */
  evalEvery?: number;
  /** Extra inputs of the training graph computed per batch (distillation: the teacher's outputs). */
  batchFeeds?: (batch: Record<string, Tensor>) => Promise<Record<string, Tensor>>;
  /** Asked before every step: true ends training there (a time budget); the epoch's evaluation still runs. */
  shouldStop?: () => boolean;
  /**
   * How far training is, in [0, 1], when that is not the step count (a time budget): the schedule runs at
   * whichever of the two is further, so a budgeted run still decays its learning rate to the end.
   */
  progress?: () => number;
  onProgress?(p: Progress): void;
  onEpoch?(s: EpochStats): void;
  /**
   * After every optimizer step (`step` steps done), before any evaluation: may replace tensors in `tensors` (the
   * trained weights and optimizer state, by initializer name), e.g. QAT's frozen weights. Never mutate a tensor.
   */
  afterStep?(step: number, tensors: Map<string, Tensor>): void;
  /** After each evaluation inside an epoch (`evalEvery`). */
  onEval?(e: { step: number; testAccuracy: number; testLoss: number }): void;
  /**
   * Weight averaging over the end of training (tail averaging, SWA-style over the schedule's last part): the
   * fraction in (0, 1] of the schedule's steps whose weights are averaged. After each of the last
   * n = max(1, round(averageLast · scheduleSteps)) steps of the schedule (after `afterStep`), every trained tensor
   * (weights, learned scales, running statistics; not the optimizer state) is added to a float64 sum; the mean is
   * what `train` returns, in place of the best held-out evaluation's weights, and is evaluated on `test` once.
   * A run that ends before the window (early stop, time) returns the best or last weights and no `averaged`.
   */
  averageLast?: number;
}

/** The weight average a run returned (`averageLast`). */
export interface AveragedWeights {
  /** The first and last step whose weights were added (steps done, 1-based), and how many snapshots. */
  from: number;
  to: number;
  count: number;
  /** On `test`: the average's accuracy and mean cross-entropy. */
  testAccuracy?: number;
  testLoss?: number;
}

export interface TrainResult {
  /** The inference model with the trained weights (BatchNormalization with the learned running stats). */
  model: Model;
  history: EpochStats[];
  graph: TrainingGraph;
  /** Optimizer steps taken. */
  steps: number;
  /** With `patience`: the held-out accuracy of the returned weights (the best evaluation). */
  best?: number;
  /** With `patience`: the step of the evaluation whose weights are returned (0: the starting weights). */
  bestStep?: number;
  /** With `averageLast`: the average returned in place of `best` (absent when the run ended before the window). */
  averaged?: AveragedWeights;
}

/** `averageLast` checked: a fraction in (0, 1]. `shown`: the value as the user wrote it (a flag's text), for the message. */
export function checkAverageLast(f: number | undefined, flag = 'averageLast', shown = String(f)): void {
  if (f !== undefined && !(f > 0 && f <= 1)) throw new InputError(`${flag} must be a fraction in (0, 1], not '${shown}'`);
}

/** Running sums of the trained tensors (float64) over a window of steps. */
class WeightAverage {
  readonly sums = new Map<string, Float64Array>();
  count = 0;
  from = 0;
  to = 0;
  constructor(readonly names: readonly string[]) {}
  add(step: number, tensors: ReadonlyMap<string, Tensor>): void {
    for (const name of this.names) {
      const t = tensors.get(name)!;
      if (t.dtype !== DataType.FLOAT) continue;
      const v = t.toFloat32();
      let sum = this.sums.get(name);
      if (!sum) this.sums.set(name, (sum = new Float64Array(v.length)));
      for (let i = 0; i < v.length; i++) sum[i]! += v[i]!;
    }
    if (this.count++ === 0) this.from = step;
    this.to = step;
  }
  /** The mean of each summed tensor (float32), the other tensors as in `last`. */
  mean(last: ReadonlyMap<string, Tensor>): Map<string, Tensor> {
    const out = new Map(last);
    for (const [name, sum] of this.sums) out.set(name, new Tensor(DataType.FLOAT, [...last.get(name)!.dims], new Uint8Array(Float32Array.from(sum, (x) => x / this.count).buffer), name));
    return out;
  }
  /** Checkpoint form: the sums as DOUBLE tensors under `average/<name>`, the window in one INT64 tensor. */
  save(into: Map<string, Tensor>): void {
    for (const [name, sum] of this.sums) into.set(`${AVERAGE_PREFIX}${name}`, Tensor.fromArray(DataType.DOUBLE, [sum.length], sum));
    into.set(`${AVERAGE_PREFIX}window`, Tensor.int64([3], [this.count, this.from, this.to]));
  }
  load(from: ReadonlyMap<string, Tensor>): void {
    const w = from.get(`${AVERAGE_PREFIX}window`)?.toNumbers();
    if (!w) return;
    [this.count, this.from, this.to] = w as [number, number, number];
    for (const name of this.names) {
      const t = from.get(`${AVERAGE_PREFIX}${name}`);
      if (t) this.sums.set(name, Float64Array.from(t.view() as Float64Array));
    }
  }
}
const AVERAGE_PREFIX = 'inferopt.average/';


/** Copies rows `order[from..from+n)` of every input into batch tensors. */
export function gatherBatch(data: TensorData, order: ArrayLike<number>, from: number, n: number): Record<string, Tensor> {
  const feeds: Record<string, Tensor> = {};
  for (const [name, { data: src, dtype, itemShape }] of Object.entries(data.inputs)) {
    const row = itemShape.reduce((a, b) => a * b, 1);
    const ctor = dtypeInfo(dtype).array!;
    const out = new ctor(n * row);
    for (let i = 0; i < n; i++) {
      const r = order[from + i]!;
      (out as Float32Array).set((src as Float32Array).subarray(r * row, (r + 1) * row), i * row);
    }
    feeds[name] = new Tensor(dtype, [n, ...itemShape], new Uint8Array(out.buffer), name);
  }
  const labels = new Array<number>(n);
  for (let i = 0; i < n; i++) labels[i] = data.labels[order[from + i]!]!;
  feeds.labels = Tensor.int64([n], labels);
  return feeds;
}

function permutation(n: number, seed: number): Uint32Array {
  const p = new Uint32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  const r = rng(seed);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [p[i], p[j]] = [p[j]!, p[i]!];
  }
  return p;
}

export async function train(forward: Model, opts: TrainOptions): Promise<TrainResult> {
  const seed = opts.seed ?? 0;
  const batch = opts.batch;
  const stepsPerEpoch = Math.floor(opts.train.length / batch);
  if (stepsPerEpoch === 0) throw new InputError(`the training set (${opts.train.length}) is smaller than one batch (${batch})`);
  const optimizer = opts.optimizer ?? { kind: 'sgd', momentum: 0.9 };
  const sample = gatherBatch(opts.train, permutation(opts.train.length, seed), 0, batch);
  if (opts.batchFeeds) Object.assign(sample, await opts.batchFeeds(sample));
  const graph = await buildTrainingGraph(forward, { loss: opts.loss ?? { kind: 'cross-entropy' }, optimizer, sample, frozen: opts.frozen, clipNorm: opts.clipNorm, extraParams: opts.extraParams });
  const session = await Session.create(graph.model, { threads: opts.threads ?? 2, optLevel: 'all' });

  checkAverageLast(opts.averageLast);
  const config = JSON.stringify({ batch, optimizer, loss: opts.loss, seed, params: graph.params, ...(opts.averageLast !== undefined ? { averageLast: opts.averageLast } : {}) });
  const carried = new Map<string, Tensor>();
  const initial = new Map([...forward.graph.initializers].map(([k, v]) => [k, v.initializer!]));
  for (const c of graph.carried) {
    carried.set(c.input, c.init === 'zeros' ? Tensor.float(c.dims, new Float32Array(c.dims.reduce((a, b) => a * b, 1))) : initial.get(c.input)!.clone(c.input));
  }
  let startEpoch = 0;
  let step = 0;
  const average = opts.averageLast !== undefined ? new WeightAverage(graph.carried.filter((c) => c.init !== 'zeros').map((c) => c.input)) : undefined;
  if (opts.resume) {
    const ck = loadCheckpoint(opts.resume);
    if (ck.config !== config) throw new InputError(`checkpoint ${opts.resume} was made with a different configuration`);
    for (const [k, t] of ck.tensors) if (!k.startsWith(AVERAGE_PREFIX)) carried.set(k, t);
    average?.load(ck.tensors);
    startEpoch = ck.epoch;
    step = ck.step;
  }

  const evaluator = opts.test ? await evalSession(forward, graph, opts.threads ?? 2) : undefined;
  const history: EpochStats[] = [];
  // early stopping: the best held-out evaluation so far (accuracy, or loss), its weights, and evaluations since it improved
  let best: { accuracy: number; loss: number; step: number; tensors: Map<string, Tensor> } | undefined;
  let since = 0;
  let stop = false;
  const byLoss = opts.selectBy === 'loss';
  const judge = async (atStep: number): Promise<{ testAccuracy: number; testLoss: number } | undefined> => {
    if (!evaluator || !opts.test) return undefined;
    const r = await evaluator(opts.test, carried);
    if (opts.patience !== undefined) {
      if (!best || (byLoss ? r.testLoss < best.loss : r.testAccuracy > best.accuracy)) {
        best = { accuracy: r.testAccuracy, loss: r.testLoss, step: atStep, tensors: new Map(carried) };
        since = 0;
      } else if (++since >= opts.patience) stop = true;
    }
    return r;
  };
  if (opts.patience !== undefined) await judge(step);
  const totalSteps = opts.scheduleSteps ?? stepsPerEpoch * opts.epochs;
  // the weights after steps averageFrom … totalSteps are averaged
  const averageFrom = average ? totalSteps - Math.max(1, Math.round(opts.averageLast! * totalSteps)) + 1 : Infinity;
  for (let epoch = startEpoch; epoch < opts.epochs; epoch++) {
    const order = permutation(opts.train.length, seed * 7919 + epoch + 1);
    let lossSum = 0;
    let correct = 0;
    let seen = 0;
    const t0 = performance.now();
    for (let s = 0; s < stepsPerEpoch; s++, step++) {
      if ((opts.maxSteps !== undefined && step >= opts.maxSteps) || opts.shouldStop?.()) break;
      const at = opts.progress ? Math.max(step, Math.min(totalSteps - 1, Math.floor(opts.progress() * totalSteps))) : step;
      const lr = learningRate(opts.lr, opts.schedule ?? { kind: 'constant' }, at, totalSteps);
      const [b1, b2] = adamBiasCorrections(optimizer, step + 1);
      const data = gatherBatch(opts.train, order, s * batch, batch);
      const feeds: Record<string, Tensor> = { ...data, ...(await opts.batchFeeds?.(data)), [STEP_INPUTS.lr]: Tensor.float([], [lr]) };
      if (optimizer.kind === 'adamw') Object.assign(feeds, { [STEP_INPUTS.bias1]: Tensor.float([], [b1]), [STEP_INPUTS.bias2]: Tensor.float([], [b2]) });
      for (const [k, t] of carried) feeds[k] = t;
      const out = await session.run(feeds);
      for (const c of graph.carried) carried.set(c.input, out[c.output]!);
      opts.afterStep?.(step + 1, carried);
      if (step + 1 >= averageFrom) average!.add(step + 1, carried);
      const loss = out.loss!.toFloat32()[0]!;
      if (!Number.isFinite(loss)) throw new InputError(`training diverged at step ${step} (loss ${loss}); lower the learning rate`);
      lossSum += loss * batch;
      correct += out.correct ? out.correct.toFloat32()[0]! : 0;
      seen += batch;
      opts.onProgress?.({
        epoch: epoch + 1, epochs: opts.epochs, step: s + 1, stepsPerEpoch,
        loss: lossSum / seen, accuracy: correct / seen, samplesPerSecond: seen / ((performance.now() - t0) / 1000), lr,
      });
      if (opts.evalEvery && (step + 1) % opts.evalEvery === 0 && s + 1 < stepsPerEpoch) {
        const r = await judge(step + 1);
        if (r) opts.onEval?.({ step: step + 1, ...r });
        if (stop) break;
      }
    }
    const seconds = (performance.now() - t0) / 1000;
    const stats: EpochStats = { epoch: epoch + 1, loss: lossSum / Math.max(1, seen), trainAccuracy: correct / Math.max(1, seen), samplesPerSecond: seen / seconds, seconds };
    if (!stop) Object.assign(stats, await judge(step));
    history.push(stats);
    opts.onEpoch?.(stats);
    if (opts.checkpoint) {
      const tensors = new Map(carried);
      average?.save(tensors);
      saveCheckpoint(opts.checkpoint, { tensors, epoch: epoch + 1, step, config });
    }
    if (stop || (opts.maxSteps !== undefined && step >= opts.maxSteps) || opts.shouldStop?.()) break;
  }
  await session.release();
  let averaged: AveragedWeights | undefined;
  let final = best ? best.tensors : carried;
  if (average && average.count > 0) {
    final = average.mean(carried);
    averaged = { from: average.from, to: average.to, count: average.count };
    if (evaluator && opts.test) {
      const r = await evaluator(opts.test, final);
      Object.assign(averaged, r);
    }
  }
  return { model: withWeights(forward, final), history, graph, steps: step, best: best?.accuracy, ...(best ? { bestStep: best.step } : {}), ...(averaged ? { averaged } : {}) };
}

/** The forward model with new initializer values (weights and running statistics). */
export function withWeights(forward: Model, tensors: ReadonlyMap<string, Tensor>): Model {
  const m = loadModel(modelToBytes(forward));
  for (const [name, v] of m.graph.initializers) {
    const t = tensors.get(name);
    if (t) v.initializer = t.clone(name);
  }
  return m;
}

/**
 * An evaluation session of the inference model with the trained tensors as inputs (built once, fed the
 * current weights each epoch). Returns accuracy and mean cross-entropy on a dataset.
 */
async function evalSession(forward: Model, graph: TrainingGraph, threads: number) {
  const m = loadModel(modelToBytes(forward));
  const names = new Set(graph.carried.filter((c) => c.init !== 'zeros').map((c) => c.input));
  for (const v of [...m.graph.initializers.values()]) if (names.has(v.name)) makeInput(m.graph, v);
  const session = await Session.create(m, { threads, optLevel: 'all' });
  const output = m.graph.outputs[0]!.name;
  return async (data: TensorData, carried: Map<string, Tensor>) => {
    const order = Uint32Array.from({ length: data.length }, (_, i) => i);
    let correct = 0;
    let lossSum = 0;
    const chunk = 500;
    for (let from = 0; from < data.length; from += chunk) {
      const n = Math.min(chunk, data.length - from);
      const { labels, ...feeds } = gatherBatch(data, order, from, n);
      for (const name of names) feeds[name] = carried.get(name)!;
      const logits = (await session.run(feeds, [output]))[output]!.toFloat32();
      const k = logits.length / n;
      const lab = labels!.toNumbers();
      for (let i = 0; i < n; i++) {
        const row = logits.subarray(i * k, (i + 1) * k);
        let best = 0;
        for (let j = 1; j < k; j++) if (row[j]! > row[best]!) best = j;
        if (best === lab[i]) correct++;
        const max = row[best]!;
        let z = 0;
        for (let j = 0; j < k; j++) z += Math.exp(row[j]! - max);
        lossSum += Math.log(z) + max - row[lab[i]!]!;
      }
    }
    return { testAccuracy: correct / data.length, testLoss: lossSum / data.length };
  };
}
