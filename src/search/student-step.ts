import { InputError } from '../errors.js';
import type { Pass } from '../passes/pass.js';
import { parameterCount } from '../prune/index.js';
import { distill } from '../train/distill.js';
import { findLayers, keepEveryKthLayer } from '../train/layers.js';
import type { TensorData } from '../train/trainer.js';

export interface StudentStepConfig {
  /** Keep every k-th layer of the teacher (k − 1, 2k − 1, …): DistilBERT's initialisation. */
  every: number;
  /** Distillation steps (optimizer steps; they end the training, so a recipe rebuilds byte for byte). */
  steps: number;
  lr: number;
  batch: number;
  /** Weight of the teacher's soft targets (T = `temperature`); 1 − distill goes to the hard labels. */
  distill: number;
  temperature: number;
  /** Weight of the hidden-state MSE between each kept layer and the teacher layer it came from (0: off). */
  hidden: number;
  seed: number;
  /** A safety cap on training time; a run it stops does not rebuild the same model (logged). */
  seconds: number;
  /** Run-time data (never in a recipe file). */
  train?: TensorData;
  test?: TensorData;
}

/**
 * A student made from the teacher as a recipe step: every k-th repeated layer kept (transformer encoder
 * layers, residual blocks that keep their shape — `findLayers`), then distilled from the model the step starts
 * from for a fixed number of steps (soft targets at T, hard labels, hidden states of the kept layers matched
 * to the teacher layers they came from), AdamW with a cosine schedule over the steps. `optimize --train-data`
 * tries it with the prune steps (every 2nd layer, then every 4th while the accuracy bound holds); the
 * quantizers then go on the student as on a pruned model.
 */
export const studentPass: Pass<StudentStepConfig> = {
  id: 'student',
  doc: "a student from the teacher: every k-th repeated layer kept (DistilBERT-style), distilled from the teacher for a fixed number of steps",
  params: {
    every: { type: 'integer', min: 2, max: 64, default: 2, search: [2, 4], doc: 'keep every k-th layer (k − 1, 2k − 1, …)' },
    steps: { type: 'integer', min: 1, max: 1_000_000, default: 300, doc: 'distillation steps (they end the training: the recipe rebuilds byte for byte)' },
    lr: { type: 'number', min: 1e-7, max: 1, default: 5e-4, doc: 'peak learning rate (AdamW, 20 warm-up steps, cosine over the steps)' },
    batch: { type: 'integer', min: 1, max: 4096, default: 32, doc: 'batch size' },
    distill: { type: 'number', min: 0, max: 1, default: 0.5, doc: "weight of the teacher's soft targets (1 − distill on the labels)" },
    temperature: { type: 'number', min: 0.1, max: 100, default: 2, doc: 'softmax temperature of the soft targets' },
    hidden: { type: 'number', min: 0, max: 100, default: 1, doc: 'weight of the hidden-state MSE between kept layers and their teacher layers (0: off)' },
    seed: { type: 'integer', min: 0, max: 2 ** 31 - 1, default: 0, doc: 'seed of the shuffle' },
    seconds: { type: 'number', min: 1, max: 86400, default: 1800, doc: 'safety cap on training time (a run it stops does not rebuild the same model)' },
    train: { type: 'object', default: undefined, doc: 'training samples (run-time data)' },
    test: { type: 'object', default: undefined, doc: 'held-out samples (run-time data)' },
  },
  async run(model, ctx, cfg) {
    const { every, steps, lr, batch, distill: alpha, temperature, hidden, seed, seconds, train, test } = cfg;
    if (!train) throw new InputError('the student step distils from the teacher: it needs training data (--train-data)');
    const layers = findLayers(model).length;
    if (every > layers) throw new InputError(`keep every ${every}th layer: the model has only ${layers} layers`);
    const { student, teacherLayers } = keepEveryKthLayer(model, every);
    const perEpoch = Math.floor(train.length / batch);
    const t0 = performance.now();
    let capped = false;
    const r = await distill(student, {
      teacher: model,
      alpha,
      temperature,
      ...(hidden > 0 ? { layerMap: teacherLayers, hiddenWeight: hidden } : {}),
      train,
      ...(test ? { test } : {}),
      epochs: Math.max(1, Math.ceil(steps / Math.max(1, perEpoch))),
      maxSteps: steps,
      scheduleSteps: steps,
      batch,
      lr,
      optimizer: { kind: 'adamw', weightDecay: 0.01 },
      schedule: { kind: 'cosine', warmupSteps: Math.min(20, Math.floor(steps / 10)) },
      seed,
      shouldStop: () => (capped ||= performance.now() - t0 > seconds * 1000),
    });
    if (capped) ctx.log?.(`student: distillation stopped at its ${seconds} s cap after ${r.steps} steps: this recipe will not rebuild the same model`);
    const last = r.history.at(-1);
    const stats: Record<string, number> = {
      layers: teacherLayers.length,
      teacherLayers: layers,
      params: parameterCount(r.model),
      teacherParams: parameterCount(model),
      steps: r.steps,
      trainSeconds: Math.round((performance.now() - t0) / 100) / 10,
      ...(capped ? { stoppedByTime: 1 } : {}),
      ...(last?.testAccuracy !== undefined ? { heldOut: last.testAccuracy } : {}),
    };
    return { model: r.model, modified: true, stats };
  },
};
