/**
 * Why frames go over the budget (issue 14): a spec on every frame of a video (from frame 0, frames at the budget's
 * pace, tracks kept), each crop stage's plan traced (`tracePlans`), and every frame over the budget classified:
 * detector frame or not, which stages ran, mandatory vs deferrable vs spare work taken, the scheduler's estimate
 * of what it admitted against what it took, and the frames after a start or a pause (`--gap`: a pause of that
 * many ms after every 20 frames, as the bench's interleaved blocks give each pipeline). Timing figures count
 * only under measure-run.
 *
 *   npx tsx bench/pipeline-diag.ts <spec.yaml> --frames tmp/vsearch [--budget 66] [--limit 600] [--gap 0] [--out tmp/diag/run.jsonl]
 */
import { writeFileSync } from 'node:fs';
import { loadFrameSet } from '../src/pipeline/run.js';
import { latencyReport, scoreAccuracy } from '../src/pipeline/metrics.js';
import { Pipeline, type FrameResult } from '../src/pipeline/runner.js';
import { loadPipelineSpec } from '../src/pipeline/spec.js';

const arg = (name: string, dflt?: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : dflt;
};
const specFile = process.argv[2];
if (!specFile || specFile.startsWith('--')) throw new Error('usage: pipeline-diag.ts <spec.yaml> --frames <dir> [--budget 66] [--limit n] [--gap ms] [--out file]');
const budget = Number(arg('budget', '66'));
const gap = Number(arg('gap', '0'));
const set = await loadFrameSet(arg('frames', 'tmp/vsearch')!, arg('limit') ? Number(arg('limit')) : undefined);
const spec = loadPipelineSpec(specFile);
const p = await Pipeline.create(spec, { tracePlans: true });
for (let i = 0; i < Math.min(p.defaultWarmup, set.frames.length); i++) await p.process(set.frames[i]!);
await p.settle();
p.reset();
const frames: FrameResult[] = [];
let last = -Infinity;
const t0 = performance.now();
for (const [i, f] of set.frames.entries()) {
  if (gap && i > 0 && i % 20 === 0) {
    await p.settle();
    await new Promise((r) => setTimeout(r, gap));
  }
  const wait = last + budget - performance.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  last = performance.now();
  frames.push(await p.process(f));
}
const wall = performance.now() - t0;
await p.settle();
await p.close();

const lat = latencyReport(frames, wall, budget);
const acc = set.truth ? scoreAccuracy(frames, set.truth) : undefined;
console.log(`${specFile} on ${frames.length} frames of ${set.frames[0]!.width}×${set.frames[0]!.height}, budget ${budget} ms${gap ? `, pause ${gap} ms every 20 frames` : ''}: p50 ${lat.latency.p50.toFixed(1)} p90 ${lat.latency.p90.toFixed(1)} p99 ${lat.latency.p99.toFixed(1)} ms, misses ${lat.deadlineMisses}/${frames.length}${acc ? `, F1 ${(100 * acc.f1.value).toFixed(2)}` : ''}`);

