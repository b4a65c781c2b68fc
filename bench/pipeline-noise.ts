/**
 * How far the search frames' F1 judgement is from the whole video's (issue 14): the baseline once on the search
 * frames and on all frames, then each spec 3× on the search frames and 2× on all frames, F1 change vs the baseline
 * with its paired block-bootstrap interval, and deadline misses at 66 ms. Run under measure-run:
 *   npx tsx bench/pipeline-noise.ts <search-frames> <spec.yaml>...   (frames: tmp/video300)
 */
import { loadFrameSet } from '../src/pipeline/run.js';
import { f1Difference } from '../src/pipeline/metrics.js';
import { runSegments, searchSegments } from '../src/pipeline/optimize.js';
import { loadPipelineSpec } from '../src/pipeline/spec.js';
const set = await loadFrameSet('tmp/video300');
const n = Number(process.argv[2] ?? 80);
const specs = process.argv.slice(3);
const segs = searchSegments(set, n);
const base = await runSegments(loadPipelineSpec('data/pipelines/paddleocr-video.yaml'), segs, 66);
const all = [{ ...set, first: 0, leadIn: [] }];
const baseAll = await runSegments(loadPipelineSpec('data/pipelines/paddleocr-video.yaml'), all, 66);
console.log(`baseline search F1 ${(100 * base.accuracy!.f1.value).toFixed(2)}; all ${(100 * baseAll.accuracy!.f1.value).toFixed(2)}`);
for (const f of specs) {
  const s = loadPipelineSpec(f);
  for (let i = 0; i < 3; i++) {
    const r = await runSegments(s, segs, 66);
    const d = f1Difference(base.accuracy!.perFrame, r.accuracy!.perFrame);
    console.log(`${f} search#${i}: F1 ${(100 * r.accuracy!.f1.value).toFixed(2)} change ${d.value.toFixed(2)} [${d.low.toFixed(2)}, ${d.high.toFixed(2)}] misses ${r.latency.deadlineMisses}`);
  }
  for (let i = 0; i < 2; i++) {
    const r = await runSegments(s, all, 66);
    const d = f1Difference(baseAll.accuracy!.perFrame, r.accuracy!.perFrame);
    console.log(`${f} all#${i}: F1 ${(100 * r.accuracy!.f1.value).toFixed(2)} change ${d.value.toFixed(2)} [${d.low.toFixed(2)}, ${d.high.toFixed(2)}] misses ${r.latency.deadlineMisses}`);
  }
}
