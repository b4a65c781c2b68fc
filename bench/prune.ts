/**
 * Pruning on ONNX (issue 12): what each granularity buys on ONNX Runtime CPU, measured side by side.
 *
 *   # Fashion-MNIST ResNet (committed model, real data): prune + fine-tune, models saved in tmp/bench-prune/
 *   measure-run npx tsx bench/prune.ts --part fm-channel [--budget 300]   # 50% of FLOPs, ≤ budget s fine-tuning
 *   cpu-run npx tsx bench/prune.ts --part fm-sparse [--steps 300]         # unstructured 50/80/90%, 2:4, masks held
 *   measure-run npx tsx bench/prune.ts --part fm                          # the table: accuracy, speed b1/b32, sizes
 *   measure-run npx tsx bench/prune.ts --part resnet50                    # zoo resnet50: channels 30%/50% FLOPs, + static int8
 *   measure-run npx tsx bench/prune.ts --part bert                        # zoo bert-base: 50% heads + 50% FFN, fp32 and int8
 *
 * Accuracy: the official 10k Fashion-MNIST test set, top-1 with a bootstrap 95% interval; the drop is paired
 * (the same images resampled). Speed: `compare` (interleaved rounds, medians, bootstrap interval of the
 * ratio), 2 threads; "speed-up" = median(base) / median(pruned). Sizes: serialized bytes, gzip -6, and the
 * sparse storage (bitmap or 2-bit N:M indices + kept values) for unstructured/N:M.
 */
import * as fs from 'node:fs';
import { openDataset } from '../src/data/dataset.js';
import type { Model } from '../src/ir/graph.js';
import { loadModel, modelToBytes, saveModel } from '../src/ir/io.js';
import { simplifyModel } from '../src/passes/simplify.js';
import { readerStats } from '../src/prune/compensate.js';
import { accuracyEstimate, dropEstimate, top1Hits } from '../src/prune/evaluate.js';
import { finetune } from '../src/prune/finetune.js';
import { flopCount, parameterCount } from '../src/prune/structured.js';
import { modelSizes, pruneModel } from '../src/prune/prune.js';
import { calibrationData } from '../src/quantize/data-sources.js';
import { quantizeModel } from '../src/quantize/quantize.js';
import { compare } from '../src/runtime/bench.js';
import { collectTensorData } from '../src/train/data.js';
import { gatherBatch, type TensorData } from '../src/train/trainer.js';

const args = process.argv.slice(2);
const flag = (name: string, dflt: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1]! : dflt;
};
const part = flag('part', 'fm');
const dir = 'tmp/bench-prune';
fs.mkdirSync(dir, { recursive: true });
const t0 = performance.now();
const log = (m: string) => process.stderr.write(`[${((performance.now() - t0) / 1000).toFixed(0)} s] ${m}\n`);
const mb = (b: number) => `${(b / 1e6).toFixed(2)} MB`;
const ratioText = (r: { ratio: number; low: number; high: number }) => `${(1 / r.ratio).toFixed(2)}× [${(1 / r.high).toFixed(2)}–${(1 / r.low).toFixed(2)}]`;

const FM = 'models/fashion-mnist/model.onnx';
const fmData = async (spec: string): Promise<TensorData> => collectTensorData(await openDataset(spec), ['image']);

/** The first `n` training examples in batches of 256 (activation statistics). */
function statBatches(data: TensorData, n = 2048) {
  const order = Uint32Array.from({ length: data.length }, (_, i) => i);
  const out = [];
  for (let from = 0; from < n; from += 256) {
    const { labels: _l, ...f } = gatherBatch(data, order, from, 256);
    out.push(f);
  }
  return out;
}

interface Trained {
  name: string;
  file: string;
  seconds: number;
  steps?: number;
  masks?: string;
  pattern?: { n: number; m: number };
  note: string;
}

