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
  onProgress?(p: Progress): void;
  onEpoch?(s: EpochStats): void;
}

export interface TrainResult {
  /** The inference model with the trained weights (BatchNormalization with the learned running stats). */
  model: Model;
  history: EpochStats[];
  graph: TrainingGraph;
}

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
  const graph = await buildTrainingGraph(forward, { loss: opts.loss ?? { kind: 'cross-entropy' }, optimizer, sample, frozen: opts.frozen, clipNorm: opts.clipNorm });
  const session = await Session.create(graph.model, { threads: opts.threads ?? 2, optLevel: 'all' });

  const config = JSON.stringify({ batch, optimizer, loss: opts.loss, seed, params: graph.params });
  const carried = new Map<string, Tensor>();
  const initial = new Map([...forward.graph.initializers].map(([k, v]) => [k, v.initializer!]));
  for (const c of graph.carried) {
    carried.set(c.input, c.init === 'zeros' ? Tensor.float(c.dims, new Float32Array(c.dims.reduce((a, b) => a * b, 1))) : initial.get(c.input)!.clone(c.input));
  }
  let startEpoch = 0;
  let step = 0;
  if (opts.resume) {
    const ck = loadCheckpoint(opts.resume);
    if (ck.config !== config) throw new InputError(`checkpoint ${opts.resume} was made with a different configuration`);
    for (const [k, t] of ck.tensors) carried.set(k, t);
    startEpoch = ck.epoch;
    step = ck.step;
  }

  const evaluator = opts.test ? await evalSession(forward, graph, opts.threads ?? 2) : undefined;
  const history: EpochStats[] = [];
  const totalSteps = stepsPerEpoch * opts.epochs;
  for (let epoch = startEpoch; epoch < opts.epochs; epoch++) {
    const order = permutation(opts.train.length, seed * 7919 + epoch + 1);
    let lossSum = 0;
    let correct = 0;
    let seen = 0;
    const t0 = performance.now();
    for (let s = 0; s < stepsPerEpoch; s++, step++) {
      if (opts.maxSteps !== undefined && step >= opts.maxSteps) break;
      const lr = learningRate(opts.lr, opts.schedule ?? { kind: 'constant' }, step, totalSteps);
      const [b1, b2] = adamBiasCorrections(optimizer, step + 1);
      const feeds: Record<string, Tensor> = { ...gatherBatch(opts.train, order, s * batch, batch), [STEP_INPUTS.lr]: Tensor.float([], [lr]) };
      if (optimizer.kind === 'adamw') Object.assign(feeds, { [STEP_INPUTS.bias1]: Tensor.float([], [b1]), [STEP_INPUTS.bias2]: Tensor.float([], [b2]) });
      for (const [k, t] of carried) feeds[k] = t;
      const out = await session.run(feeds);
      for (const c of graph.carried) carried.set(c.input, out[c.output]!);
      const loss = out.loss!.toFloat32()[0]!;
      if (!Number.isFinite(loss)) throw new InputError(`training diverged at step ${step} (loss ${loss}); lower the learning rate`);
      lossSum += loss * batch;
      correct += out.correct ? out.correct.toFloat32()[0]! : 0;
      seen += batch;
      opts.onProgress?.({
        epoch: epoch + 1, epochs: opts.epochs, step: s + 1, stepsPerEpoch,
        loss: lossSum / seen, accuracy: correct / seen, samplesPerSecond: seen / ((performance.now() - t0) / 1000), lr,
      });
    }
    const seconds = (performance.now() - t0) / 1000;
    const stats: EpochStats = { epoch: epoch + 1, loss: lossSum / Math.max(1, seen), trainAccuracy: correct / Math.max(1, seen), samplesPerSecond: seen / seconds, seconds };
    if (evaluator && opts.test) Object.assign(stats, await evaluator(opts.test, carried));
    history.push(stats);
    opts.onEpoch?.(stats);
    if (opts.checkpoint) saveCheckpoint(opts.checkpoint, { tensors: carried, epoch: epoch + 1, step, config });
    if (opts.maxSteps !== undefined && step >= opts.maxSteps) break;
  }
  await session.release();
  return { model: withWeights(forward, carried), history, graph };
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
