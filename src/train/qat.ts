import type { Model } from '../ir/graph.js';
import { loadModel, modelToBytes } from '../ir/io.js';
import { runPasses } from '../passes/manager.js';
import { resolveParams, type PassContext, type Target } from '../passes/pass.js';
import { CLEANUP_PASSES } from '../passes/simplify.js';
import { exportQat, prepareQat } from '../quantize/qat.js';
import { staticQuantizePass, type StaticConfig } from '../quantize/static.js';
import type { CalibrationData } from '../quantize/stream.js';
import { train, type TrainOptions, type TrainResult } from './trainer.js';

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
  /** Weights to keep fixed, by name. */
  frozen?: (name: string) => boolean;
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
}

export async function quantizationAwareTraining(model: Model, opts: QatOptions): Promise<QatResult> {
  const ctx: PassContext = { target: opts.target ?? 'cpu' };
  const float = loadModel(modelToBytes(model));
  await runPasses(float, CLEANUP_PASSES, ctx);
  const t0 = performance.now();
  const ptq = loadModel(modelToBytes(float));
  await staticQuantizePass.run(ptq, ctx, resolveParams(staticQuantizePass, { ...opts.quantize, calibration: opts.calibration }));
  const ptqSeconds = (performance.now() - t0) / 1000;

  const t1 = performance.now();
  const plan = prepareQat(ptq, { lsq: opts.lsq, weightBits: opts.quantize?.weightBits });
  const frozen = new Set(plan.frozen);
  opts.log?.(`QAT: ${plan.weights.length} fake-quantized weights, ${plan.biases.length} biases, ${plan.model.graph.nodes.filter((n) => n.opType === 'QuantizeLinear').length - plan.weights.length} activation quantizers${opts.lsq ? `, ${plan.logScales.length} learned scales` : ''}`);
  const training = await train(plan.model, { ...opts, frozen: (name) => frozen.has(name) || !!opts.frozen?.(name), extraParams: plan.extraParams });
  const qat = exportQat(training.model, plan);
  const qatSeconds = (performance.now() - t1) / 1000;
  return { float, ptq, qat, training, ptqSeconds, qatSeconds, samples: training.steps * opts.batch };
}
