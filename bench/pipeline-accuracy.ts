/**
 * F1 of pipeline specs on the search's accuracy frames (`pipeline optimize --accuracy-frames n`: runs of 20
 * consecutive frames spread over the video, each after its lead-in, tracks afresh in each), with the texts missed
 * and the false reads at each position in the runs: whether a judgement rests on the runs' starts (a fresh
 * start's burst of first reads not drained by the lead-in) or on the whole run. Budgeted specs depend on timing:
 * run it under measure-run.
 *
 *   npx tsx bench/pipeline-accuracy.ts <frames dir> <n frames> <spec.yaml> [<spec.yaml> …] [--budget 66]
 */
import { runSegments, searchSegments } from '../src/pipeline/optimize.js';
import { loadFrameSet } from '../src/pipeline/run.js';
import { loadPipelineSpec } from '../src/pipeline/spec.js';

const args = process.argv.slice(2);
const b = args.indexOf('--budget');
const budget = b >= 0 ? Number(args.splice(b, 2)[1]) : 66;
const pi = args.indexOf('--paced');
const paced = pi >= 0 && !!args.splice(pi, 1).length;
const [dir, n, ...specs] = args;
if (!dir || !n || !specs.length) throw new Error('usage: pipeline-accuracy.ts <frames dir> <n frames> <spec.yaml> [...] [--budget 66]');
const RUN = 20;
const set = await loadFrameSet(dir);
const segs = searchSegments(set, +n, Math.max(4, Math.round(+n / RUN)));
console.log(`${dir}: ${segs.length} runs of ${segs[0]!.frames.length} frames, lead-in ${segs[1]?.leadIn.length ?? 0}; budget ${budget} ms; frames ${paced ? 'at the budget\'s pace' : 'back to back'}`);
for (const f of specs) {
  const r = await runSegments(loadPipelineSpec(f), segs, budget, undefined, { paced });
  const len = segs[0]!.frames.length;
  const pos = Array.from({ length: len }, () => ({ tp: 0, fp: 0, fn: 0 }));
  r.accuracy!.perFrame.forEach((c, i) => {
    const p = pos[i % len]!;
    p.tp += c.tp;
    p.fp += c.fp;
    p.fn += c.fn;
  });
  const t = r.accuracy!.perFrame.reduce((s, c) => ({ tp: s.tp + c.tp, fp: s.fp + c.fp, fn: s.fn + c.fn }), { tp: 0, fp: 0, fn: 0 });
  console.log(`${f}: F1 ${(100 * r.accuracy!.f1.value).toFixed(2)}  tp/fp/fn ${t.tp}/${t.fp}/${t.fn}  misses ${r.latency.deadlineMisses}`);
  console.log(`  missed texts by position in the runs: ${pos.map((p) => p.fn).join(' ')}`);
  console.log(`  false reads by position:              ${pos.map((p) => p.fp).join(' ')}`);
}
