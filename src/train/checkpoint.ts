import { existsSync } from 'node:fs';
import { InputError } from '../errors.js';
import { Graph, Model } from '../ir/graph.js';
import { loadModel, saveModel } from '../ir/io.js';
import type { Tensor } from '../ir/tensor.js';

/**
 * A checkpoint is an ONNX file with no nodes: every carried tensor (weights, optimizer state, running
 * statistics) as an initializer under its training-graph input name, and the loop position in metadata.
 * Netron opens it; `resume` feeds the tensors back and continues from the next step.
 */
export interface CheckpointState {
  tensors: Map<string, Tensor>;
  epoch: number;
  step: number;
  /** What the run was started with (checked on resume). */
  config: string;
}

export function saveCheckpoint(file: string, state: CheckpointState): void {
  const g = new Graph('checkpoint');
  for (const [name, t] of state.tensors) g.addInitializer(t.clone(name), name);
  const m = new Model(g);
  m.metadata = [
    { key: 'inferopt.epoch', value: String(state.epoch) },
    { key: 'inferopt.step', value: String(state.step) },
    { key: 'inferopt.config', value: state.config },
  ];
  saveModel(m, file, { flag: '--checkpoint' });
}

export function loadCheckpoint(file: string): CheckpointState {
  if (!existsSync(file)) throw new InputError(`checkpoint not found: ${file}`);
  // a checkpoint is replaced as the run goes on: it is not recorded as an input that must stay untouched
  const m = loadModel(file, { markInput: false });
  const meta = new Map(m.metadata.map((e) => [e.key, e.value]));
  if (!meta.has('inferopt.step')) throw new InputError(`${file} is not an inferopt training checkpoint`);
  const tensors = new Map<string, Tensor>();
  for (const [name, v] of m.graph.initializers) tensors.set(name, v.initializer!);
  return { tensors, epoch: Number(meta.get('inferopt.epoch')), step: Number(meta.get('inferopt.step')), config: meta.get('inferopt.config') ?? '' };
}
