/**
 * Scenario 2 in miniature: the SpamAssassin BERT-style teacher (models/spam-bert, 4 layers, hidden 256) against
 * students made by `inferopt distill` (every 4th layer = one layer of four, or every other layer + half the FFN
 * neurons by src/prune, distilled), each as trained, simplified (fused Attention / SkipLayerNorm / BiasGelu),
 * and in int8 (dynamic: QAttention + dynamic MatMuls; static: QDQ calibrated on 64 training emails) —
 * accuracy on the 1,199 held-out emails (paired bootstrap interval of the drop) and latency at seq 128, batch 1,
 * 2 threads, each model interleaved with the teacher's fp32 ORT run.
 *
 *   # the students (training; not timed):
 *   cpu-run node bin/inferopt.js distill --teacher models/spam-bert/model.onnx --student-from-teacher every:4 \
 *     --data models/spam-bert/train.json --test models/spam-bert/test.json -o tmp/s2/student4.onnx \
 *     --epochs 2 --batch 32 --lr 5e-4 --warmup 20 --temperature 2 --alpha 0.5 --seed 0 --log tmp/s2/distill4.log
 *   cpu-run node bin/inferopt.js distill --teacher models/spam-bert/model.onnx --student-from-teacher every:2,width:0.5 \
 *     --data models/spam-bert/train.json --test models/spam-bert/test.json -o tmp/s2/student.onnx \
 *     --epochs 2 --batch 32 --lr 3e-4 --warmup 20 --temperature 2 --alpha 0.5 --seed 0 --log tmp/s2/distill.log
 *   # the table:
 *   measure-run npx tsx bench/scenario2.ts [--student tmp/s2/student4.onnx[,tmp/s2/student.onnx]] [--rounds 200]
 *
 * Rows, each a step of the path: the teacher simplified (fusions only), the students' structure before training
 * (for the speed each structural step gives), then per distilled student: fp32 as trained, simplified,
 * simplified + dynamic int8, simplified + static int8. `--held-out` in distill picks the better of its epochs
 * on the same 1,199 emails, so the accuracy figures carry that (small) selection.
 */
import { batches, openDataset } from '../src/data/dataset.js';
import { bootstrapMean } from '../src/eval/bootstrap.js';
import type { Model } from '../src/ir/graph.js';
import { loadModel, modelToBytes } from '../src/ir/io.js';
import { simplifyModel } from '../src/passes/simplify.js';
import { quantizeModel } from '../src/quantize/quantize.js';
import { calibrationData } from '../src/quantize/data-sources.js';
import { compare } from '../src/runtime/bench.js';
import { Session } from '../src/runtime/session.js';
import { keepEveryKthLayer } from '../src/train/layers.js';
import { narrowChannels } from '../src/train/narrow.js';

const args = process.argv.slice(2);
const flag = (name: string, dflt: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1]! : dflt;
};
const rounds = Number(flag('rounds', '200'));
const teacherFile = 'models/spam-bert/model.onnx';
const studentFiles = flag('student', 'tmp/s2/student4.onnx').split(',');
const testSpec = 'models/spam-bert/test.json';

/** Per-email correctness (1/0) on the held-out split, in the dataset's order. */
async function correctness(m: Model): Promise<Uint8Array> {
  const s = await Session.create(m, { threads: 2 });
  const out: number[] = [];
  for await (const b of batches(await openDataset(testSpec), 64)) {
    const feeds = Object.fromEntries(s.inputNames.map((n) => [n, b.inputs[n]!]));
    const logits = (await s.run(feeds))[s.outputNames[0]!]!.toFloat32();
    b.labels.forEach((l, i) => out.push((logits[2 * i + 1]! > logits[2 * i]! ? 1 : 0) === l ? 1 : 0));
  }
  await s.release();
  return Uint8Array.from(out);
}

const simplified = async (m: Model): Promise<Model> => (await simplifyModel(m, { target: 'cpu' })).model;

const teacher = loadModel(teacherFile);
const structure = (every: number, width?: number) => {
  const m = keepEveryKthLayer(teacher, every).student;
  if (width) narrowChannels(m, width, { N: 1 });
  return m;
};
const rows: { name: string; model: Model; trained: boolean }[] = [
  { name: 'teacher fp32 (ORT, as trained)', model: teacher, trained: true },
  { name: 'teacher simplified fp32 (fusions)', model: await simplified(teacher), trained: true },
  { name: 'every 2nd layer (structure only)', model: structure(2), trained: false },
  { name: 'every 2nd layer + half the FFN (structure only)', model: structure(2, 0.5), trained: false },
  { name: 'every 4th layer (structure only)', model: structure(4), trained: false },
  { name: 'every 4th layer + half the FFN (structure only)', model: structure(4, 0.5), trained: false },
];
for (const file of studentFiles) {
  const student = loadModel(file);
  const simple = await simplified(student);
  const dynamic = (await quantizeModel(simple, { mode: 'dynamic', target: 'cpu' })).model;
  const calibration = (await calibrationData('models/spam-bert/train.json', simple, { limit: 64, batch: 8 })).data;
  const stat = (await quantizeModel(simple, { mode: 'static', target: 'cpu', calibration })).model;
  rows.push(
    { name: `${file} distilled fp32`, model: student, trained: true },
    { name: `${file} simplified fp32 (fused attention)`, model: simple, trained: true },
    { name: `${file} simplified + dynamic int8`, model: dynamic, trained: true },
    { name: `${file} simplified + static int8 (64 calibration emails)`, model: stat, trained: true },
  );
}
const base = await correctness(teacher);
const shapes = { input_ids: [1, 128], attention_mask: [1, 128] };
const lines = [
  `scenario 2 (seq 128, batch 1, 2 threads, ${rounds} interleaved rounds per row vs the teacher's fp32 ORT run; held-out ${base.length} emails, 95% paired bootstrap intervals)`,
  '| step | held-out accuracy | drop vs teacher (pts) | params | latency p50 | speed-up vs teacher fp32 [95% CI] |',
  '|---|---|---|---|---|---|',
];
for (const r of rows) {
  let acc = '–';
  let drop = '–';
  if (r.trained) {
    const c = r.model === teacher ? base : await correctness(r.model);
    const a = bootstrapMean(c);
    const d = bootstrapMean(Float64Array.from(c, (v, i) => base[i]! - v));
    acc = `${(100 * a.value).toFixed(2)}% [${(100 * a.low).toFixed(2)}–${(100 * a.high).toFixed(2)}]`;
    drop = `${(100 * d.value).toFixed(2)} [${(100 * d.low).toFixed(2)}–${(100 * d.high).toFixed(2)}]`;
  }
  const params = [...r.model.graph.initializers.values()].reduce((n, v) => n + v.initializer!.size, 0);
  const c = await compare(teacher, r.model, { threads: 2, runs: rounds, warmup: 20, shapes });
  const speed = `${(1 / c.ratio.ratio).toFixed(2)}× [${(1 / c.ratio.high).toFixed(2)}–${(1 / c.ratio.low).toFixed(2)}]`;
  lines.push(`| ${r.name} | ${acc} | ${drop} | ${(params / 1e6).toFixed(2)} M | ${c.b.latencyMs.p50.toFixed(2)} ms (teacher ${c.a.latencyMs.p50.toFixed(2)}) | ${speed} |`);
}
process.stdout.write(lines.join('\n') + '\n');
