import * as fs from 'node:fs';
import type { Command } from 'commander';
import { openDataset, split } from '../../data/dataset.js';
import { InputError } from '../../errors.js';
import { loadModel } from '../../ir/io.js';
import { saveModelProven } from '../../runtime/prove.js';
import { checkOutputFile, markInput, openAppend } from '../../util/files.js';
import * as path from 'node:path';
import { collectTensorData } from '../../train/data.js';
import type { LossSpec } from '../../train/loss.js';
import type { OptimizerSpec } from '../../train/optimizer.js';
import { parseSchedule } from '../../train/schedule.js';
import { checkAverageLast, train, type EpochStats, type Progress } from '../../train/trainer.js';
import { collect, parseIntFlag, parseThreadsFlag, parsePositiveFlag } from '../flags.js';
import { clearLine, liveLine, stderrIsTerminal } from '../terminal.js';

interface TrainFlags {
  data: string;
  test?: string;
  output: string;
  epochs: string;
  batch: string;
  lr: string;
  optimizer: string;
  momentum: string;
  nesterov?: boolean;
  weightDecay: string;
  schedule: string;
  warmup: string;
  clip?: string;
  labelSmoothing: string;
  freeze: string[];
  seed: string;
  threads: string;
  checkpoint?: string;
  resume?: string;
  log?: string;
  maxSteps?: string;
  averageLast?: string;
}

export function register(program: Command): void {
  const cmd = program
    .command('train')
    .description('Train an ONNX classifier on ONNX Runtime (backward graph and optimizer built as ONNX); writes a plain inference model')
    .argument('<model>', 'ONNX model (logits output [batch, classes]; its initializers are the weights)')
    .requiredOption('--data <spec>', 'training data: a dataset spec (JSON), folder or data file (see `inferopt data`)')
    .option('--test <spec>', 'held-out data evaluated after every epoch (default: 10% of --data, split by id hash)')
    .requiredOption('-o, --output <file>', 'where to write the trained inference model')
    .option('--label-smoothing <x>', 'label smoothing of the cross-entropy', '0');
  addTrainingFlags(cmd, { epochs: '10', batch: '128', lr: '0.1', optimizer: 'sgd' })
    .option('--clip <norm>', 'clip the global gradient norm')
    .action(async (file: string, flags: TrainFlags) => {
      if (!fs.existsSync(file)) throw new InputError(`${file}: no such file`);
      const model = loadModel(file);
      for (const d of [flags.data, flags.test]) if (d) markInput(d);
      // every file this run writes is checked before the (long) run: never an input, a device or a folder
      checkOutputFile(flags.output, '-o');
      if (flags.checkpoint) checkOutputFile(flags.checkpoint, '--checkpoint');
      const written = [flags.output, flags.checkpoint, flags.log].filter((f): f is string => !!f).map((f) => path.resolve(f));
      if (new Set(written).size < written.length) throw new InputError('-o, --checkpoint and --log must be different files');
      // the training flags are checked before any data is read
      const common = trainOptionsFrom(flags);
      const logFd = flags.log ? openAppend(flags.log, '--log') : undefined;
      try {
        const inputNames = model.graph.inputs.filter((v) => !v.initializer).map((v) => v.name);
        const trainSet = await openDataset(flags.data, { role: 'training' });
        const [trainPart, testPart] = flags.test ? [trainSet, await openDataset(flags.test)] : (() => {
          const s = split(trainSet, { calibrationFraction: 0.1 });
          return [s.evaluation, s.calibration];
        })();
        liveLine('loading data…');
        const data = await collectTensorData(trainPart, inputNames);
        const test = await collectTensorData(testPart, inputNames);
        const log = (line: string) => {
          clearLine();
          process.stderr.write(line + '\n');
          if (logFd !== undefined) fs.writeSync(logFd, line + '\n');
        };
        log(`# ${data.length} training / ${test.length} held-out samples; inferopt train ${process.argv.slice(3).join(' ')}`);
        const t0 = performance.now();
        const result = await train(model, {
          ...common,
          train: data,
          test,
          loss: lossFrom(flags),
          clipNorm: flags.clip ? parsePositiveFlag('--clip', flags.clip) : undefined,
          onProgress: stderrIsTerminal() ? drawProgress : logProgress,
          onEpoch: (s) => log(formatEpoch(s, (performance.now() - t0) / 1000)),
        });
        const { proof } = await saveModelProven(result.model, flags.output, { flag: '-o', reference: file });
        if (proof.note) process.stderr.write(`inferopt: note: ${flags.output} ${proof.note}\n`);
        const last = result.history[result.history.length - 1];
        log(`# wrote ${flags.output}${last?.testAccuracy !== undefined ? `: held-out accuracy ${(100 * last.testAccuracy).toFixed(2)}%` : ''}, ${((performance.now() - t0) / 1000).toFixed(0)} s`);
      } finally {
        if (logFd !== undefined) fs.closeSync(logFd);
      }
    });
}

function lossFrom(flags: TrainFlags): LossSpec {
  const smoothing = Number(flags.labelSmoothing);
  if (!(smoothing >= 0 && smoothing < 1)) throw new InputError('--label-smoothing must be in [0, 1)');
  return { kind: 'cross-entropy', labelSmoothing: smoothing };
}

