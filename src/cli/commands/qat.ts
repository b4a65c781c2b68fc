import * as fs from 'node:fs';
import { clearLine, liveLine } from '../terminal.js';
import * as path from 'node:path';
import type { Command } from 'commander';
import { openDataset } from '../../data/dataset.js';
import { InputError } from '../../errors.js';
import type { Estimate } from '../../eval/bootstrap.js';
import { evaluate } from '../../eval/evaluate.js';
import type { Model } from '../../ir/graph.js';
import { loadModel, modelToBytes } from '../../ir/io.js';
import { saveModelProven } from '../../runtime/prove.js';
import { checkOutputFile, markInput } from '../../util/files.js';
import type { Target } from '../../passes/pass.js';
import { calibrationData } from '../../quantize/data-sources.js';
import type { CalibMethod } from '../../quantize/range-methods.js';
import type { StaticConfig } from '../../quantize/static.js';
import { compare } from '../../runtime/bench.js';
import { runtimeInputs } from '../../runtime/inputs.js';
import { collectTensorData, holdOut } from '../../train/data.js';
import { quantizationAwareTraining, type QatResult } from '../../train/qat.js';
import type { OscillationStats } from '../../quantize/qat-oscillation.js';
import type { AveragedWeights, TensorData } from '../../train/trainer.js';
import { parseIntFlag } from '../flags.js';
import { addTrainingFlags, drawProgress, formatEpoch, logProgress, trainOptionsFrom, type TrainingFlags } from './train.js';

interface QatFlags extends TrainingFlags {
  trainData: string;
  data: string;
  output: string;
  ptqOutput?: string;
  heldOut?: string;
  trainLimit?: string;
  calib?: string;
  calibLimit: string;
  calibMethod: string;
  perChannel?: boolean;
  perTensor?: boolean;
  weightBits: string;
  wideEnds?: boolean;
  activationType: string;
  symmetricActivations?: boolean;
  target: string;
  lsq?: boolean;
  weightScales: string;
  batchNorm: string;
  distill?: string;
  temperature: string;
  patience: string;
  selectBy: string;
  evalEvery?: string;
  oscillations?: boolean;
  freezeOscillations?: string;
  limit?: string;
  benchRuns: string;
  json?: boolean;
}

export function register(program: Command): void {
  const cmd = program
    .command('qat')
    .description('Quantization-aware training: fake-quantize where static quantization puts Q/DQ, fine-tune, export to the same QDQ format; PTQ and QAT side by side')
    .argument('<model>', 'float ONNX classifier (logits [batch, classes]); BatchNormalization is folded first')
    .requiredOption('--train-data <spec>', 'training data (dataset spec, folder or data file)')
    .requiredOption('--data <spec>', 'labelled evaluation data: PTQ and QAT are scored on it side by side')
    .requiredOption('-o, --output <file>', 'where to write the QAT model (QDQ, as static quantization writes it)')
    .option('--ptq-output <file>', 'also write the PTQ model it is compared with')
    .option('--held-out <spec>', 'held-out data for early stopping (default: every 10th training sample, not trained on)')
    .option('--train-limit <n>', 'train on the first n samples of --train-data')
    .option('--calib <spec>', 'calibration data (default: --train-data)')
    .option('--calib-limit <n>', 'calibration samples', '200')
    .option('--calib-method <m>', 'minmax | percentile | entropy', 'minmax')
    .option('--per-channel', 'per-channel weights for MatMul/Gemm too (Conv always is)')
    .option('--per-tensor', 'per-tensor weights everywhere (Conv too)')
    .option('--weight-bits <n>', 'weight grid: 8, or 2–7 bits stored as int8 (4 = levels −7…7; same kernels and speed)', '8')
    .option('--wide-ends', 'with --weight-bits below 8: the first and the last weighted layers keep 8-bit weights (PTQ and QAT alike)')
    .option('--activation-type <t>', 'int8 | uint8 | auto', 'auto')
    .option('--symmetric-activations', 'symmetric activation ranges')
    .option('--target <t>', 'cpu | std | wasm', 'cpu')
    .option('--lsq', 'learn the quantization scales too (LSQ, as log-scales)')
    .option('--weight-scales <s>', "initial weight scales: ptq (PTQ's min-max) | mse (per channel, the clipping with the least rounding error)", 'ptq')
    .option('--distill <alpha>', "also learn from the float model's soft targets with this weight (1 − alpha on the labels)")
    .option('--temperature <t>', 'softmax temperature of the soft targets (with --distill)', '2')
    .option('--batch-norm <m>', 'BatchNorm after Conv: fold (before quantization; the folded weights train) | freeze (statistics fixed, γ/β train, folded at export)', 'fold')
    .option('--patience <n>', 'early stop after this many held-out evaluations without improvement (the best weights are kept)', '3')
    .option('--select-by <m>', 'which held-out evaluation\'s weights are kept: loss (the lowest mean cross-entropy) | accuracy (the best top-1, noisy on a few thousand samples)', 'loss')
    .option('--eval-every <steps>', 'also evaluate the held-out split every this many steps')
    .option('--oscillations', "count the weights whose integer value still changes (and changes back) in the last 100 steps")
    .option('--freeze-oscillations <f>', 'freeze a weight at its most frequent grid point once its oscillation frequency (moving average, momentum 0.01) exceeds f, after the first 200 steps (Nagel et al. 2022); implies --oscillations');
  addTrainingFlags(cmd, { epochs: '1', batch: '64', lr: '1e-4', optimizer: 'adamw' })
    .option('--limit <n>', 'score on the first n samples of --data')
    .option('--bench-runs <n>', 'rounds of the side-by-side latency comparison (0: skip)', '100')
    .option('--json', 'print the report as JSON')
    .action(async (file: string, flags: QatFlags) => {
      const report = await runQat(file, flags);
      process.stdout.write(flags.json ? JSON.stringify(report, null, 1) + '\n' : formatReport(report));
    });
}

