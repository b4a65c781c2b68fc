/**
 * bench/fusion: do our transformer fusions beat ONNX Runtime's own? Zoo bert-base (12 layers, d768, seq 128,
 * batch 1), original vs `simplify --target cpu` (or wasm), side by side in one run.
 *
 *   npx tsx bench/fusion.ts [--model bert-base] [--seq 128] [--rounds 15] [--wasm-rounds 6] [--threads 2] [--no-wasm]
 *
 * Node backend: four sessions — original and simplified, each at ORT optimization level "basic" and "all" —
 * run once per round in a seeded random order (so that drifting machine load hits all four alike). Prints
 * medians, p90 and ratios with bootstrap 95% intervals. Goal: simplified@basic ≤ original@all (our fusions at
 * least as good as ORT's). Wasm backend: original vs simplified at "all" (and "basic"), same interleaving;
 * goal: simplified faster than original. Not a test: figures vary with the machine and its load.
 */
import { modelToBytes } from '../src/ir/io.js';
import { simplifyModel } from '../src/passes/simplify.js';
import { summarizeModel } from '../src/passes/summary.js';
import { randomInputs, resolveDims } from '../src/runtime/inputs.js';
import { Session, type Backend, type OptLevel } from '../src/runtime/session.js';
import { rng } from '../src/util/random.js';
import { bootstrapMedianRatio, summarize } from '../src/util/stats.js';
import { buildZooModel } from '../src/zoo/index.js';

function flag(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : dflt;
}

const modelName = flag('model', 'bert-base');
const seq = Number(flag('seq', '128'));
const threads = Number(flag('threads', '2'));
const rounds = Number(flag('rounds', '15'));
const wasmRounds = Number(flag('wasm-rounds', '6'));
const withWasm = !process.argv.includes('--no-wasm');

interface Contestant {
  label: string;
  run: () => Promise<unknown>;
  session: Session;
  times: number[];
}

async function contestant(label: string, bytes: Uint8Array, backend: Backend, optLevel: OptLevel, feeds: ReturnType<typeof randomInputs>, dims: Record<string, number>): Promise<Contestant> {
  const session = await Session.create(bytes, { backend, optLevel, threads, dims });
  const run = session.prepareFeeds(feeds);
  for (let i = 0; i < 3; i++) await run(); // warm-up
  return { label, run, session, times: [] };
}

/** Every round runs each contestant once, in a seeded random order. */
async function interleave(cs: Contestant[], n: number, seed: number): Promise<void> {
  const rand = rng(seed);
  for (let r = 0; r < n; r++) {
    const order = cs.map((c) => ({ c, k: rand() })).sort((a, b) => a.k - b.k);
    for (const { c } of order) {
      const t0 = performance.now();
      await c.run();
      c.times.push(performance.now() - t0);
    }
  }
}

/** A verdict that respects the interval: a point estimate under load says little on its own. */
function verdict(r: { ratio: number; low: number; high: number }, strict: boolean): string {
  const ok = strict ? r.high < 1 : r.high <= 1;
  const bad = strict ? r.low >= 1 : r.low > 1;
  return ok ? 'met' : bad ? 'NOT met' : `inconclusive (interval [${r.low.toFixed(3)}, ${r.high.toFixed(3)}] spans 1; median ratio ${r.ratio.toFixed(3)})`;
}

function report(title: string, cs: Contestant[], baseline: Contestant): void {
  process.stdout.write(`\n${title}\n`);
  process.stdout.write(`${'model @ level'.padEnd(24)} ${'median ms'.padStart(10)} ${'p90 ms'.padStart(9)}   vs ${baseline.label}\n`);
  for (const c of cs) {
    const s = summarize(c.times);
    const r = c === baseline ? undefined : bootstrapMedianRatio(baseline.times, c.times, { paired: true, seed: 1 });
    const ratio = r ? `${r.ratio.toFixed(3)}× [${r.low.toFixed(3)}, ${r.high.toFixed(3)}]` : '1 (baseline)';
    process.stdout.write(`${c.label.padEnd(24)} ${s.p50.toFixed(1).padStart(10)} ${s.p90.toFixed(1).padStart(9)}   ${ratio}\n`);
  }
}

async function main(): Promise<void> {
  const original = buildZooModel(modelName);
  const originalBytes = modelToBytes(original);
  const dims = { batch: 1, seq };
  const feeds = randomInputs(original, { dims, seed: 0 }, 30522);
  const resolved = resolveDims(original, { dims });

  const simplified = async (target: 'cpu' | 'wasm') => {
    const m = buildZooModel(modelName);
    const t0 = performance.now();
    const res = await simplifyModel(m, { target }, { inPlace: true });
    const fused = Object.fromEntries(Object.entries(summarizeModel(m).byOp).filter(([op]) => op.startsWith('com.microsoft') || op === 'LayerNormalization'));
    process.stdout.write(`simplify --target ${target}: ${Math.round(performance.now() - t0)} ms, ${res.rounds} rounds, ${original.graph.nodes.length} → ${m.graph.nodes.length} nodes ${JSON.stringify(fused)}\n`);
    return modelToBytes(m);
  };

  process.stdout.write(`${modelName}, batch 1, seq ${seq}, ${threads} threads (timings under machine load are noisy: compare ratios)\n`);
  const cpuBytes = await simplified('cpu');
  const node: Contestant[] = [];
  try {
    for (const [label, bytes] of [['original', originalBytes], ['simplified', cpuBytes]] as const) {
      for (const level of ['basic', 'all'] as const) node.push(await contestant(`${label} @ ${level}`, bytes, 'node', level, feeds, resolved));
    }
    await interleave(node, rounds, 7);
    report(`node backend, ${rounds} rounds`, node, node[1]!);
    const goal = bootstrapMedianRatio(node[1]!.times, node[2]!.times, { paired: true, seed: 1 });
    process.stdout.write(`goal simplified@basic ≤ original@all: ratio ${goal.ratio.toFixed(3)} → ${verdict(goal, false)}\n`);
  } finally {
    for (const c of node) await c.session.release();
  }

  if (!withWasm) return;
  const wasmBytes = await simplified('wasm');
  const wasm: Contestant[] = [];
  try {
    for (const [label, bytes] of [['original', originalBytes], ['simplified', wasmBytes]] as const) {
      for (const level of ['basic', 'all'] as const) wasm.push(await contestant(`${label} @ ${level}`, bytes, 'wasm', level, feeds, resolved));
    }
    await interleave(wasm, wasmRounds, 11);
    report(`wasm backend, ${wasmRounds} rounds`, wasm, wasm[1]!);
    const goal = bootstrapMedianRatio(wasm[1]!.times, wasm[3]!.times, { paired: true, seed: 1 });
    process.stdout.write(`goal simplified@all faster than original@all on wasm: ratio ${goal.ratio.toFixed(3)} → ${verdict(goal, true)}\n`);
  } finally {
    for (const c of wasm) await c.session.release();
  }
}

await main();
