/**
 * bench/io: how much the IR's load + save costs over plain file I/O, on zoo bert-base (~440 MB).
 *
 *   npx tsx bench/io.ts [--rounds N] [--model bert-base] [--seed S]
 *
 * Builds the model once and saves it, then runs rounds of (a) a raw read + write of the file's bytes and
 * (b) loadModel + saveModel, in a random order per round (seeded) so that page cache and machine load
 * affect both alike. Prints the medians, their spread and the (b)/(a) ratio with a bootstrap 95% interval
 * (target ≤ 3×), and the codec's own share (decode + encode in memory, no I/O). Then measures peak RSS of each in a fresh child process against the model size (target:
 * load + save ≤ 2× the model size). Not a test: figures vary with the machine and its load.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadModel, saveModel } from '../src/ir/io.js';
import { encodeModel } from '../src/ir/proto/encode.js';
import { peakRssBytes } from '../src/util/memory.js';
import { rng } from '../src/util/random.js';
import { bootstrapMedianRatio, summarize } from '../src/util/stats.js';
import { buildZooModel } from '../src/zoo/index.js';

const MiB = 2 ** 20;

function rawReadWrite(src: string, dst: string): void {
  fs.writeFileSync(dst, fs.readFileSync(src));
}

function loadSave(src: string, dst: string): void {
  saveModel(loadModel(src), dst);
}

const TASKS = { raw: rawReadWrite, 'load+save': loadSave } as const;
type Task = keyof typeof TASKS;

/** Child-process mode: run one task once, print the peak RSS before and after (bytes) as JSON. */
function child(task: Task, src: string, dst: string): void {
  const baseRss = peakRssBytes();
  TASKS[task](src, dst);
  process.stdout.write(JSON.stringify({ baseRss, peakRss: peakRssBytes() }) + '\n');
}

function flag(name: string, dflt: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : dflt;
}

function timeMs(f: () => void): number {
  const t0 = performance.now();
  f();
  return performance.now() - t0;
}

function fmt(s: ReturnType<typeof summarize>): string {
  return `median ${s.p50.toFixed(0)} ms (min ${s.min.toFixed(0)}, max ${s.max.toFixed(0)}, stdev ${s.stdev.toFixed(0)})`;
}

/** Peak RSS of one task in a fresh process (tsx loader included, as for the CLI). */
function childPeak(task: Task, src: string, dst: string): { baseRss: number; peakRss: number } {
  const self = fileURLToPath(import.meta.url);
  const out = execFileSync(process.execPath, ['--import', 'tsx', self, '--child', task, src, dst], { encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').at(-1)!) as { baseRss: number; peakRss: number };
}

function main(): void {
  const rounds = Number(flag('--rounds', '7'));
  const name = flag('--model', 'bert-base');
  const seed = Number(flag('--seed', '0'));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'inferopt-bench-io-'));
  try {
    const file = path.join(dir, `${name}.onnx`);
    const t0 = performance.now();
    const { bytes } = saveModel(buildZooModel(name, { seed: 0 }), file);
    console.log(`${name}: ${(bytes / MiB).toFixed(1)} MiB, built and saved in ${((performance.now() - t0) / 1000).toFixed(1)} s (${file})`);
    console.log(`${rounds} rounds, each (a) raw read + write and (b) loadModel + saveModel, in random order per round`);

    const times: Record<Task, number[]> = { raw: [], 'load+save': [] };
    const coin = rng(seed);
    for (let r = 0; r < rounds; r++) {
      const order: Task[] = coin() < 0.5 ? ['raw', 'load+save'] : ['load+save', 'raw'];
      for (const task of order) {
        const dst = path.join(dir, `out-${task === 'raw' ? 'raw' : 'ir'}.onnx`);
        times[task].push(timeMs(() => TASKS[task](file, dst)));
        fs.rmSync(dst, { force: true });
      }
    }
    const raw = summarize(times.raw);
    const ir = summarize(times['load+save']);
    const ratio = bootstrapMedianRatio(times.raw, times['load+save'], { paired: true, seed });
    console.log(`(a) raw read + write      ${fmt(raw)}  ≈ ${((2 * bytes) / MiB / (raw.p50 / 1000)).toFixed(0)} MiB/s`);
    console.log(`(b) loadModel + saveModel ${fmt(ir)}`);
    console.log(
      `ratio (b)/(a) of medians: ${ratio.ratio.toFixed(2)}× (95% CI ${ratio.low.toFixed(2)}–${ratio.high.toFixed(2)}); target ≤ 3× → ${ratio.ratio <= 3 ? 'met' : 'MISSED'}`,
    );

    const bytesInMemory = fs.readFileSync(file);
    // saveModel writes the encoder's chunks as they are (big tensors referenced, not copied): time the same
    const codec = summarize(Array.from({ length: rounds }, () => timeMs(() => encodeModel(loadModel(bytesInMemory)))));
    console.log(`(c) codec only, in memory: decode + encode to chunks ${fmt(codec)}`);

    console.log('peak RSS in a fresh child process (tsx + node baseline shown separately):');
    for (const task of ['raw', 'load+save'] as Task[]) {
      const { baseRss, peakRss } = childPeak(task, file, path.join(dir, 'out-child.onnx'));
      fs.rmSync(path.join(dir, 'out-child.onnx'), { force: true });
      const over = peakRss - baseRss;
      const line = `  ${task.padEnd(9)} peak ${(peakRss / MiB).toFixed(0)} MiB = ${(peakRss / bytes).toFixed(2)}× model size; above the process baseline (${(baseRss / MiB).toFixed(0)} MiB): ${(over / MiB).toFixed(0)} MiB = ${(over / bytes).toFixed(2)}×`;
      console.log(line + (task === 'load+save' ? `; target ≤ 2× → ${peakRss <= 2 * bytes ? 'met' : 'MISSED'}` : ''));
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--child') child(process.argv[3] as Task, process.argv[4]!, process.argv[5]!);
else main();
