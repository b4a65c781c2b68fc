/**
 * Which frames of a spec go over a 66 ms budget, and where their time went (issue 14): each spec twice on every
 * frame of tmp/video300, alone, frames at the budget's pace. Run under measure-run:
 *   npx tsx bench/pipeline-over.ts <spec.yaml>...
 */
import { loadFrameSet } from '../src/pipeline/run.js';
import { runSegments } from '../src/pipeline/optimize.js';
import { loadPipelineSpec } from '../src/pipeline/spec.js';
const set = await loadFrameSet('tmp/video300');
const all = [{ ...set, first: 0, leadIn: [] }];
for (const f of process.argv.slice(2)) {
  for (let k = 0; k < 2; k++) {
    const r = await runSegments(loadPipelineSpec(f), all, 66);
    const lat = r.frames.map((x) => x.latencyMs).sort((a, b) => a - b);
    console.log(`${f} #${k}: misses ${r.latency.deadlineMisses} p50 ${lat[150]!.toFixed(1)} p90 ${lat[270]!.toFixed(1)} p99 ${lat[297]!.toFixed(1)} F1 ${(100 * r.accuracy!.f1.value).toFixed(2)}`);
    for (const fr of r.frames.filter((x) => x.latencyMs > 66)) {
      const by = new Map<string, number>();
      for (const s of fr.spans) by.set(`${s.stage}.${s.part}${s.items ? `(${s.items})` : ''}`, (by.get(`${s.stage}.${s.part}${s.items ? `(${s.items})` : ''}`) ?? 0) + s.end - s.start);
      console.log(`   frame ${fr.index} ${fr.latencyMs.toFixed(1)} ms: ${[...by].filter(([, v]) => v > 1).map(([k2, v]) => `${k2} ${v.toFixed(1)}`).join(', ')}`);
    }
  }
}
