import { InputError } from '../errors.js';
import type { Model } from '../ir/graph.js';
import type { Tensor } from '../ir/tensor.js';
import { loadModel, modelToBytes } from '../ir/io.js';
import { runPasses } from '../passes/manager.js';
import { resolveParams, type Pass, type PassContext, type Target } from '../passes/pass.js';
import { CLEANUP_PASSES } from '../passes/simplify.js';
import { foldedWeightName } from '../passes/rules/conv.js';
import { exportQat, freezeBatchNorm, prepareQat, type BatchNormParams } from '../quantize/qat.js';
import { oscillationTracker, type OscillationOptions, type OscillationStats } from '../quantize/qat-oscillation.js';
import { staticQuantizePass, type StaticConfig } from '../quantize/static.js';
import type { CalibrationData } from '../quantize/stream.js';
import { distill } from './distill.js';
import { train, type TensorData, type TrainOptions, type TrainResult } from './trainer.js';

/**
 * Quantization-aware training end to end: BatchNorm folded into the convolutions first (the cleanup passes of
 * `simplify`), static quantization as PTQ would do it (same planner, same calibration), the QDQ model made
 * trainable (src/quantize/qat.ts), a short fine-tune with early stopping on the held-out split, and the export
 * back to the PTQ format. Returns both quantized models so they can be compared side by side.
 */
export interface QatOptions extends Omit<TrainOptions, 'extraParams' | 'frozen'> {
  calibration: CalibrationData;
  /** Static quantization settings (the PTQ baseline and the QAT graph share them). */
  quantize?: Partial<StaticConfig>;
  target?: Target;
  /** Learn the scales too (LSQ). */
  lsq?: boolean;
  /** Initial weight scales: PTQ's (min-max) or the least-squared-error clipping per channel. */
  weightScales?: 'ptq' | 'mse';
  /**
   * BatchNorm after Conv: 'fold' (folded before quantization, the folded weights train) or 'freeze' (running
   * statistics fixed, γ/β and the unfolded weights train, folded at export).
   */
  batchNorm?: 'fold' | 'freeze';
  /**
   * Distil from the float model while training (its soft targets at `temperature`, weight `alpha`, 1 − alpha on
   * the hard labels): the teacher every QAT run already has.
   */
  distill?: { alpha: number; temperature?: number };
  /** Weights to keep fixed, by name. */
  frozen?: (name: string) => boolean;
  /**
   * Track the weights' integer values after every step (how many still change and oscillate at the end), and
   * with `freezeAbove`, freeze the oscillating ones (src/quantize/qat-oscillation.ts).
   */
  oscillations?: OscillationOptions;
  log?: (msg: string) => void;
}

export interface QatResult {
  /** The float model QAT and PTQ start from (BatchNorm folded). */
  float: Model;
  ptq: Model;
  qat: Model;
  training: TrainResult;
  /** Wall seconds: PTQ (calibration + quantization) and QAT (preparation, training, export; PTQ not included). */
  ptqSeconds: number;
  qatSeconds: number;
  /** Samples seen by the optimizer. */
  samples: number;
  /** With `oscillations`: the integer values' changes over the last steps. */
  oscillations?: OscillationStats;
}

