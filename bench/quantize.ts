/**
 * Quantization benchmarks, each measured side by side in one run (A/B rounds interleaved in a seeded random
 * order by src/runtime compare(); medians, the B/A ratio with a paired bootstrap 95% interval):
 *
 *   bert   zoo bert-base (simplified for --target cpu), seq 128, batch 1, 2 threads: fp32 vs dynamic int8
 *          (s8 weights): sizes and latency ratio (goal ≥ 1.8×); then the PyTorch 1.13 peer (fp32 and
 *          quantize_dynamic, bench/quantize_torch.py, same shapes), skipped with a notice without torch.
 *   cnn    zoo resnet50 and mobilenetv2 (simplified), static int8 per-channel QDQ (U8S8, 8 random calibration
 *          batches: latency and size only — random data says nothing about accuracy): size and latency ratio
 *          (goals: resnet50 ≥ 1.7×, ≤ 26 MB).
 *   int4   bert-base weight-only sizes (4-bit blocks 32/128, 8-bit block 32) and the 4-bit latency ratio.
 *
 *   npx tsx bench/quantize.ts [--part bert,cnn,int4] [--rounds 20] [--seq 128] [--threads 2]
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Model } from '../src/ir/graph.js';
import { saveModel } from '../src/ir/io.js';
import { simplifyModel } from '../src/passes/simplify.js';
import { compare, type CompareResult } from '../src/runtime/bench.js';
import { randomInputs } from '../src/runtime/inputs.js';
import { quantizeModel, type QuantizeOptions } from '../src/quantize/quantize.js';
import { feedsOf } from '../src/quantize/stream.js';
import { buildZooModel } from '../src/zoo/index.js';

const args = process.argv.slice(2);
const flag = (name: string, dflt: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1]! : dflt;
};
const parts = flag('part', 'bert,cnn,int4').split(',');
const rounds = Number(flag('rounds', '20'));
const seq = Number(flag('seq', '128'));
const threads = Number(flag('threads', '2'));
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'inferopt-bench-q-'));
const mb = (b: number) => `${(b / 1e6).toFixed(1)} MB (${(b / 2 ** 20).toFixed(1)} MiB)`;

function sizeOf(m: Model, name: string): number {
  const file = path.join(dir, `${name}.onnx`);
  const r = saveModel(m, file);
  return r.bytes + r.dataBytes;
}

async function simplified(name: string): Promise<Model> {
  const m = buildZooModel(name, { seed: 0 });
  await simplifyModel(m, { target: 'cpu' }, { inPlace: true });
  return m;
}

function printCompare(label: string, c: CompareResult): void {
  const f = (r: CompareResult['a']) => `${r.latencyMs.p50.toFixed(1)} ms (min ${r.latencyMs.min.toFixed(1)}, max ${r.latencyMs.max.toFixed(1)})`;
  console.log(`  ${label}: A ${f(c.a)} | B ${f(c.b)}`);
  const speed = 1 / c.ratio.ratio;
  console.log(`  speed-up A/B = ${speed.toFixed(2)}× (95% CI ${(1 / c.ratio.high).toFixed(2)}–${(1 / c.ratio.low).toFixed(2)}), ${c.a.timesMs.length} rounds interleaved`);
}

async function quantized(m: Model, o: QuantizeOptions): Promise<Model> {
  const t0 = performance.now();
  const r = await quantizeModel(m, o);
  console.log(`  quantized (${o.mode}) in ${((performance.now() - t0) / 1000).toFixed(1)} s: ${JSON.stringify(r.stats)}`);
  return r.model;
}

function torchPeer(mode: 'fp32' | 'int8'): string {
  // FACTS.md: fp32 fastest with OpenBLAS 2 threads + torch 1; int8 with OpenBLAS 1 + torch 2
  const env = { ...process.env, OPENBLAS_NUM_THREADS: mode === 'fp32' ? String(threads) : '1' };
  const r = spawnSync('/usr/bin/python3', ['bench/quantize_torch.py', '--mode', mode, '--seq', String(seq), '--runs', String(Math.max(5, Math.floor(rounds / 2))), '--torch-threads', mode === 'fp32' ? '1' : String(threads)], { env, encoding: 'utf8', timeout: 1_800_000 });
  if (r.status !== 0) return `failed: ${(r.stderr || r.error?.message || '').split('\n').filter(Boolean).pop()}`;
  const j = JSON.parse(r.stdout.trim().split('\n').pop()!) as { median_ms: number; min_ms: number; max_ms: number; runs: number; engine: string };
  return `${j.median_ms.toFixed(1)} ms median (min ${j.min_ms.toFixed(1)}, max ${j.max_ms.toFixed(1)}, ${j.runs} runs, engine ${j.engine})`;
}

const hasTorch = () => spawnSync('/usr/bin/python3', ['-c', 'import torch'], { encoding: 'utf8' }).status === 0;

async function benchBert(): Promise<void> {
  console.log(`\n== bert-base, seq ${seq}, batch 1, ${threads} threads: fp32 vs dynamic int8 ==`);
  const fp32 = await simplified('bert-base');
  const int8 = await quantized(fp32, { mode: 'dynamic', target: 'cpu' });
  const [a, b] = [sizeOf(fp32, 'bert_fp32'), sizeOf(int8, 'bert_int8')];
  console.log(`  size: fp32 ${mb(a)}, int8 ${mb(b)} → ${(a / b).toFixed(2)}× smaller`);
  const dims = { batch: 1, seq };
  printCompare('fp32 (A) vs int8 (B)', await compare(path.join(dir, 'bert_fp32.onnx'), path.join(dir, 'bert_int8.onnx'), { threads, dims, runs: rounds, warmup: 3 }));
  if (!hasTorch()) {
    console.log('  PyTorch peer skipped: /usr/bin/python3 with torch not found (apt-get install python3-torch libopenblas0-pthread)');
    return;
  }
  console.log(`  PyTorch fp32: ${torchPeer('fp32')}`);
  console.log(`  PyTorch quantize_dynamic int8: ${torchPeer('int8')}`);
}

async function benchCnn(name: string): Promise<void> {
  console.log(`\n== ${name}, 1×3×224×224, ${threads} threads: fp32 vs static int8 per-channel ==`);
  const fp32 = await simplified(name);
  const calib = Array.from({ length: 8 }, (_, i) => randomInputs(fp32, { dims: { batch: 1, N: 1 }, seed: i }));
  const int8 = await quantized(fp32, { mode: 'static', target: 'cpu', calibration: feedsOf(calib) });
  const [a, b] = [sizeOf(fp32, `${name}_fp32`), sizeOf(int8, `${name}_int8`)];
  console.log(`  size: fp32 ${mb(a)}, int8 ${mb(b)} → ${(a / b).toFixed(2)}× smaller`);
  printCompare('fp32 (A) vs int8 (B)', await compare(path.join(dir, `${name}_fp32.onnx`), path.join(dir, `${name}_int8.onnx`), { threads, dims: { batch: 1, N: 1 }, runs: rounds, warmup: 3 }));
}

async function benchInt4(): Promise<void> {
  console.log('\n== bert-base weight-only sizes ==');
  const fp32 = await simplified('bert-base');
  console.log(`  fp32: ${mb(sizeOf(fp32, 'bert_fp32'))}`);
  for (const [bits, blockSize] of [[4, 32], [4, 128], [8, 32]] as const) {
    const q = await quantized(fp32, { mode: 'weight-only', target: 'cpu', bits, blockSize });
    console.log(`  ${bits}-bit, block ${blockSize}: ${mb(sizeOf(q, `bert_w${bits}_${blockSize}`))}`);
  }
  printCompare('fp32 (A) vs 4-bit block 32 (B)', await compare(path.join(dir, 'bert_fp32.onnx'), path.join(dir, 'bert_w4_32.onnx'), { threads, dims: { batch: 1, seq }, runs: Math.max(5, Math.floor(rounds / 2)), warmup: 2 }));
}

try {
  console.log(`quantization benchmarks (${os.cpus().length} CPUs, load average ${os.loadavg()[0]!.toFixed(1)}: figures are noisy under contention)`);
  if (parts.includes('bert')) await benchBert();
  if (parts.includes('cnn')) for (const n of ['resnet50', 'mobilenetv2']) await benchCnn(n);
  if (parts.includes('int4')) await benchInt4();
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