export interface QatReport {
  model: string;
  output: string;
  quantization: Record<string, unknown>;
  metric: string;
  float: Estimate;
  ptq: Estimate;
  qat: Estimate;
  evalSamples: number;
  /** Seconds: PTQ (calibration + quantization); QAT (training and export on top of PTQ). */
  ptqSeconds: number;
  qatSeconds: number;
  trainSamples: number;
  steps: number;
  samplesSeen: number;
  epochs: number;
  bestHeldOut?: number;
  /** The step whose weights were kept (the best held-out evaluation by `--select-by`). */
  bestStep?: number;
  /** With --average-last: the averaged steps and the average's held-out figures (its weights are the ones written). */
  averaged?: AveragedWeights;
  /** With --oscillations: integer-value changes in the last steps, and the weights frozen. */
  oscillations?: OscillationStats;
  latency?: { ptqMs: number; qatMs: number; ratio: { value: number; low: number; high: number }; threads: number; batch: number; rounds: number };
}

async function runQat(file: string, flags: QatFlags): Promise<QatReport> {
  if (!fs.existsSync(file)) throw new InputError(`${file}: no such file`);
  for (const d of [file, flags.trainData, flags.data, flags.heldOut, flags.calib]) if (d) markInput(d);
  // every file this run writes is checked before the (long) run: never an input, a device or a folder
  checkOutputFile(flags.output, '-o');
  if (flags.ptqOutput) checkOutputFile(flags.ptqOutput, '--ptq-output');
  if (flags.checkpoint) checkOutputFile(flags.checkpoint, '--checkpoint');
  const written = [flags.output, flags.ptqOutput, flags.checkpoint, flags.log].filter((f): f is string => !!f).map((f) => path.resolve(f));
  if (new Set(written).size < written.length) throw new InputError('-o, --ptq-output, --checkpoint and --log must be different files');
  if (flags.perChannel && flags.perTensor) throw new InputError('--per-channel and --per-tensor exclude each other');
  if (!['minmax', 'percentile', 'entropy'].includes(flags.calibMethod)) throw new InputError('--calib-method must be minmax, percentile or entropy');
  if (!['int8', 'uint8', 'auto'].includes(flags.activationType)) throw new InputError('--activation-type must be int8, uint8 or auto');
  if (!['cpu', 'std', 'wasm'].includes(flags.target)) throw new InputError('--target must be cpu, std or wasm');
  if (!['ptq', 'mse'].includes(flags.weightScales)) throw new InputError('--weight-scales must be ptq or mse');
  if (!['fold', 'freeze'].includes(flags.batchNorm)) throw new InputError('--batch-norm must be fold or freeze');
  if (!['loss', 'accuracy'].includes(flags.selectBy)) throw new InputError('--select-by must be loss or accuracy');
  const alpha = flags.distill !== undefined ? Number(flags.distill) : 0;
  if (!(alpha >= 0 && alpha <= 1)) throw new InputError(`--distill must be a weight in [0, 1], not '${flags.distill}'`);
  const temperature = Number(flags.temperature);
  if (!(temperature > 0 && temperature <= 100)) throw new InputError(`--temperature must be in (0, 100], not '${flags.temperature}'`);
  const freezeAbove = flags.freezeOscillations !== undefined ? Number(flags.freezeOscillations) : undefined;
  if (freezeAbove !== undefined && !(freezeAbove > 0 && freezeAbove < 1)) throw new InputError(`--freeze-oscillations must be a frequency in (0, 1), not '${flags.freezeOscillations}'`);
  const model = loadModel(file);
  const common = trainOptionsFrom(flags);
  const threads = common.threads;
  const log = (line: string) => {
    clearLine();
    process.stderr.write(line + '\n');
    if (flags.log) fs.appendFileSync(flags.log, line + '\n');
  };
  const inputNames = runtimeInputs(model).map((v) => v.name);
  const trainDs = await openDataset(flags.trainData, flags.trainLimit ? { limit: parseIntFlag('--train-limit', flags.trainLimit, 1) } : {});
  liveLine('loading data…');
  let trainSet = await collectTensorData(trainDs, inputNames);
  let heldOut: TensorData;
  if (flags.heldOut) heldOut = await collectTensorData(await openDataset(flags.heldOut), inputNames);
  else [trainSet, heldOut] = holdOut(trainSet, 10);
  const calib = await calibrationData(flags.calib ?? flags.trainData, model, { limit: parseIntFlag('--calib-limit', flags.calibLimit, 1), batch: 1 });
  const quantize: Partial<StaticConfig> = {
    perChannel: flags.perTensor ? 'none' : flags.perChannel ? 'all' : 'conv',
    weightBits: (() => {
      const b = parseIntFlag('--weight-bits', flags.weightBits, 2);
      if (b > 8) throw new InputError('--weight-bits must be 2–8');
      return b;
    })(),
    ...(flags.wideEnds ? { wideEnds: true } : {}),
    activationType: flags.activationType as StaticConfig['activationType'],
    symmetricActivations: !!flags.symmetricActivations,
    calibMethod: flags.calibMethod as CalibMethod,
  };
  log(`# ${trainSet.length} training / ${heldOut.length} held-out samples; inferopt qat ${process.argv.slice(3).join(' ')}`);
  const t0 = performance.now();
  const r: QatResult = await quantizationAwareTraining(model, {
    calibration: calib.data,
    quantize,
    target: flags.target as Target,
    lsq: !!flags.lsq,
    weightScales: flags.weightScales as 'ptq' | 'mse',
    batchNorm: flags.batchNorm as 'fold' | 'freeze',
    ...(alpha > 0 ? { distill: { alpha, temperature } } : {}),
    ...common,
    train: trainSet,
    test: heldOut,
    patience: parseIntFlag('--patience', flags.patience, 1),
    selectBy: flags.selectBy as 'loss' | 'accuracy',
    evalEvery: flags.evalEvery ? parseIntFlag('--eval-every', flags.evalEvery, 1) : undefined,
    ...(flags.oscillations || freezeAbove !== undefined ? { oscillations: { window: 100, ...(freezeAbove !== undefined ? { freezeAbove, freezeFrom: 200 } : {}) } } : {}),
    onProgress: process.stderr.isTTY ? drawProgress : logProgress,
    onEpoch: (s) => log(formatEpoch(s, (performance.now() - t0) / 1000)),
    onEval: (e) => log(`step ${e.step} test_loss ${e.testLoss.toFixed(4)} test_acc ${(100 * e.testAccuracy).toFixed(2)}%`),
    log,
  });
  const av = r.training.averaged;
  if (av) log(`QAT: wrote the mean of the weights after steps ${av.from}–${av.to} (${av.count} snapshots, --average-last ${flags.averageLast})${av.testAccuracy !== undefined ? `; held-out loss ${av.testLoss!.toFixed(4)}, accuracy ${(100 * av.testAccuracy).toFixed(2)}%` : ''}`);
  else if (flags.averageLast !== undefined) log(`QAT: training ended before the averaging window (--average-last ${flags.averageLast}); the ${r.training.bestStep !== undefined ? 'best held-out' : 'last'} weights are written`);
  if (r.training.bestStep !== undefined && !av) log(`QAT: kept the weights of step ${r.training.bestStep} of ${r.training.steps} (best held-out ${flags.selectBy}; held-out accuracy ${(100 * r.training.best!).toFixed(2)}%)`);
  await saveModelProven(r.qat, flags.output, { flag: '-o', reference: file });
  if (flags.ptqOutput) await saveModelProven(r.ptq, flags.ptqOutput, { flag: '--ptq-output', reference: file });

  const evalSet = () => openDataset(flags.data, flags.limit ? { limit: parseIntFlag('--limit', flags.limit, 1) } : {});
  const score = async (m: Model) => {
    const e = await evaluate(m, await evalSet(), { threads, batch: 100 });
    return { metric: e.metrics.top1 ?? Object.values(e.metrics)[0]!, n: e.samples };
  };
  const [fl, ptq, qat] = [await score(r.float), await score(r.ptq), await score(r.qat)];
  const report: QatReport = {
    model: file,
    output: flags.output,
    quantization: { ...quantize, target: flags.target, lsq: !!flags.lsq, weightScales: flags.weightScales, batchNorm: flags.batchNorm, ...(alpha > 0 ? { distill: alpha, temperature } : {}), selectBy: flags.selectBy, ...(common.averageLast !== undefined ? { averageLast: common.averageLast } : {}), ...(freezeAbove !== undefined ? { freezeOscillations: freezeAbove } : {}) },
    metric: 'top1',
    float: fl.metric,
    ptq: ptq.metric,
    qat: qat.metric,
    evalSamples: qat.n,
    ptqSeconds: r.ptqSeconds,
    qatSeconds: r.qatSeconds,
    trainSamples: trainSet.length,
    steps: r.training.steps,
    samplesSeen: r.samples,
    epochs: r.training.history.length,
    bestHeldOut: r.training.best,
    bestStep: r.training.bestStep,
    ...(av ? { averaged: av } : {}),
    ...(r.oscillations ? { oscillations: r.oscillations } : {}),
  };
  const rounds = parseIntFlag('--bench-runs', flags.benchRuns, 0);
  if (rounds > 0) {
    const c = await compare(modelToBytes(r.ptq), modelToBytes(r.qat), { threads, runs: rounds, warmup: 10 });
    report.latency = { ptqMs: c.a.latencyMs.p50, qatMs: c.b.latencyMs.p50, ratio: { value: c.ratio.ratio, low: c.ratio.low, high: c.ratio.high }, threads, batch: c.a.batch, rounds };
  }
  return report;
}