/** The training flags `train`, `qat` and `distill` share (defaults differ: fine-tunes use lower rates). */
export function addTrainingFlags(cmd: Command, d: { epochs: string; batch: string; lr: string; optimizer: string }): Command {
  return cmd
    .option('--epochs <n>', 'passes over the training data', d.epochs)
    .option('--batch <n>', 'batch size (the training graph is built for it; the last partial batch is dropped)', d.batch)
    .option('--lr <x>', 'peak learning rate', d.lr)
    .option('--optimizer <name>', 'sgd | adamw', d.optimizer)
    .option('--momentum <x>', 'SGD momentum', '0.9')
    .option('--nesterov', 'Nesterov momentum')
    .option('--weight-decay <x>', 'weight decay (weights of rank ≥ 2 only)', '0')
    .option('--schedule <s>', 'constant | cosine | step:<steps>:<gamma>', 'cosine')
    .option('--warmup <steps>', 'linear warm-up steps', '0')
    .option('--freeze <name>', 'keep this weight fixed (repeatable; a trailing * matches a prefix)', collect, [])
    .option('--seed <n>', 'seed of the shuffle (weights come with the model)', '0')
    .option('--threads <n>', 'ONNX Runtime intra-op threads', '2')
    .option('--checkpoint <file>', 'save a checkpoint here after every epoch')
    .option('--resume <file>', 'continue from a checkpoint')
    .option('--log <file>', 'append the progress lines here')
    .option('--max-steps <n>', 'stop after this many steps (smoke runs)')
    .option('--average-last <fraction>', "write the mean of the weights over this last fraction of the schedule's steps (tail averaging, in (0, 1]; replaces the best held-out evaluation's weights)");
}

export type TrainingFlags = Pick<TrainFlags, 'epochs' | 'batch' | 'lr' | 'optimizer' | 'momentum' | 'nesterov' | 'weightDecay' | 'schedule' | 'warmup' | 'freeze' | 'seed' | 'threads' | 'checkpoint' | 'resume' | 'log' | 'maxSteps' | 'averageLast'>;

/** The TrainOptions those flags set (data, loss and callbacks are the command's). */
export function trainOptionsFrom(flags: TrainingFlags) {
  return {
    epochs: parseIntFlag('--epochs', flags.epochs, 1),
    batch: parseIntFlag('--batch', flags.batch, 1),
    lr: parsePositiveFlag('--lr', flags.lr),
    optimizer: optimizerFrom(flags),
    schedule: parseSchedule(flags.schedule, parseIntFlag('--warmup', flags.warmup, 0)),
    frozen: frozenMatcher(flags.freeze),
    seed: parseIntFlag('--seed', flags.seed, 0),
    threads: parseThreadsFlag(flags.threads),
    checkpoint: flags.checkpoint,
    resume: flags.resume,
    maxSteps: flags.maxSteps ? parseIntFlag('--max-steps', flags.maxSteps, 1) : undefined,
    ...(flags.averageLast !== undefined ? { averageLast: parseFractionFlag('--average-last', flags.averageLast) } : {}),
  };
}

/** A fraction in (0, 1] (the trainer's check), or an InputError naming the flag and the text as given. */
function parseFractionFlag(flag: string, value: string): number {
  const n = value.trim() === '' ? NaN : Number(value);
  checkAverageLast(n, flag, value);
  return n;
}

export function optimizerFrom(flags: Pick<TrainFlags, 'optimizer' | 'momentum' | 'nesterov' | 'weightDecay'>): OptimizerSpec {
  const weightDecay = Number(flags.weightDecay);
  if (!(weightDecay >= 0)) throw new InputError('--weight-decay must be ≥ 0');
  if (flags.optimizer === 'adamw') return { kind: 'adamw', weightDecay };
  if (flags.optimizer === 'sgd') return { kind: 'sgd', momentum: Number(flags.momentum), nesterov: !!flags.nesterov, weightDecay };
  throw new InputError(`--optimizer must be sgd or adamw, not '${flags.optimizer}'`);
}

export function frozenMatcher(patterns: string[]): ((name: string) => boolean) | undefined {
  if (patterns.length === 0) return undefined;
  return (name) => patterns.some((p) => (p.endsWith('*') ? name.startsWith(p.slice(0, -1)) : name === p));
}

export function drawProgress(p: Progress): void {
  const width = 24;
  const full = Math.round((p.step / p.stepsPerEpoch) * width);
  liveLine(
    `epoch ${p.epoch}/${p.epochs} [${'#'.repeat(full)}${'.'.repeat(width - full)}] ${p.step}/${p.stepsPerEpoch} ` +
      `loss ${p.loss.toFixed(4)} acc ${(100 * p.accuracy).toFixed(2)}% ${p.samplesPerSecond.toFixed(0)} samples/s lr ${p.lr.toPrecision(3)}`,
  );
}

/** Without a terminal: one line per tenth of an epoch (logs of long runs show progress and speed). */
export function logProgress(p: Progress): void {
  const tenth = Math.max(1, Math.floor(p.stepsPerEpoch / 10));
  if (p.step % tenth !== 0) return;
  process.stderr.write(`epoch ${p.epoch}/${p.epochs} step ${p.step}/${p.stepsPerEpoch} loss ${p.loss.toFixed(4)} acc ${(100 * p.accuracy).toFixed(2)}% ${p.samplesPerSecond.toFixed(0)} samples/s\n`);
}

export function formatEpoch(s: EpochStats, elapsed: number): string {
  const test = s.testAccuracy !== undefined ? ` test_loss ${s.testLoss!.toFixed(4)} test_acc ${(100 * s.testAccuracy).toFixed(2)}%` : '';
  return `epoch ${s.epoch} loss ${s.loss.toFixed(4)} train_acc ${(100 * s.trainAccuracy).toFixed(2)}%${test} ${s.samplesPerSecond.toFixed(0)} samples/s ${s.seconds.toFixed(1)} s (elapsed ${elapsed.toFixed(0)} s)`;
}
