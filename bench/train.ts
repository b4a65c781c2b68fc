/**
 * Training throughput of the Fashion-MNIST ResNet (models/fashion-mnist/arch.ts): inferopt (one ONNX Runtime
 * call per step: forward, backward, SGD update) vs the same architecture in PyTorch (bench/train_torch.py),
 * rounds interleaved A/B in one run. Prints samples/s medians with min/max and the inferopt/PyTorch ratio.
 *
 *   npx tsx bench/train.ts [--rounds 5] [--steps 5] [--batch 128] [--threads 2]
 *
 * PyTorch runs with torch threads = 1 and OPENBLAS_NUM_THREADS = --threads (the faster of the settings tried
 * on these machines; see FACTS.md); it is skipped with a notice when python3 or torch is missing.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { buildFashionResNet } from '../models/fashion-mnist/arch.js';
import { DataType } from '../src/ir/dtype.js';
import { Tensor } from '../src/ir/tensor.js';
import { rng } from '../src/runtime/inputs.js';
import { Session } from '../src/runtime/session.js';
import { buildTrainingGraph } from '../src/train/training-graph.js';

const args = process.argv.slice(2);
const flag = (name: string, dflt: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const rounds = flag('rounds', 5);
const steps = flag('steps', 5);
const batch = flag('batch', 128);
const threads = flag('threads', 2);

async function inferoptStepper(): Promise<(n: number) => Promise<number>> {
  const rand = rng(0);
  const forward = buildFashionResNet(0);
  const sample = {
    image: Tensor.float([batch, 1, 28, 28], Float32Array.from({ length: batch * 784 }, () => rand())),
    labels: Tensor.int64([batch], Array.from({ length: batch }, () => Math.floor(rand() * 10))),
  };
  const graph = await buildTrainingGraph(forward, {
    loss: { kind: 'cross-entropy' },
    optimizer: { kind: 'sgd', momentum: 0.9, nesterov: true, weightDecay: 5e-4 },
    sample,
  });
  const session = await Session.create(graph.model, { threads, optLevel: 'all' });
  const feeds: Record<string, Tensor> = { ...sample, lr: Tensor.float([], [0.01]) };
  for (const c of graph.carried) {
    feeds[c.input] = c.init === 'zeros' ? Tensor.float(c.dims, new Float32Array(c.dims.reduce((a, b) => a * b, 1))) : forward.graph.initializers.get(c.input)!.initializer!;
  }
  return async (n) => {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      const out = await session.run(feeds);
      for (const c of graph.carried) feeds[c.input] = out[c.output]!;
    }
    return (performance.now() - t0) / 1000;
  };
}

async function torchStepper(): Promise<((n: number) => Promise<number>) | string> {
  const probe = spawnSync('/usr/bin/python3', ['-c', 'import torch'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) return 'PyTorch not available (apt-get install python3-torch libopenblas0-pthread): skipped';
  const script = fileURLToPath(new URL('./train_torch.py', import.meta.url));
  const child = spawn('/usr/bin/python3', [script, '1', String(batch)], { env: { ...process.env, OPENBLAS_NUM_THREADS: String(threads) }, stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const ready = await lines.next();
  if (ready.done || !String(ready.value).startsWith('ready')) return 'PyTorch peer failed to start: skipped';
  process.on('exit', () => child.kill());
  return async (n) => {
    child.stdin.write(`steps ${n}\n`);
    const r = await lines.next();
    return Number(r.value);
  };
}

const median = (v: number[]) => [...v].sort((a, b) => a - b)[v.length >> 1]!;
const describe = (v: number[]) => `median ${median(v).toFixed(1)} (min ${Math.min(...v).toFixed(1)}, max ${Math.max(...v).toFixed(1)})`;

const ours = await inferoptStepper();
const theirs = await torchStepper();
await ours(2); // warm-up: first runs allocate
if (typeof theirs !== 'string') await theirs(2);
const a: number[] = [];
const b: number[] = [];
for (let r = 0; r < rounds; r++) {
  a.push((steps * batch) / (await ours(steps)));
  if (typeof theirs !== 'string') b.push((steps * batch) / (await theirs(steps)));
}
console.log(`Fashion-MNIST ResNet training, batch ${batch}, ${threads} threads, ${rounds} rounds × ${steps} steps (samples/s)`);
console.log(`  inferopt (ONNX Runtime): ${describe(a)}`);
if (typeof theirs === 'string') console.log(`  PyTorch: ${theirs}`);
else {
  console.log(`  PyTorch ${spawnSync('/usr/bin/python3', ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' }).stdout.trim()}: ${describe(b)}`);
  const ratios = a.map((x, i) => x / b[i]!);
  console.log(`  inferopt / PyTorch: ${median(ratios).toFixed(2)}× (per-round ratios ${ratios.map((x) => x.toFixed(2)).join(', ')}; goal ≥ 0.7×)`);
}
process.exit(0);
