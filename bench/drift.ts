/**
 * In-process drift of side-by-side timings (issue 10): the demo's headline (timed at the end of its search)
 * disagreed with the `bench --compare` command it prints (session 6: 0.93× vs 1.07×). This times the demo's
 * baseline against an optimized model side by side, on the demo's 8 timing batches, three ways:
 *   fresh  — first thing in this process;
 *   after  — in this process, after running the demo's whole search (optimize, 30 candidates);
 *   child  — in a fresh child process, right after.
 * Also the process's threads, RSS, JS heap, and its CPU use while idle (spinning pool threads would show).
 * Run under measure-run (about 2 minutes):
 *   npx tsx bench/drift.ts <optimized.onnx> [--runs 300] [--feeds 8] [--skip-search]
 * With several input sets each stage also times the first set alone (what the printed command feeds).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadModel } from '../src/ir/io.js';
import { compare } from '../src/runtime/bench.js';
import { watchOtherCpu } from '../src/util/cpu-watch.js';
import { demoCase } from '../src/search/demo.js';
import { DEFAULT_ACCURACY_BOUND } from '../src/search/goals.js';
import { metricSourceFor, optimize } from '../src/search/optimize.js';
import { timingWorkload } from '../src/search/workload.js';

const args = process.argv.slice(2);
const flag = (name: string, dflt: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1]! : dflt;
};
const runs = Number(flag('--runs', '300'));
const nFeeds = Number(flag('--feeds', '8'));
const child = args.includes('--child');
const demo = await demoCase();
const candidate = args.find((a, i) => a.endsWith('.onnx') && !args[i - 1]?.startsWith('--'));
if (!candidate) throw new Error('give the optimized model (e.g. the demo output\'s model.optimized.onnx)');

const base = loadModel(demo.model);
const metric = await metricSourceFor(base, { data: demo.data!, input: demo.input! });
const workload = await timingWorkload(base, demo.input!, metric, demo.data);
const feedSets = workload.feeds.slice(0, nFeeds);

function state(): string {
  const threads = /Threads:\s+(\d+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'))?.[1];
  const m = process.memoryUsage();
  return `threads ${threads}, rss ${(m.rss / 1e6).toFixed(0)} MB, heap ${(m.heapUsed / 1e6).toFixed(0)} MB`;
}
async function idleCores(ms = 1000): Promise<string> {
  const c0 = process.cpuUsage();
  await new Promise((r) => setTimeout(r, ms));
  const c = process.cpuUsage(c0);
  return ((c.user + c.system) / 1000 / ms).toFixed(3);
}
/** Involuntary context switches of every thread of this process (its threads preempted by others). */
function preempted(): number {
  let n = 0;
  for (const t of fs.readdirSync('/proc/self/task')) {
    try {
      n += Number(/nonvoluntary_ctxt_switches:\s+(\d+)/.exec(fs.readFileSync(`/proc/self/task/${t}/status`, 'utf8'))?.[1] ?? 0);
    } catch {
      // the thread ended meanwhile
    }
  }
  return n;
}
async function pair(label: string, sets = feedSets): Promise<void> {
  const watch = watchOtherCpu();
  const p0 = preempted();
  const r = await compare(demo.model, candidate!, { threads: 2, warmup: 3, runs, feedSets: sets });
  const others = watch();
  const pre = preempted() - p0; // threads that ended (released sessions) no longer count: a lower bound
  console.log(
    `${label}: baseline p50 ${r.a.latencyMs.p50.toFixed(3)} ms, candidate p50 ${r.b.latencyMs.p50.toFixed(3)} ms, ` +
      `${(1 / r.ratio.ratio).toFixed(3)}× faster [${(1 / r.ratio.high).toFixed(3)}–${(1 / r.ratio.low).toFixed(3)}] (${runs} rounds, ${sets.length} input set${sets.length > 1 ? 's' : ''}); ` +
      `others ${others ? (100 * others.share).toFixed(1) : '?'}% of the cores, ≥ ${pre} preemptions`,
  );
}

if (child) {
  await pair('child (fresh process)');
  process.exit(0);
}
console.log(`before: ${state()}, idle CPU ${await idleCores()} cores`);
await pair('fresh (this process, first)');
runChild();
if (!args.includes('--skip-search')) {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'inferopt-drift-'));
  const t0 = performance.now();
  try {
    await optimize({ modelFile: demo.model, outDir: path.join(out, 'o'), goals: { maxAccuracyDrop: DEFAULT_ACCURACY_BOUND }, budget: { trials: 30 }, target: 'cpu', data: demo.data!, input: demo.input!, log: (l) => (/^side by side|^chosen|^\[\d+\] (quantize|refine):/.test(l) ? console.log(`  search: ${l.replace(/, [0-9.]+ MB.*/, '').slice(0, 140)}`) : undefined) });
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
  console.log(`search: ${((performance.now() - t0) / 1000).toFixed(1)} s; ${state()}, idle CPU ${await idleCores()} cores`);
  // in turn with fresh processes: if the two agree at each point, the process's state is not the cause
  for (let i = 0; i < 2; i++) {
    await pair('after the search (this process)');
    runChild();
  }
  if (feedSets.length > 1) await pair('after the search (this process)', feedSets.slice(0, 1));
}
function runChild(): void {
  const c = spawnSync(process.execPath, [...process.execArgv, process.argv[1]!, ...args, '--child'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  process.stdout.write(c.stdout);
}