async function fmChannel(): Promise<void> {
  const budget = Number(flag('budget', '300'));
  const lr = Number(flag('lr', '0.02'));
  const base = loadModel(FM);
  const train = await fmData('models/fashion-mnist/train.json');
  const test = await fmData('models/fashion-mnist/test.json');
  const st = await readerStats(base, statBatches(train));
  const p = await pruneModel(base, { granularity: 'channel', criterion: 'fluctuation', targetFlops: 0.5, means: st.means, scores: { variances: st.variances }, dims: { N: 1 } });
  const s = p.report.structured!;
  log(`channel: ${s.removed}/${s.candidates} groups, FLOPs ${s.flops[0]} → ${s.flops[1]} (${(s.flops[1] / s.flops[0]).toFixed(3)}), params ${s.params[0]} → ${s.params[1]}`);
  const oneShot = accuracyEstimate(await top1Hits(p.model, test));
  log(`one-shot (mean compensation, no fine-tuning): ${oneShot.value.toFixed(2)}%`);
  const f = await finetune(p.model, { train, epochs: 3, batch: 64, lr, seconds: budget, teacher: base, seed: 0, onEpoch: (e) => log(`  epoch ${e.epoch}: loss ${e.loss.toFixed(4)} (${e.seconds.toFixed(0)} s, ${e.samplesPerSecond.toFixed(0)} samples/s)`) });
  const file = `${dir}/fm-channel50.onnx`;
  saveModel(f.model, file);
  const rec: Trained = { name: 'channel, 50% of FLOPs (fluctuation + mean compensation), distilled', file, seconds: f.seconds, note: `one-shot ${oneShot.value.toFixed(2)}%; lr ${lr}, budget ${budget} s` };
  fs.writeFileSync(`${dir}/fm-channel.json`, JSON.stringify(rec, null, 1));
  log(`fine-tuned ${f.seconds.toFixed(0)} s → ${file}`);
}

async function fmSparse(): Promise<void> {
  const steps = Number(flag('steps', '300'));
  const base = loadModel(FM);
  const train = await fmData('models/fashion-mnist/train.json');
  const out: Trained[] = [];
  const variants: { name: string; tag: string; opts: Parameters<typeof pruneModel>[1] }[] = [
    { name: 'unstructured 50%', tag: 'u50', opts: { granularity: 'unstructured', sparsity: 0.5 } },
    { name: 'unstructured 80%', tag: 'u80', opts: { granularity: 'unstructured', sparsity: 0.8 } },
    { name: 'unstructured 90%', tag: 'u90', opts: { granularity: 'unstructured', sparsity: 0.9 } },
    { name: '2:4 (n:m)', tag: 'nm24', opts: { granularity: 'n:m', nm: { n: 2, m: 4 } } },
  ];
  for (const v of variants) {
    const p = await pruneModel(base, { ...v.opts, dims: { N: 1 } });
    const f = await finetune(p.model, { train, epochs: 1, batch: 64, lr: 0.01, maxSteps: steps, masks: p.report.masks, seed: 0 });
    const file = `${dir}/fm-${v.tag}.onnx`;
    saveModel(f.model, file);
    const masks = `${dir}/fm-${v.tag}.masks.json`;
    fs.writeFileSync(masks, JSON.stringify(Object.fromEntries([...p.report.masks!].map(([k, m]) => [k, Buffer.from(m).toString('base64')]))));
    out.push({ name: `${v.name}${v.opts.nm ? ' (magnitude per group of 4)' : ' (global magnitude)'}, fine-tuned, masks held`, file, seconds: f.seconds, steps, masks, pattern: v.opts.nm, note: `${(100 * p.report.unstructured!.sparsity).toFixed(1)}% of the prunable weights zero` });
    log(`${v.name}: fine-tuned ${steps} steps in ${f.seconds.toFixed(0)} s`);
  }
  fs.writeFileSync(`${dir}/fm-sparse.json`, JSON.stringify(out, null, 1));
}