export async function quantizationAwareTraining(model: Model, opts: QatOptions): Promise<QatResult> {
  const ctx: PassContext = { target: opts.target ?? 'cpu' };
  const float = loadModel(modelToBytes(model));
  const batchNorms = opts.batchNorm === 'freeze' ? convBatchNorms(float) : new Map<string, BatchNormParams>();
  await runPasses(float, CLEANUP_PASSES, ctx);
  const t0 = performance.now();
  const ptq = loadModel(modelToBytes(float));
  await staticQuantizePass.run(ptq, ctx, resolveParams(staticQuantizePass, { ...opts.quantize, calibration: opts.calibration }));
  const ptqSeconds = (performance.now() - t0) / 1000;

  const t1 = performance.now();
  const plan = prepareQat(ptq, { lsq: opts.lsq, weightBits: opts.quantize?.weightBits, weightScales: opts.weightScales });
  if (opts.batchNorm === 'freeze') {
    // (not inside `opts.log?.(…)`: optional chaining skips evaluating the arguments when there is no log)
    const n = freezeBatchNorm(plan, batchNorms);
    opts.log?.(`QAT: ${n} of ${batchNorms.size} BatchNorms frozen (folded at export)`);
  }
  const frozen = new Set(plan.frozen);
  opts.log?.(`QAT: ${plan.weights.length} fake-quantized weights, ${plan.biases.length} biases, ${plan.model.graph.nodes.filter((n) => n.opType === 'QuantizeLinear').length - plan.weights.length} activation quantizers${opts.lsq ? `, ${plan.logScales.length} learned scales` : ''}`);
  const tracker = opts.oscillations ? oscillationTracker(plan, opts.oscillations) : undefined;
  const afterStep = tracker ? (step: number, tensors: Map<string, Tensor>) => { tracker.afterStep(step, tensors); opts.afterStep?.(step, tensors); } : opts.afterStep;
  const trainOpts = { ...opts, frozen: (name: string) => frozen.has(name) || !!opts.frozen?.(name), extraParams: plan.extraParams, ...(afterStep ? { afterStep } : {}) };
  const training = opts.distill && opts.distill.alpha > 0
    ? await distill(plan.model, { ...trainOpts, teacher: float, alpha: opts.distill.alpha, temperature: opts.distill.temperature ?? 2 })
    : await train(plan.model, trainOpts);
  const qat = exportQat(training.model, plan);
  const qatSeconds = (performance.now() - t1) / 1000;
  const oscillations = tracker?.stats();
  if (oscillations) opts.log?.(`QAT: in the last ${Math.min(oscillations.window, oscillations.steps)} of ${oscillations.steps} steps, ${oscillations.changed} of ${oscillations.weights} weights changed their integer value (${oscillations.changes} changes), ${oscillations.oscillating} of them back and forth; ${oscillations.frozen} frozen; oscillation frequency above ${Object.entries(oscillations.frequencyAbove).map(([f, n]) => `${f}: ${n}`).join(', ')}`);
  return { float, ptq, qat, training, ptqSeconds, qatSeconds, samples: training.steps * opts.batch, ...(oscillations ? { oscillations } : {}) };
}

/** BatchNormalization after a Conv with a constant weight, keyed by the name the folded weight will have. */
export function convBatchNorms(model: Model): Map<string, BatchNormParams> {
  const out = new Map<string, BatchNormParams>();
  for (const n of model.graph.nodes) {
    const conv = n.input(0)?.producer;
    const w = conv?.input(1);
    if (n.opType !== 'BatchNormalization' || conv?.opType !== 'Conv' || !w?.initializer) continue;
    const t = (i: number) => n.input(i)?.constTensor()?.toFloat32();
    const [gamma, beta, mean, variance] = [t(1), t(2), t(3), t(4)];
    if (!gamma || !beta || !mean || !variance) continue;
    out.set(foldedWeightName(w.name), { gamma: new Float32Array(gamma), beta: new Float32Array(beta), mean: new Float32Array(mean), variance: new Float32Array(variance), epsilon: n.attrFloat('epsilon', 1e-5)! });
  }
  return out;
}

export interface QatPassConfig extends Omit<StaticConfig, 'stats'> {
  lr: number;
  epochs: number;
  batch: number;
  /** Optimizer steps (0: `epochs` passes over the data): what makes a recipe re-run to the same bytes. */
  steps: number;
  /** A safety cap on training time in seconds; the best held-out weights so far are kept. */
  seconds: number;
  seed: number;
  lsq: boolean;
  weightScales: 'ptq' | 'mse';
  batchNorm: 'fold' | 'freeze';
  /** Weight of the float model's soft targets (0: off). */
  distill: number;
  /** Early stopping keeps the weights of the lowest held-out loss, or of the best held-out accuracy. */
  selectBy: 'loss' | 'accuracy';
  /** The mean of the weights over this last fraction of the steps is exported (0: off). */
  averageLast: number;
  /** Run-time data (never in a recipe file): the training split and the held-out split for early stopping. */
  train?: TensorData;
  test?: TensorData;
}

const { stats: _stats, ...staticParams } = staticQuantizePass.params;

/**
 * QAT as a recipe step: static quantization with the same parameters (the planner, the calibration) and a
 * short fine-tune of the fake-quantized model on the training data, bounded by its step count (so a recipe
 * re-runs to the same bytes; `seconds` is only a safety cap), exported to the same QDQ graph. `optimize --train-data` tries it when static PTQ misses the accuracy goal.
 */