const stageMs = (f: FrameResult, stage: string, part?: string) => f.spans.filter((s) => s.stage === stage && (!part || s.part === part)).reduce((a, s) => a + s.end - s.start, 0);
const crops = [...new Set(frames.flatMap((f) => (f.plans ?? []).map((x) => x.stage)))];
const det = spec.stages.find((s) => s.type === 'model' && s.pre.op === 'resize')?.id;
// estimate vs actual of what each crop stage admitted: the plan's estimate covers this stage and the crop stages
// after it on the same regions; the actual is their time from the plan to the frame's end
const ratios: number[] = [];
type Row = { index: number; ms: number; detector: boolean; afterStart: boolean; stages: string; work: string; planAt: number; est?: number; plan?: number; actual: number; cause: string };
const rows: Row[] = [];
for (const f of frames) {
  const plans = f.plans ?? [];
  const first = plans.find((x) => x.taken.mandatory + x.taken.deferrable + x.taken.spare > 0);
  const planned = crops.slice(first ? crops.indexOf(first.stage) : crops.length);
  // wall time from the plan to the end of those stages (a stage's lanes run side by side: spans overlap)
  const ends = f.spans.filter((s) => planned.includes(s.stage)).map((s) => s.end);
  const actual = first && ends.length ? Math.max(...ends) - first.elapsedMs : 0;
  if (first?.estimateMs !== undefined && first.estimateMs > 1) ratios.push(actual / first.estimateMs);
  if (f.latencyMs <= budget) continue;
  const detector = det !== undefined && stageMs(f, det, 'model') > 0;
  const afterStart = f.index < 2 || (gap > 0 && f.index % 20 < 2);
  const took = plans.map((x) => `${x.stage} ${x.taken.mandatory}m+${x.taken.deferrable}d+${x.taken.spare}s of ${x.due.mandatory}m+${x.due.deferrable}d+${x.due.spare}s`).join('; ');
  const extra = plans.reduce((a, x) => a + x.taken.deferrable + x.taken.spare, 0);
  const planAt = first?.elapsedMs ?? f.latencyMs;
  const est = first?.estimateMs;
  // what it was planned at: the calibrated quantile (plannedMs) where traced, else the old 1/0.85 margin
  const plan = first?.plannedMs ?? (est !== undefined ? est / 0.85 : undefined);
  let cause: string;
  if (!first || planAt > budget) cause = 'over before the crop stages (detector, tracker)';
  else if (extra === 0) cause = 'mandatory reads only';
  else if (plan !== undefined && planAt + plan <= budget + 1e-6) cause = planAt + actual > budget ? 'admitted deferrable work, actual > plan' : 'admitted deferrable work, within plan, other stages';
  else cause = 'deferrable work past the plan (a re-read forced after waiting its limit, or mandatory reads)';
  rows.push({ index: f.index, ms: f.latencyMs, detector, afterStart, stages: [...new Set(f.spans.map((s) => s.stage))].map((s) => `${s} ${stageMs(f, s).toFixed(1)}`).join(', '), work: took, planAt, ...(est !== undefined ? { est } : {}), ...(plan !== undefined ? { plan } : {}), actual, cause });
}
console.log('\nframes over the budget:');
console.log('frame | ms | det frame | after start | stage ms (lanes overlap) | taken (m: mandatory, d: deferrable, s: spare) of due | plan at ms | per-call estimate ms | planned ms | actual ms | cause');
for (const r of rows) console.log(`${r.index} | ${r.ms.toFixed(1)} | ${r.detector ? 'yes' : 'no'} | ${r.afterStart ? 'yes' : 'no'} | ${r.stages} | ${r.work} | ${r.planAt.toFixed(1)} | ${r.est?.toFixed(1) ?? '–'} | ${r.plan?.toFixed(1) ?? '–'} | ${r.actual.toFixed(1)} | ${r.cause}`);
const by = new Map<string, number>();
for (const r of rows) by.set(`${r.cause}${r.detector ? ', detector frame' : ''}`, (by.get(`${r.cause}${r.detector ? ', detector frame' : ''}`) ?? 0) + 1);
console.log('\ncauses:');
for (const [k, v] of [...by].sort((a, b) => b[1] - a[1])) console.log(`  ${v} ${k}`);
ratios.sort((a, b) => a - b);
const q = (x: number) => ratios[Math.min(ratios.length - 1, Math.floor(x * ratios.length))]!;
if (ratios.length) console.log(`\nactual / estimate of the admitted crop work (${ratios.length} frames): mean ${(ratios.reduce((a, b) => a + b, 0) / ratios.length).toFixed(2)}, p50 ${q(0.5).toFixed(2)}, p90 ${q(0.9).toFixed(2)}, p95 ${q(0.95).toFixed(2)}, p99 ${q(0.99).toFixed(2)}, max ${ratios[ratios.length - 1]!.toFixed(2)}`);
const detMs = frames.map((f) => (det ? stageMs(f, det) : 0)).filter((x) => x > 0).sort((a, b) => a - b);
if (detMs.length) console.log(`detector per run (pre + model + post): p50 ${detMs[Math.floor(detMs.length / 2)]!.toFixed(1)}, p90 ${detMs[Math.floor(0.9 * detMs.length)]!.toFixed(1)}, max ${detMs[detMs.length - 1]!.toFixed(1)} ms over ${detMs.length} runs`);
const outFile = arg('out');
if (outFile) writeFileSync(outFile, frames.map((f) => JSON.stringify({ index: f.index, latencyMs: f.latencyMs, spans: f.spans, plans: f.plans, items: f.items.map((it) => ({ trackId: it.trackId, text: it.text, box: it.box.map((v) => Math.round(v)) })) })).join('\n') + '\n');