const pct = (e: Estimate) => `${(100 * e.value).toFixed(2)}% [${(100 * e.low).toFixed(2)}–${(100 * e.high).toFixed(2)}]`;

function formatReport(r: QatReport): string {
  const drop = (e: Estimate) => `${(100 * (r.float.value - e.value)).toFixed(2)} pts`;
  const lines = [
    `QAT model: ${r.output}`,
    `quantization: ${Object.entries(r.quantization).map(([k, v]) => `${k} ${v}`).join(', ')}`,
    '',
    `                 ${r.metric} (95% CI, ${r.evalSamples} samples)   drop vs float   build time`,
    `float (BN folded) ${pct(r.float)}`,
    `PTQ               ${pct(r.ptq)}   ${drop(r.ptq)}   ${r.ptqSeconds.toFixed(1)} s (calibration)`,
    `QAT               ${pct(r.qat)}   ${drop(r.qat)}   ${(r.ptqSeconds + r.qatSeconds).toFixed(1)} s (PTQ + ${r.qatSeconds.toFixed(1)} s training)`,
    '',
    `QAT required: ${r.trainSamples} labelled training samples, ${r.steps} steps (${r.samplesSeen} samples seen, ${r.epochs} epoch(s)), ${(r.qatSeconds / 60).toFixed(1)} min on ${r.latency?.threads ?? ''} threads; best held-out accuracy ${r.bestHeldOut !== undefined ? (100 * r.bestHeldOut).toFixed(2) + '%' : '–'}`,
  ];
  if (r.latency) {
    const l = r.latency;
    lines.push(`latency (batch ${l.batch}, ${l.threads} threads, ${l.rounds} interleaved rounds): PTQ ${l.ptqMs.toFixed(3)} ms, QAT ${l.qatMs.toFixed(3)} ms, QAT/PTQ ${l.ratio.value.toFixed(3)} [${l.ratio.low.toFixed(3)}–${l.ratio.high.toFixed(3)}]`);
  }
  return lines.join('\n') + '\n';
}