export const qatPass: Pass<QatPassConfig> = {
  id: 'qat',
  doc: 'quantization-aware training: static int8 QDQ (same planner and calibration) fine-tuned on training data with fake quantization, exported to the same graph',
  params: {
    ...staticParams,
    lr: { type: 'number', min: 1e-7, max: 1, default: 1e-4, doc: 'peak learning rate (AdamW, cosine schedule)' },
    epochs: { type: 'integer', min: 1, max: 100, default: 1, doc: 'passes over the training data (at most)' },
    batch: { type: 'integer', min: 1, max: 4096, default: 64, doc: 'batch size' },
    steps: { type: 'integer', min: 0, max: 1_000_000, default: 0, doc: 'optimizer steps (the cosine schedule runs over them; 0: `epochs` passes). A recipe bounded by steps re-runs to the same bytes' },
    seconds: { type: 'number', min: 1, max: 86400, default: 900, doc: 'safety cap on training time (the best held-out weights so far are kept; a run stopped by it does not rebuild the same model)' },
    seed: { type: 'integer', min: 0, max: 2 ** 31 - 1, default: 0, doc: 'seed of the shuffle' },
    lsq: { type: 'boolean', default: false, doc: 'learn the quantization scales too (LSQ)' },
    weightScales: { type: 'string', choices: ['ptq', 'mse'], default: 'ptq', doc: "initial weight scales: PTQ's min-max, or the least rounding error per channel" },
    batchNorm: { type: 'string', choices: ['fold', 'freeze'], default: 'fold', doc: 'BatchNorm after Conv: folded before training, or frozen and folded at export' },
    distill: { type: 'number', min: 0, max: 1, default: 0, doc: 'weight of the float model\'s soft targets (distillation at T = 2; 0: labels only)' },
    selectBy: { type: 'string', choices: ['loss', 'accuracy'], default: 'loss', doc: 'held-out evaluation whose weights are kept: the lowest mean cross-entropy, or the best top-1 (noisy on a small held-out split)' },
    averageLast: { type: 'number', min: 0, max: 1, default: 0, doc: "export the mean of the weights (and learned scales) over this last fraction of the steps (tail averaging; 0: off, the best held-out evaluation's weights)" },
    train: { type: 'object', default: undefined, doc: 'training samples (run-time data)' },
    test: { type: 'object', default: undefined, doc: 'held-out samples for early stopping (run-time data)' },
  },
  async run(model, ctx, cfg) {
    const { lr, epochs, batch, steps, seconds, seed, lsq, weightScales, batchNorm, distill: alpha, selectBy, averageLast, train: trainSet, test, calibration, calibrate, ...quantize } = cfg;
    if (!trainSet) throw new InputError('the qat step needs training data (optimize --train-data)');
    if (!calibration) throw new InputError('the qat step needs calibration data');
    const t0 = performance.now();
    let capped = false;
    const perEpoch = Math.floor(trainSet.length / batch);
    const r = await quantizationAwareTraining(model, {
      calibration,
      quantize: { ...quantize, ...(calibrate ? { calibrate } : {}) },
      target: ctx.target,
      lsq,
      weightScales,
      batchNorm,
      ...(alpha > 0 ? { distill: { alpha } } : {}),
      ...(averageLast > 0 ? { averageLast } : {}),
      train: trainSet,
      ...(test ? { test, patience: 3, selectBy, evalEvery: Math.max(10, Math.ceil(trainSet.length / batch / 4)) } : {}),
      // bounded by steps (not by time): the schedule and the stopping point depend on the step count alone
      ...(steps > 0 ? { epochs: Math.max(1, Math.ceil(steps / Math.max(1, perEpoch))), maxSteps: steps, scheduleSteps: steps } : { epochs }),
      batch,
      lr,
      optimizer: { kind: 'adamw' },
      schedule: { kind: 'cosine' },
      seed,
      shouldStop: () => (capped ||= performance.now() - t0 > seconds * 1000),
      log: ctx.log,
    });
    if (capped) ctx.log?.(`qat: training stopped at its ${seconds} s cap after ${r.training.steps} steps: this recipe will not rebuild the same model`);
    return { model: r.qat, modified: true, stats: { steps: r.training.steps, samples: r.samples, trainSeconds: Math.round(r.qatSeconds), ...(capped ? { stoppedByTime: 1 } : {}), ...(r.training.best !== undefined ? { bestHeldOut: r.training.best } : {}), ...(r.training.averaged ? { averagedSteps: r.training.averaged.count } : {}) } };
  },
};
