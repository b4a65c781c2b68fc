import * as fs from 'node:fs';
import { clearLine, liveLine } from '../terminal.js';
import * as path from 'node:path';
import type { Command } from 'commander';
import { openDataset } from '../../data/dataset.js';
import { InputError } from '../../errors.js';
import { loadModel } from '../../ir/io.js';
import { saveModelProven } from '../../runtime/prove.js';
import { checkOutputFile, markInput } from '../../util/files.js';
import { runtimeInputs } from '../../runtime/inputs.js';
import { collectTensorData } from '../../train/data.js';
import { distill, parseLayerMap } from '../../train/distill.js';
import { keepEveryKthLayer } from '../../train/layers.js';
import { narrowChannels } from '../../train/narrow.js';
import { parsePositiveFlag } from '../flags.js';
import { addTrainingFlags, drawProgress, formatEpoch, logProgress, trainOptionsFrom, type TrainingFlags } from './train.js';

interface DistillFlags extends TrainingFlags {
  teacher: string;
  student?: string;
  studentFromTeacher?: string;
  data: string;
  test: string;
  output: string;
  studentOutput?: string;
  temperature: string;
  alpha: string;
  layerMap?: string;
  hiddenWeight: string;
  attentionWeight: string;
  trainLimit?: string;
}

/** `every:2`, `every:2,width:0.5` — keep every k-th layer, then keep this fraction of each prunable width. */
function parseStudentSpec(text: string): { every: number; width?: number } {
  const out: { every: number; width?: number } = { every: 1 };
  for (const part of text.split(',').map((p) => p.trim()).filter(Boolean)) {
    const [k, v] = part.split(':');
    const n = Number(v);
    if (k === 'every' && Number.isInteger(n) && n >= 1) out.every = n;
    else if (k === 'width' && n > 0 && n <= 1) out.width = n;
    else throw new InputError(`bad --student-from-teacher part '${part}' (expected every:<k> and/or width:<fraction in (0, 1]>)`);
  }
  return out;
}

export function register(program: Command): void {
  const cmd = program
    .command('distill')
    .description('Knowledge distillation on ONNX Runtime: soft targets (KL at temperature T) + hard labels, hidden-state and attention-map matching; students from the teacher (every k-th layer, narrower widths) or given')
    .requiredOption('--teacher <model>', 'the teacher ONNX model (logits [batch, classes])')
    .option('--student <model>', 'a student model (same inputs, same output shape)')
    .option('--student-from-teacher <spec>', 'make the student from the teacher: every:<k> keeps layers k−1, 2k−1, … (DistilBERT initialisation); width:<f> then keeps fraction f of every prunable channel group (FFN neurons, conv filters) by L2 norm')
    .requiredOption('--data <spec>', 'training data (dataset spec, folder or data file)')
    .requiredOption('--test <spec>', 'held-out data, evaluated after every epoch (early stopping keeps the best)')
    .requiredOption('-o, --output <file>', 'where to write the distilled student')
    .option('--student-output <file>', 'also write the student before training')
    .option('--temperature <t>', 'softmax temperature of the soft targets', '2')
    .option('--alpha <a>', 'weight of the soft-target loss (1 − alpha on the hard labels)', '0.5')
    .option('--layer-map <map>', 'student layer → teacher layer for hidden-state matching, e.g. 0:1,1:3 (default with --student-from-teacher every:k: the layers it kept)')
    .option('--hidden-weight <w>', 'weight of the hidden-state MSE (0: off)', '1')
    .option('--attention-weight <w>', 'weight of the attention-map MSE between mapped layers (0: off)', '0')
    .option('--train-limit <n>', 'train on the first n samples of --data');
  addTrainingFlags(cmd, { epochs: '2', batch: '32', lr: '1e-4', optimizer: 'adamw' }).action(async (flags: DistillFlags) => {
    const report = await runDistill(flags);
    process.stdout.write(report + '\n');
  });
}