async function fmTable(): Promise<void> {
  const base = loadModel(FM);
  const test = await fmData('models/fashion-mnist/test.json');
  const rows: Trained[] = [];
  if (fs.existsSync(`${dir}/fm-channel.json`)) rows.push(JSON.parse(fs.readFileSync(`${dir}/fm-channel.json`, 'utf8')) as Trained);
  if (fs.existsSync(`${dir}/fm-sparse.json`)) rows.push(...(JSON.parse(fs.readFileSync(`${dir}/fm-sparse.json`, 'utf8')) as Trained[]));
  const hitsBase = await top1Hits(base, test);
  const accBase = accuracyEstimate(hitsBase);
  const sizeBase = modelSizes(base);
  const rounds = Number(flag('rounds', '300'));
  console.log(`\nFashion-MNIST ResNet (${FM}), 10,000 test images; speed: 2 threads, ${rounds} interleaved rounds each\n`);
  console.log('| model | fine-tuning | top-1 % [95%] | drop (points) [95%] | FLOPs | params | speed-up b1 | speed-up b32 | on disk | gzip | sparse storage |');
  console.log('|---|---|---|---|---|---|---|---|---|---|---|');
  console.log(`| base | — | ${accBase.value.toFixed(2)} [${accBase.low.toFixed(2)}–${accBase.high.toFixed(2)}] | — | ${(flopCount(base, { dims: { N: 1 } }) / 1e6).toFixed(1)}M | ${parameterCount(base)} | 1 | 1 | ${mb(sizeBase.onDisk)} | ${mb(sizeBase.compressed)} | — |`);
  const notes: string[] = [];
  for (const r of rows) {
    const m = loadModel(r.file);
    const hits = await top1Hits(m, test);
    const a = accuracyEstimate(hits);
    const d = dropEstimate(hitsBase, hits);
    const masks = r.masks ? new Map(Object.entries(JSON.parse(fs.readFileSync(r.masks, 'utf8')) as Record<string, string>).map(([k, v]) => [k, new Uint8Array(Buffer.from(v, 'base64'))])) : undefined;
    const size = modelSizes(m, masks, r.pattern);
    const b1 = await compare(base, m, { runs: rounds, threads: 2, dims: { N: 1 } });
    const b32 = await compare(base, m, { runs: Math.round(rounds / 4), threads: 2, dims: { N: 32 } });
    const tuned = r.steps ? `${r.steps} steps, ${r.seconds.toFixed(0)} s` : `${r.seconds.toFixed(0)} s`;
    console.log(`| ${r.name} | ${tuned} | ${a.value.toFixed(2)} [${a.low.toFixed(2)}–${a.high.toFixed(2)}] | ${d.value.toFixed(2)} [${d.low.toFixed(2)}–${d.high.toFixed(2)}] | ${(flopCount(m, { dims: { N: 1 } }) / 1e6).toFixed(1)}M | ${parameterCount(m)} | ${ratioText(b1.ratio)} | ${ratioText(b32.ratio)} | ${mb(size.onDisk)} | ${mb(size.compressed)} | ${masks ? mb(size.sparseStorage) : '—'} |`);
    notes.push(`- ${r.name}: ${r.note}; medians b1 ${b1.a.latencyMs.p50.toFixed(3)} → ${b1.b.latencyMs.p50.toFixed(3)} ms, b32 ${b32.a.latencyMs.p50.toFixed(2)} → ${b32.b.latencyMs.p50.toFixed(2)} ms`);
  }
  console.log(`\n${notes.join('\n')}`);
}

