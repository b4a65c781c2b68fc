import { DataType } from '../ir/dtype.js';
import type { Model } from '../ir/graph.js';
import { Node } from '../ir/graph.js';
import { Tensor } from '../ir/tensor.js';
import { Session } from '../runtime/session.js';
import { buildTrainingGraph } from '../train/training-graph.js';
import { gatherBatch, train, type EpochStats, type TensorData } from '../train/trainer.js';
import type { OptimizerSpec } from '../train/optimizer.js';
import type { ScheduleSpec } from '../train/schedule.js';
import { cloneModel } from './structured.js';

/**
 * Recovery after pruning, through the training engine (src/train): fine-tuning with the zero masks of
 * unstructured / N:M pruning held (each masked weight is read through Mul(w, mask) while training, so its
 * pruned entries get no gradient and stay zero; the product is baked in afterwards), optional distillation
 * from the unpruned model (KL on temperature-softened logits mixed with the labels' cross-entropy), and a
 * time budget. Also first-order Taylor scores (|w·∂L/∂w|) from a few batches.
 */

export interface RecoveryOptions {
  train: TensorData;
  test?: TensorData;
  epochs?: number;
  batch?: number;
  lr?: number;
  optimizer?: OptimizerSpec;
  schedule?: ScheduleSpec;
  /** Stop after this many seconds of training (the epoch's evaluation still runs). */
  seconds?: number;
  maxSteps?: number;
  masks?: ReadonlyMap<string, Uint8Array>;
  /** Distil from this model's logits. */
  teacher?: Model;
  temperature?: number;
  /** Weight of the distillation term (the rest goes to the labels' cross-entropy). */
  alpha?: number;
  seed?: number;
  threads?: number;
  onEpoch?: (s: EpochStats) => void;
}

export interface RecoveryResult {
  model: Model;
  history: EpochStats[];
  seconds: number;
}

const MASK_SUFFIX = '__prune_mask';

/** Reads every masked weight through Mul(weight, mask); returns the inserted nodes. */
function insertMasks(model: Model, masks: ReadonlyMap<string, Uint8Array>): Node[] {
  const g = model.graph;
  const nodes: Node[] = [];
  for (const [name, mask] of masks) {
    const w = g.initializers.get(name);
    if (!w) continue;
    const t = w.initializer!;
    const m = g.addInitializer(Tensor.float([...t.dims], Float32Array.from(mask)), `${name}${MASK_SUFFIX}`);
    const masked = g.newValue(`${name}_masked`, { kind: 'tensor', elemType: DataType.FLOAT, shape: [...t.dims] });
    const uses = [...w.uses];
    const mul = new Node('Mul', [w, m], [masked], { name: g.uniqueName(`${name}_mask_mul`) });
    for (const u of uses) u.node.setInput(u.index, masked);
    g.addNode(mul, g.nodes[0]);
    nodes.push(mul);
  }
  return nodes;
}

/** Bakes Mul(weight, mask) into the weight and removes the mask. */
function bakeMasks(model: Model): void {
  const g = model.graph;
  for (const n of [...g.nodes]) {
    const mask = n.inputs[1];
    if (n.opType !== 'Mul' || !mask?.name.endsWith(MASK_SUFFIX)) continue;
    const w = n.inputs[0]!;
    const data = w.initializer!.toFloat32().slice();
    const m = mask.initializer!.toFloat32();
    for (let i = 0; i < data.length; i++) data[i] = m[i] === 0 ? 0 : data[i]!;
    w.initializer = Tensor.float([...w.initializer!.dims], data, w.name);
    n.outputs[0]!.replaceAllUsesWith(w);
    g.removeNode(n);
    g.removeInitializer(mask);
  }
}

/** Teacher logits for every training example, as an extra input `teacher_logits` of the data. */
async function withTeacher(data: TensorData, teacher: Model, threads: number): Promise<TensorData> {
  const s = await Session.create(teacher, { threads });
  const output = teacher.graph.outputs[0]!.name;
  const order = Uint32Array.from({ length: data.length }, (_, i) => i);
  let logits: Float32Array | undefined;
  let classes = 0;
  const chunk = 256;
  for (let from = 0; from < data.length; from += chunk) {
    const n = Math.min(chunk, data.length - from);
    const { labels: _l, ...feeds } = gatherBatch(data, order, from, n);
    const out = (await s.run(feeds, [output]))[output]!;
    classes = out.dims[1]!;
    logits ??= new Float32Array(data.length * classes);
    logits.set(out.toFloat32(), from * classes);
  }
  await s.release();
  return { ...data, inputs: { ...data.inputs, teacher_logits: { data: logits!, dtype: DataType.FLOAT, itemShape: [classes] } } };
}