async function runDistill(flags: DistillFlags): Promise<string> {
  if (!fs.existsSync(flags.teacher)) throw new InputError(`${flags.teacher}: no such file`);
  if (!!flags.student === !!flags.studentFromTeacher) throw new InputError('give exactly one of --student <model> and --student-from-teacher <spec>');
  if (flags.student && !fs.existsSync(flags.student)) throw new InputError(`${flags.student}: no such file`);
  for (const d of [flags.teacher, flags.student, flags.data, flags.test]) if (d) markInput(d);
  checkOutputFile(flags.output, '-o');
  if (flags.studentOutput) checkOutputFile(flags.studentOutput, '--student-output');
  if (flags.checkpoint) checkOutputFile(flags.checkpoint, '--checkpoint');
  const written = [flags.output, flags.studentOutput, flags.checkpoint, flags.log].filter((f): f is string => !!f).map((f) => path.resolve(f));
  if (new Set(written).size < written.length) throw new InputError('-o, --student-output, --checkpoint and --log must be different files');
  const teacher = loadModel(flags.teacher);
  let student;
  let layerMap = flags.layerMap ? parseLayerMap(flags.layerMap) : undefined;
  let made = '';
  if (flags.studentFromTeacher) {
    const spec = parseStudentSpec(flags.studentFromTeacher);
    const r = keepEveryKthLayer(teacher, spec.every);
    student = r.student;
    layerMap ??= r.teacherLayers;
    made = `student: teacher layers ${r.teacherLayers.join(', ')} kept`;
    if (spec.width !== undefined && spec.width < 1) {
      const n = narrowChannels(student, spec.width);
      made += `; ${n.removed} of ${n.prunable} prunable channels removed (${n.groups})`;
    }
  } else student = loadModel(flags.student!);
  if (flags.studentOutput) await saveModelProven(student, flags.studentOutput, { flag: '--student-output', reference: flags.teacher });
  const inputNames = runtimeInputs(student).map((v) => v.name);
  const trainDs = await openDataset(flags.data, flags.trainLimit ? { limit: Number(flags.trainLimit) } : {});
  liveLine('loading data…');
  const data = await collectTensorData(trainDs, inputNames);
  const test = await collectTensorData(await openDataset(flags.test), inputNames);
  const log = (line: string) => {
    clearLine();
    process.stderr.write(line + '\n');
    if (flags.log) fs.appendFileSync(flags.log, line + '\n');
  };
  log(`# ${data.length} training / ${test.length} held-out samples; inferopt distill ${process.argv.slice(3).join(' ')}`);
  if (made) log(`# ${made}`);
  const t0 = performance.now();
  const alpha = Number(flags.alpha);
  if (!(alpha >= 0 && alpha <= 1)) throw new InputError('--alpha must be in [0, 1]');
  const hiddenWeight = Number(flags.hiddenWeight);
  const attentionWeight = Number(flags.attentionWeight);
  if (!(hiddenWeight >= 0) || !(attentionWeight >= 0)) throw new InputError('--hidden-weight and --attention-weight must be ≥ 0');
  const r = await distill(student, {
    ...trainOptionsFrom(flags),
    teacher,
    train: data,
    test,
    temperature: parsePositiveFlag('--temperature', flags.temperature),
    alpha,
    layerMap: hiddenWeight > 0 || attentionWeight > 0 ? layerMap : undefined,
    hiddenWeight,
    attentionWeight,
    patience: 2,
    onProgress: process.stderr.isTTY ? drawProgress : logProgress,
    onEpoch: (s) => log(formatEpoch(s, (performance.now() - t0) / 1000)),
  });
  await saveModelProven(r.model, flags.output, { flag: '-o', reference: flags.teacher });
  const best = r.best ?? r.history.at(-1)?.testAccuracy;
  const pairs = r.pairs.hidden.map((p) => `${p.student}↔${p.teacher}`).join(', ');
  const line = `# wrote ${flags.output}: held-out accuracy ${best !== undefined ? (100 * best).toFixed(2) + '%' : '–'}, ${r.steps} steps, ${((performance.now() - t0) / 1000).toFixed(0)} s${pairs ? `; hidden states matched: ${pairs}` : ''}`;
  log(line);
  return line;
}
