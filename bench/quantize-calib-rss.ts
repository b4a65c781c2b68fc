/**
 * Memory of the calibration step alone: static-quantization calibration of zoo bert-base (simplified) over
 * N random samples (batch 1), each configuration in a fresh child process that loads the prepared model
 * from a file (building bert-base costs more memory than calibrating it, and a whole-process peak would
 * measure the build). RSS is sampled every 10 ms from just before calibration to its end; the figure is
 * the growth over the RSS at its start. Two ways of feeding the samples:
 *
 * - streamed: an async generator makes each sample when calibration asks for it (how inferopt reads data);
 *   the statistics are fixed-size histograms, so memory must stay flat in N (goal: growth at N = 1000 at
 *   most 1.10× the growth at N = 100);
 * - held: all N samples built into an array first, as a naive tool keeps them: the step grows with N.
 *
 *   npx tsx bench/quantize-calib-rss.ts [--model bert-base] [--seq 32] [--counts 100,1000]
 *
 * seq 32 by default keeps the 1,000-sample runs to minutes on a shared 2-core machine.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadModel, saveModel } from '../src/ir/io.js';
import { simplifyModel } from '../src/passes/simplify.js';
import { randomInputs } from '../src/runtime/inputs.js';
import { calibrateFor, staticQuantizePass } from '../src/quantize/static.js';
import { resolveParams } from '../src/passes/pass.js';
import { rssBytes } from '../src/util/memory.js';
import { buildZooModel } from '../src/zoo/index.js';

const args = process.argv.slice(2);
const flag = (name: string, dflt: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1]! : dflt;
};
const seq = Number(flag('seq', '32'));
const MiB = 2 ** 20;

async function child(file: string, n: number, mode: 'streamed' | 'held'): Promise<void> {
  const model = loadModel(file, { markInput: false });
  const sample = (i: number) => randomInputs(model, { dims: { batch: 1, seq }, seed: i }, 30000);
  async function* streamed() {
    for (let i = 0; i < n; i++) yield sample(i);
  }
  const held = mode === 'held' ? Array.from({ length: n }, (_, i) => sample(i)) : undefined;
  const cfg = resolveParams(staticQuantizePass, { calibration: held ?? streamed(), calibrate: { tensorsPerRun: 1024 } });
  global.gc?.();
  const start = rssBytes();
  let peak = start;
  const timer = setInterval(() => (peak = Math.max(peak, rssBytes())), 10);
  const t0 = performance.now();
  const stats = await calibrateFor(model, cfg);
  clearInterval(timer);
  peak = Math.max(peak, rssBytes());
  process.stdout.write(JSON.stringify({ n, mode, tensors: stats.tensors.size, batches: stats.batches, seconds: (performance.now() - t0) / 1000, rssAtStart: start, peakDuring: peak }) + '\n');
}

async function parent(): Promise<void> {
  const name = flag('model', 'bert-base');
  const counts = flag('counts', '100,1000').split(',').map(Number);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'inferopt-calib-rss-'));
  try {
    const file = path.join(dir, 'model.onnx');
    const model = buildZooModel(name, { seed: 0 });
    await simplifyModel(model, { target: 'cpu' }, { inPlace: true });
    saveModel(model, file);
    console.log(`${name} calibration step, seq ${seq}, batch 1: RSS growth from the start of calibration to its peak (10 ms samples), one fresh process each`);
    const growth: Record<string, number> = {};
    for (const mode of ['streamed', 'held'] as const) {
      for (const n of counts) {
        const r = spawnSync(process.execPath, [...process.execArgv, '--expose-gc', process.argv[1]!, '--child', file, String(n), mode, '--seq', String(seq)], { encoding: 'utf8', maxBuffer: 1 << 24 });
        if (r.status !== 0) throw new Error(`child ${mode} ${n} failed: ${r.stderr}`);
        const j = JSON.parse(r.stdout.trim().split('\n').pop()!);
        growth[`${mode}/${n}`] = j.peakDuring - j.rssAtStart;
        console.log(`  ${mode.padEnd(8)} ${String(n).padStart(5)} samples: +${((j.peakDuring - j.rssAtStart) / MiB).toFixed(0)} MiB during calibration (RSS ${(j.rssAtStart / MiB).toFixed(0)} → ${(j.peakDuring / MiB).toFixed(0)} MiB), ${j.tensors} tensors, ${j.seconds.toFixed(0)} s`);
      }
    }
    const [a, b] = [counts[0]!, counts[counts.length - 1]!];
    for (const mode of ['streamed', 'held']) console.log(`  ${mode}: growth at ${b} / at ${a} samples = ${(growth[`${mode}/${b}`]! / growth[`${mode}/${a}`]!).toFixed(2)}×${mode === 'streamed' ? ' (goal ≤ 1.10×)' : ''}`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (args.includes('--child')) {
  const i = args.indexOf('--child');
  await child(args[i + 1]!, Number(args[i + 2]), args[i + 3] as 'streamed' | 'held');
} else await parent();