export async function finetune(model: Model, opts: RecoveryOptions): Promise<RecoveryResult> {
  const m = cloneModel(model);
  if (opts.masks) insertMasks(m, opts.masks);
  const threads = opts.threads ?? 2;
  const trainData = opts.teacher ? await withTeacher(opts.train, opts.teacher, threads) : opts.train;
  const t0 = performance.now();
  const deadline = opts.seconds !== undefined ? t0 + opts.seconds * 1000 : undefined;
  const r = await train(m, {
    train: trainData,
    test: opts.test,
    epochs: opts.epochs ?? 1,
    batch: opts.batch ?? 64,
    lr: opts.lr ?? 0.01,
    optimizer: opts.optimizer ?? { kind: 'sgd', momentum: 0.9, nesterov: true, weightDecay: 5e-5 },
    schedule: opts.schedule ?? { kind: 'cosine' },
    loss: opts.teacher ? { kind: 'kl', temperature: opts.temperature ?? 2, alpha: opts.alpha ?? 0.5 } : { kind: 'cross-entropy' },
    frozen: (name) => name.endsWith(MASK_SUFFIX),
    seed: opts.seed ?? 0,
    threads,
    maxSteps: opts.maxSteps,
    shouldStop: deadline !== undefined ? () => performance.now() > deadline : undefined,
    // a time budget paces the schedule; with a step count the schedule follows the steps alone (a recipe step
    // bounded by steps, with `seconds` as its safety cap, must re-run to the same bytes on a slower machine)
    progress: opts.seconds !== undefined && opts.maxSteps === undefined ? () => (performance.now() - t0) / (opts.seconds! * 1000) : undefined,
    onEpoch: opts.onEpoch,
  });
  bakeMasks(r.model);
  return { model: r.model, history: r.history, seconds: (performance.now() - t0) / 1000 };
}

/**
 * First-order Taylor terms Σ_batches w·∂L/∂w per weight, from `batches` training batches. The gradient comes
 * from the training engine's own graph: one plain SGD step with learning rate 1 and no momentum or decay
 * returns w − ∂L/∂w, so ∂L/∂w is the difference (no second backward implementation).
 */
export async function taylorTerms(model: Model, data: TensorData, opts: { batches?: number; batch?: number; threads?: number; seed?: number } = {}): Promise<Map<string, Float32Array>> {
  const batch = Math.min(opts.batch ?? 64, data.length);
  const order = Uint32Array.from({ length: data.length }, (_, i) => i);
  const sample = gatherBatch(data, order, 0, batch);
  const graph = await buildTrainingGraph(model, { loss: { kind: 'cross-entropy' }, optimizer: { kind: 'sgd', momentum: 0, weightDecay: 0 }, sample });
  const session = await Session.create(graph.model, { threads: opts.threads ?? 2 });
  const weights = new Map([...model.graph.initializers].map(([k, v]) => [k, v.initializer!]));
  const params = graph.carried.filter((c) => c.init === 'param');
  const acc = new Map<string, Float32Array>();
  const batches = Math.max(1, Math.min(opts.batches ?? 8, Math.floor(data.length / batch)));
  try {
    for (let b = 0; b < batches; b++) {
      const feeds: Record<string, Tensor> = { ...gatherBatch(data, order, b * batch, batch), lr: Tensor.float([], [1]) };
      for (const c of graph.carried) feeds[c.input] = c.init === 'zeros' ? Tensor.float(c.dims, new Float32Array(c.dims.reduce((x, y) => x * y, 1))) : weights.get(c.input)!;
      const out = await session.run(feeds, params.map((c) => c.output));
      for (const c of params) {
        const w = weights.get(c.input)!.toFloat32();
        const next = out[c.output]!.toFloat32();
        const a = acc.get(c.input) ?? new Float32Array(w.length);
        for (let i = 0; i < w.length; i++) a[i] = a[i]! + w[i]! * (w[i]! - next[i]!);
        acc.set(c.input, a);
      }
    }
  } finally {
    await session.release();
  }
  return acc;
}