async function resnet50(): Promise<void> {
  const { buildZooModel } = await import('../src/zoo/index.js');
  const base = buildZooModel('resnet50', { seed: 1 });
  const rounds = Number(flag('rounds', '30'));
  console.log(`\nzoo resnet50 (seeded random weights: speed and size only), batch 1, 2 threads, ${rounds} interleaved rounds; importance l2 (no data)\n`);
  console.log('| model | FLOPs | params | on disk | fp32 speed-up vs base fp32 [95%] | medians (ms) |');
  console.log('|---|---|---|---|---|---|');
  console.log(`| base fp32 | ${(flopCount(base) / 1e9).toFixed(2)}G | ${parameterCount(base)} | ${mb(modelToBytes(base).length)} | 1 | |`);
  const pruned: Record<string, Model> = {};
  for (const keep of [0.7, 0.5]) {
    const tp = performance.now();
    const p = await pruneModel(base, { granularity: 'channel', targetFlops: keep });
    log(`channel pruning to ${keep} of FLOPs: ${((performance.now() - tp) / 1000).toFixed(0)} s`);
    pruned[keep] = p.model;
    const c = await compare(base, p.model, { runs: rounds, threads: 2 });
    console.log(`| channels, ${Math.round(100 * (1 - keep))}% of FLOPs removed | ${(flopCount(p.model) / 1e9).toFixed(2)}G | ${parameterCount(p.model)} | ${mb(modelToBytes(p.model).length)} | ${ratioText(c.ratio)} | ${c.a.latencyMs.p50.toFixed(1)} → ${c.b.latencyMs.p50.toFixed(1)} |`);
  }
  for (const keep of [0.7, 0.5]) {
    const calibration = (await calibrationData('random:16', pruned[keep]!, { limit: 16 })).data;
    const q = (await quantizeModel(pruned[keep]!, { mode: 'static', target: 'cpu', calibration })).model;
    const c = await compare(base, q, { runs: rounds, threads: 2 });
    console.log(`| channels ${Math.round(100 * (1 - keep))}% + static int8 (per-channel, 16 random calibration images) | | | ${mb(modelToBytes(q).length)} | ${ratioText(c.ratio)} | ${c.a.latencyMs.p50.toFixed(1)} → ${c.b.latencyMs.p50.toFixed(1)} |`);
    if (flag('wasm', 'no') === 'yes') {
      try {
        const w = await compare(base, q, { runs: 5, threads: 2, backend: 'wasm' });
        console.log(`|   same on wasm (onnxruntime-web, 2 threads, 5 rounds) | | | | ${ratioText(w.ratio)} | ${w.a.latencyMs.p50.toFixed(1)} → ${w.b.latencyMs.p50.toFixed(1)} |`);
      } catch (e) {
        console.log(`|   wasm: ${(e as Error).message.split('\n')[0]} | | | | | |`);
      }
    }
  }
}

async function bert(): Promise<void> {
  const { buildZooModel } = await import('../src/zoo/index.js');
  const base = buildZooModel('bert-base', { seed: 1 });
  const dims = { batch: 1, seq: 128 };
  const rounds = Number(flag('rounds', '20'));
  const heads = await pruneModel(base, { granularity: 'head', sparsity: 0.5, dims });
  const both = await pruneModel(heads.model, { granularity: 'ffn', sparsity: 0.5, dims });
  log(`heads: ${heads.report.structured!.removed}/${heads.report.structured!.candidates}, ffn: ${both.report.structured!.removed}/${both.report.structured!.candidates}`);
  const simple = (await simplifyModel(both.model, { target: 'cpu' })).model;
  const int8 = (await quantizeModel(simple, { mode: 'dynamic', target: 'cpu' })).model;
  console.log(`\nzoo bert-base (seeded random weights), batch 1, seq 128, 2 threads, ${rounds} interleaved rounds; importance l2; vs ORT fp32 of the unpruned model\n`);
  console.log('| model | FLOPs | params | on disk | speed-up vs base fp32 [95%] | medians (ms) |');
  console.log('|---|---|---|---|---|---|');
  console.log(`| base fp32 | ${(flopCount(base, { dims }) / 1e9).toFixed(2)}G | ${parameterCount(base)} | ${mb(modelToBytes(base).length)} | 1 | |`);
  for (const [name, m] of [['50% heads + 50% FFN, fp32', both.model], ['same, simplified (fusions) fp32', simple], ['same, simplified + dynamic int8', int8]] as const) {
    const c = await compare(base, m, { runs: rounds, threads: 2, dims });
    console.log(`| ${name} | ${(flopCount(m, { dims }) / 1e9).toFixed(2)}G | ${parameterCount(m)} | ${mb(modelToBytes(m).length)} | ${ratioText(c.ratio)} | ${c.a.latencyMs.p50.toFixed(1)} → ${c.b.latencyMs.p50.toFixed(1)} |`);
  }
}

const parts: Record<string, () => Promise<void>> = { 'fm-channel': fmChannel, 'fm-sparse': fmSparse, fm: fmTable, resnet50, bert };
if (!parts[part]) throw new Error(`--part ${part}: one of ${Object.keys(parts).join(', ')}`);
await parts[part]!();
log('done');
