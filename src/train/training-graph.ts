import { InputError } from '../errors.js';
import { DataType } from '../ir/dtype.js';
import type { Graph, Model, Value } from '../ir/graph.js';
import { loadModel, modelToBytes } from '../ir/io.js';
import type { Tensor } from '../ir/tensor.js';
import { tensorType } from '../ir/types.js';
import type { TrainingForm } from '../ops/grad-rule.js';
import { buildBackward, gradContext, gradRuleOf } from './backward.js';
import { GraphEmitter } from './emitter.js';
import { appendLoss, type LossSpec } from './loss.js';
import { appendOptimizer, clipGlobalNorm, type Carried, type OptimizerSpec } from './optimizer.js';
import { probeShapes } from './shapes.js';

/**
 * Turns an inference model into one ONNX training graph: training forms (batch statistics, dropout), the
 * loss, the backward pass, gradient clipping and the optimizer update, so that one ONNX Runtime call does a
 * whole step. Trainable weights become graph inputs; their updated values and the optimizer state come back
 * as outputs (`Carried`), which the loop feeds into the next step.
 */
export interface TrainingGraphOptions {
  loss: LossSpec;
  optimizer: OptimizerSpec;
  /** One batch of data (model inputs + labels/targets): fixes the batch shape the graph is built for. */
  sample: Record<string, Tensor>;
  /** Weights to keep fixed (by initializer name). */
  frozen?: (name: string) => boolean;
  /** Clip the global gradient norm to this value. */
  clipNorm?: number;
  /** Initializers that train although they are not weights by `isWeight` (scalars: LSQ activation scales). */
  extraParams?: readonly string[];
}

export interface TrainingGraph {
  model: Model;
  /** Names of the trainable weights (initializers of the forward model). */
  params: string[];
  /** Tensors fed back each step: weights, optimizer state, running statistics. */
  carried: Carried[];
  /** Data inputs fed per batch (model inputs, labels, …). */
  dataInputs: string[];
  hasCorrect: boolean;
}

/** The minimum opset the emitted ops need (ScatterND/ScatterElements reduction, LayerNormalization). */
const TRAINING_OPSET = 17;

/** True for initializers that are weights: float tensors with more than one element. */
export function isWeight(v: Value): boolean {
  const t = v.initializer;
  return !!t && (t.dtype === DataType.FLOAT || t.dtype === DataType.DOUBLE) && t.dims.length > 0 && t.size > 1;
}

export async function buildTrainingGraph(forward: Model, opts: TrainingGraphOptions): Promise<TrainingGraph> {
  const opset = forward.opset('') ?? 0;
  if (opset < 13) throw new InputError(`training needs opset ≥ 13 (the model has ${opset}); convert it first`);
  const model = loadModel(modelToBytes(forward));
  model.requireOpset('', TRAINING_OPSET);
  const graph = model.graph;
  const em = new GraphEmitter(graph, await probeShapes(model, opts.sample));
  // only the model's own weights train: constants added below (loss, training forms) never do
  const extra = new Set(opts.extraParams ?? []);
  const candidates = new Set([...graph.initializers.values()].filter((v) => isWeight(v) || extra.has(v.name)));

  const stateUpdates = applyTrainingForms(graph, em);
  // the training forms made new values: learn their shapes before the loss reads them (feature matching)
  if (opts.loss.kind === 'kl' && opts.loss.matches?.length) for (const [v, f] of await probeShapes(model, opts.sample)) em.facts.set(v, f);
  const { loss, correct, inputs: lossInputs } = appendLoss(em, opts.loss, graph.outputs);
  for (const [v, f] of await probeShapes(model, opts.sample)) em.facts.set(v, f);

  const stateValues = new Set(stateUpdates.map((s) => s.state));
  const params = [...candidates].filter((v) => !stateValues.has(v) && !opts.frozen?.(v.name) && v.uses.length > 0);
  for (const v of [...params, ...stateValues]) makeInput(graph, v);
  let grads = buildBackward(graph, em, loss, params);
  if (opts.clipNorm) grads = clipGlobalNorm(em, grads, opts.clipNorm);

  graph.outputs = [];
  em.builder.output(loss, 'loss');
  if (correct) em.builder.output(correct, 'correct');
  const carried = appendOptimizer(em, opts.optimizer, grads);
  for (const { state, next } of stateUpdates) {
    em.builder.output(next, `${state.name}__next`);
    carried.push({ input: state.name, output: next.name, dims: em.shape(state), init: 'state' });
  }
  graph.topologicalSort();
  const dataInputs = [...forward.graph.inputs.filter((v) => !v.initializer).map((v) => v.name), ...lossInputs.map((v) => v.name)];
  return { model, params: params.map((p) => p.name), carried, dataInputs, hasCorrect: !!correct };
}

/** Rewrites nodes that train differently from how they infer; returns the state they update. */
export function applyTrainingForms(graph: Graph, em: GraphEmitter): NonNullable<TrainingForm['stateUpdates']> {
  const updates: NonNullable<TrainingForm['stateUpdates']> = [];
  for (const node of [...graph.nodes]) {
    const rule = gradRuleOf(node);
    if (!rule?.trainingForm) continue;
    const form = rule.trainingForm(gradContext(em, node, () => null));
    if (form.outputs.every((v, i) => v === node.outputs[i])) continue;
    form.outputs.forEach((v, i) => {
      const old = node.outputs[i]!;
      old.replaceAllUsesWith(v);
      graph.outputs = graph.outputs.map((o) => (o === old ? v : o));
      // the value keeps its name (graph outputs, and tensors a distillation loss names)
      if (old.name && v !== old) v.name = old.name;
    });
    graph.removeNode(node, false);
    updates.push(...(form.stateUpdates ?? []));
  }
  graph.topologicalSort();
  return updates;
}

/** Turns an initializer into a graph input of the same name (its Value, and so its uses, stay). */
export function makeInput(graph: Graph, v: Value): Tensor {
  const t = v.initializer!;
  graph.removeInitializer(v);
  v.initializer = undefined;
  v.type = tensorType(t.dtype, [...t.dims]);
  graph.inputs.push(v);
  return t;
}
