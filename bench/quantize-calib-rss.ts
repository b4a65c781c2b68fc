/**
 * Peak memory of streaming calibration: zoo bert-base (simplified), static-quantization calibration over
 * N random samples (batch 1) for N = 100 and N = 1000, each in a fresh child process. Prints both peak RSS
 * figures (Linux VmHWM via process.resourceUsage) and their ratio: memory must stay flat (goal: ≤ 1.10×),
 * because each batch's activations are folded into fixed-size histograms and dropped.
 *
 *   npx tsx bench/quantize-calib-rss.ts [--seq 32] [--counts 100,1000]
 *
 * seq 32 by default keeps the 1,000-sample run to minutes on a shared 2-core machine; --seq 128 is the
 * full-length case (activation sizes ×4, the same flat profile).
 */
import { spawnSync } from 'node:child_process';
import { simplifyModel } from '../src/passes/simplify.js';
import { randomInputs } from '../src/runtime/inputs.js';
import { calibrateFor, staticQuantizePass } from '../src/quantize/static.js';
import { resolveParams } from '../src/passes/pass.js';
import { buildZooModel } from '../src/zoo/index.js';

const args = process.argv.slice(2);
const flag = (name: string, dflt: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1]! : dflt;
};
const seq = Number(flag('seq', '32'));

async function child(n: number): Promise<void> {
  const model = buildZooModel('bert-base', { seed: 0 });
  await simplifyModel(model, { target: 'cpu' }, { inPlace: true });
  const before = process.resourceUsage().maxRSS * 1024;
  async function* data() {
    for (let i = 0; i < n; i++) yield randomInputs(model, { dims: { batch: 1, seq }, seed: i }, 30000);
  }
  const t0 = performance.now();
  const cfg = resolveParams(staticQuantizePass, { calibration: data(), calibrate: { tensorsPerRun: 1024 } });
  const stats = await calibrateFor(model, cfg);
  const peak = process.resourceUsage().maxRSS * 1024;
  process.stdout.write(JSON.stringify({ n, tensors: stats.tensors.size, batches: stats.batches, seconds: (performance.now() - t0) / 1000, rssBeforeCalibration: before, peakRss: peak }) + '\n');
}

async function parent(): Promise<void> {
  const counts = flag('counts', '100,1000').split(',').map(Number);
  console.log(`bert-base calibration peak RSS, seq ${seq}, batch 1, one fresh process per sample count`);
  const results: { n: number; peakRss: number; rssBeforeCalibration: number; seconds: number; tensors: number }[] = [];
  for (const n of counts) {
    const r = spawnSync(process.execPath, [...process.execArgv, process.argv[1]!, '--child', String(n), '--seq', String(seq)], { encoding: 'utf8', maxBuffer: 1 << 24 });
    if (r.status !== 0) throw new Error(`child ${n} failed: ${r.stderr}`);
    const j = JSON.parse(r.stdout.trim().split('\n').pop()!);
    results.push(j);
    console.log(`  ${String(n).padStart(5)} samples: peak RSS ${(j.peakRss / 2 ** 20).toFixed(0)} MiB (model built and simplified: ${(j.rssBeforeCalibration / 2 ** 20).toFixed(0)} MiB), ${j.tensors} tensors calibrated, ${j.seconds.toFixed(0)} s`);
  }
  const [a, b] = [results[0]!, results[results.length - 1]!];
  console.log(`  peak RSS ratio ${b.n}/${a.n} samples: ${(b.peakRss / a.peakRss).toFixed(3)}× (goal ≤ 1.10×)`);
}

if (args.includes('--child')) await child(Number(flag('child', '100')));
else await parent();
