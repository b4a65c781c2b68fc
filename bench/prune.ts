/**
 * Pruning on ONNX (issue 12): what each granularity buys on ONNX Runtime CPU, measured side by side.
 *
 *   # Fashion-MNIST ResNet (committed model, real data): prune + fine-tune, models saved in tmp/bench-prune/
 *   cpu-run npx tsx bench/prune.ts --part fm-channel [--budget 300]       # 50% of FLOPs, ≤ budget s fine-tuning
 *   cpu-run npx tsx bench/prune.ts --part fm-sparse [--steps 300]         # unstructured 50/80/90%, 2:4, masks held
 *   measure-run npx tsx bench/prune.ts --part fm                          # the table: accuracy, speed b1/b32, sizes
 *   cpu-run npx tsx bench/prune.ts --part resnet50-build                  # zoo resnet50: channels 30%/50% FLOPs, + static int8 (cpu, wasm)
 *   measure-run npx tsx bench/prune.ts --part resnet50                    #   … timed: node and wasm, 2 threads
 *   cpu-run npx tsx bench/prune.ts --part bert-build                      # zoo bert-base: 50% heads + 50% FFN, fp32 and dynamic int8
 *   measure-run npx tsx bench/prune.ts --part bert                        #   … timed at seq 128, 2 threads
 *   cpu-run npx tsx bench/prune.ts --part spam [--budget 420]             # spam transformer: 50% heads + 50% FFN, distilled fine-tune
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
  const p = await pruneModel(base, { granularity: 'channel', criterion: 'fluctuation', targetFlops: 0.5, align: 8, means: st.means, scores: { variances: st.variances }, dims: { N: 1 } });
  const s = p.report.structured!;
  log(`channel: ${s.removed}/${s.candidates} groups, FLOPs ${s.flops[0]} → ${s.flops[1]} (${(s.flops[1] / s.flops[0]).toFixed(3)}), params ${s.params[0]} → ${s.params[1]}`);
  const oneShot = accuracyEstimate(await top1Hits(p.model, test));
  log(`one-shot (mean compensation, no fine-tuning): ${oneShot.value.toFixed(2)}%`);
  const f = await finetune(p.model, { train, epochs: 3, batch: 64, lr, seconds: budget, teacher: base, seed: 0, onEpoch: (e) => log(`  epoch ${e.epoch}: loss ${e.loss.toFixed(4)} (${e.seconds.toFixed(0)} s, ${e.samplesPerSecond.toFixed(0)} samples/s)`) });
  const file = `${dir}/fm-channel50.onnx`;
  saveModel(f.model, file);
  const rec: Trained = { name: 'channel, 50% of FLOPs (fluctuation + mean compensation, --align 8), distilled', file, seconds: f.seconds, note: `one-shot ${oneShot.value.toFixed(2)}%; lr ${lr}, budget ${budget} s` };
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
    const b1 = await compare(base, m, { runs: rounds, warmup: 20, threads: 2, dims: { N: 1 } });
    const b32 = await compare(base, m, { runs: rounds, warmup: 20, threads: 2, dims: { N: 32 } });
    const tuned = r.steps ? `${r.steps} steps, ${r.seconds.toFixed(0)} s` : `${r.seconds.toFixed(0)} s`;
    console.log(`| ${r.name} | ${tuned} | ${a.value.toFixed(2)} [${a.low.toFixed(2)}–${a.high.toFixed(2)}] | ${d.value.toFixed(2)} [${d.low.toFixed(2)}–${d.high.toFixed(2)}] | ${(flopCount(m, { dims: { N: 1 } }) / 1e6).toFixed(1)}M | ${parameterCount(m)} | ${ratioText(b1.ratio)} | ${ratioText(b32.ratio)} | ${mb(size.onDisk)} | ${mb(size.compressed)} | ${masks ? mb(size.sparseStorage) : '—'} |`);
    notes.push(`- ${r.name}: ${r.note}; medians b1 ${b1.a.latencyMs.p50.toFixed(3)} → ${b1.b.latencyMs.p50.toFixed(3)} ms, b32 ${b32.a.latencyMs.p50.toFixed(2)} → ${b32.b.latencyMs.p50.toFixed(2)} ms`);
  }
  console.log(`\n${notes.join('\n')}`);
}

/** Agreement of `m` with `base` on `n` seeded random inputs: top-1 agreement and mean cosine of the outputs. */
async function fidelity(base: Model, m: Model, n: number, dims?: Record<string, number>): Promise<{ agree: number; cosine: number }> {
  const { randomInputs } = await import('../src/runtime/inputs.js');
  const { Session } = await import('../src/runtime/session.js');
  const [sa, sb] = [await Session.create(base, { threads: 2, dims }), await Session.create(m, { threads: 2, dims })];
  const out = base.graph.outputs[0]!.name;
  let agree = 0;
  let cos = 0;
  try {
    for (let i = 0; i < n; i++) {
      const feeds = randomInputs(base, { seed: 1000 + i, dims });
      const [ya, yb] = [(await sa.run(feeds, [out]))[out]!.toFloat32(), (await sb.run(feeds, [out]))[out]!.toFloat32()];
      let [dot, na, nb, ia, ib] = [0, 0, 0, 0, 0];
      for (let j = 0; j < ya.length; j++) {
        dot += ya[j]! * yb[j]!;
        na += ya[j]! ** 2;
        nb += yb[j]! ** 2;
        if (ya[j]! > ya[ia]!) ia = j;
        if (yb[j]! > yb[ib]!) ib = j;
      }
      cos += dot / Math.sqrt(na * nb) / n;
      if (ia === ib) agree += 1 / n;
    }
  } finally {
    await sa.release();
    await sb.release();
  }
  return { agree, cosine: cos };
}

const R50 = { seed: 1 };
const r50file = (tag: string) => `${dir}/r50-${tag}.onnx`;

/** Builds the pruned and quantized resnet50 variants into tmp/bench-prune (cpu-run; `--part resnet50` times them). */
async function resnet50Build(): Promise<void> {
  const { buildZooModel } = await import('../src/zoo/index.js');
  const base = buildZooModel('resnet50', R50);
  const info: Record<string, string> = {};
  for (const keep of [0.7, 0.5]) {
    const tag = `c${Math.round(100 * (1 - keep))}`;
    const tp = performance.now();
    const p = await pruneModel(base, { granularity: 'channel', targetFlops: keep, align: 8 });
    const s = p.report.structured!;
    log(`channel pruning to ${keep} of FLOPs: ${s.removed}/${s.candidates} groups, ${((performance.now() - tp) / 1000).toFixed(0)} s`);
    saveModel(p.model, r50file(tag));
    const f = await fidelity(base, p.model, 16);
    info[tag] = `fidelity to the unpruned model on 16 random images: top-1 agreement ${(100 * f.agree).toFixed(0)}%, output cosine ${f.cosine.toFixed(3)} (random weights, no fine-tuning)`;
    log(`${tag}: ${info[tag]}`);
    for (const target of ['cpu', 'wasm'] as const) {
      const calibration = (await calibrationData('random:16', p.model, { limit: 16 })).data;
      const simple = (await simplifyModel(p.model, { target })).model;
      const q = (await quantizeModel(simple, { mode: 'static', target, calibration })).model;
      saveModel(q, r50file(`${tag}-int8${target === 'wasm' ? '-wasm' : ''}`));
      log(`${tag} static int8 (${target}): ${mb(modelToBytes(q).length)}`);
    }
  }
  fs.writeFileSync(`${dir}/r50.json`, JSON.stringify(info, null, 1));
}

async function resnet50(): Promise<void> {
  const { buildZooModel } = await import('../src/zoo/index.js');
  const base = buildZooModel('resnet50', R50);
  const info = JSON.parse(fs.readFileSync(`${dir}/r50.json`, 'utf8')) as Record<string, string>;
  const rounds = Number(flag('rounds', '30'));
  const wasmRounds = Number(flag('wasm-rounds', '8'));
  console.log(`\nzoo resnet50 (seeded random weights: speed, size and fidelity only — no ImageNet here), batch 1, 2 threads; node ${rounds} interleaved rounds, wasm ${wasmRounds}; importance l2 (no data), --align 8\n`);
  console.log('| model | FLOPs | params | on disk | node: speed-up vs base fp32 [95%] | node medians (ms) |');
  console.log('|---|---|---|---|---|---|');
  console.log(`| base fp32 | ${(flopCount(base) / 1e9).toFixed(2)}G | ${parameterCount(base)} | ${mb(modelToBytes(base).length)} | 1 | |`);
  for (const tag of ['c30', 'c50', 'c30-int8', 'c50-int8']) {
    const m = loadModel(r50file(tag));
    const c = await compare(base, m, { runs: rounds, threads: 2 });
    const name = tag.endsWith('int8') ? `channels ${tag.slice(1, 3)}% of FLOPs removed + static int8 (per-channel, 16 random calibration images)` : `channels, ${tag.slice(1)}% of FLOPs removed`;
    console.log(`| ${name} | ${tag.endsWith('int8') ? '' : `${(flopCount(m) / 1e9).toFixed(2)}G`} | ${tag.endsWith('int8') ? '' : parameterCount(m)} | ${mb(fs.statSync(r50file(tag)).size)} | ${ratioText(c.ratio)} | ${c.a.latencyMs.p50.toFixed(1)} → ${c.b.latencyMs.p50.toFixed(1)} |`);
  }
  console.log('\nwasm (onnxruntime-web in node, 2 threads; int8 made with --target wasm: uint8 Conv weights)\n');
  console.log('| model | on disk | wasm: speed-up vs base fp32 on wasm [95%] | wasm medians (ms) |');
  console.log('|---|---|---|---|');
  for (const tag of ['c50', 'c30-int8-wasm', 'c50-int8-wasm']) {
    const c = await compare(base, r50file(tag), { runs: wasmRounds, warmup: 2, threads: 2, backend: 'wasm' });
    console.log(`| ${tag} | ${mb(fs.statSync(r50file(tag)).size)} | ${ratioText(c.ratio)} | ${c.a.latencyMs.p50.toFixed(1)} → ${c.b.latencyMs.p50.toFixed(1)} |`);
  }
  console.log(`\n${Object.entries(info).map(([k, v]) => `- ${k}: ${v}`).join('\n')}`);
}

const BERT = { seed: 1 };
const BERT_DIMS = { batch: 1, seq: 128 };
const bertFile = (tag: string) => `${dir}/bert-${tag}.onnx`;

/** Builds the pruned bert-base variants into tmp/bench-prune (cpu-run; `--part bert` times them). */
async function bertBuild(): Promise<void> {
  const { buildZooModel } = await import('../src/zoo/index.js');
  const base = buildZooModel('bert-base', BERT);
  const dims = BERT_DIMS;
  const heads = await pruneModel(base, { granularity: 'head', sparsity: 0.5, dims });
  const both = await pruneModel(heads.model, { granularity: 'ffn', sparsity: 0.5, dims });
  log(`heads: ${heads.report.structured!.removed}/${heads.report.structured!.candidates}, ffn: ${both.report.structured!.removed}/${both.report.structured!.candidates}`);
  saveModel(both.model, bertFile('h50f50'));
  const simple = (await simplifyModel(both.model, { target: 'cpu' })).model;
  saveModel(simple, bertFile('h50f50-simple'));
  const int8 = (await quantizeModel(simple, { mode: 'dynamic', target: 'cpu' })).model;
  saveModel(int8, bertFile('h50f50-int8'));
  const baseInt8 = (await quantizeModel((await simplifyModel(base, { target: 'cpu' })).model, { mode: 'dynamic', target: 'cpu' })).model;
  saveModel(baseInt8, bertFile('base-int8'));
  const f = await fidelity(base, both.model, 4, dims);
  fs.writeFileSync(`${dir}/bert.json`, JSON.stringify({ fidelity: `fp32 pruned vs unpruned on 4 random inputs: output cosine ${f.cosine.toFixed(3)} (random weights, no fine-tuning)` }));
  log('built');
}

async function bert(): Promise<void> {
  const { buildZooModel } = await import('../src/zoo/index.js');
  const base = buildZooModel('bert-base', BERT);
  const dims = BERT_DIMS;
  const rounds = Number(flag('rounds', '20'));
  console.log(`\nzoo bert-base (seeded random weights), batch 1, seq 128, 2 threads, ${rounds} interleaved rounds; importance l2; every ratio vs ORT fp32 (level all) of the unpruned model\n`);
  console.log('| model | FLOPs | params | on disk | speed-up vs base fp32 [95%] | medians (ms) |');
  console.log('|---|---|---|---|---|---|');
  console.log(`| base fp32 | ${(flopCount(base, { dims }) / 1e9).toFixed(2)}G | ${parameterCount(base)} | ${mb(modelToBytes(base).length)} | 1 | |`);
  for (const [name, tag] of [['unpruned, simplified + dynamic int8 (for reference)', 'base-int8'], ['50% heads + 50% FFN, fp32', 'h50f50'], ['same, simplified (fusions) fp32', 'h50f50-simple'], ['same, simplified + dynamic int8', 'h50f50-int8']] as const) {
    const m = loadModel(bertFile(tag));
    const c = await compare(base, m, { runs: rounds, threads: 2, dims });
    console.log(`| ${name} | ${(flopCount(m, { dims }) / 1e9).toFixed(2)}G | ${parameterCount(m)} | ${mb(fs.statSync(bertFile(tag)).size)} | ${ratioText(c.ratio)} | ${c.a.latencyMs.p50.toFixed(1)} → ${c.b.latencyMs.p50.toFixed(1)} |`);
  }
  console.log(`\n- ${(JSON.parse(fs.readFileSync(`${dir}/bert.json`, 'utf8')) as { fidelity: string }).fidelity}`);
}

const SPAM = 'models/spam-bert/model.onnx';

/**
 * The committed spam transformer (SpamAssassin, real data): half its heads and half its FFN neurons removed
 * (fluctuation importance + mean compensation from 512 training emails), then fine-tuned against the unpruned
 * model's logits (AdamW) within `--budget` seconds; top-1 on the 1,199 held-out emails with a paired drop.
 */
async function spam(): Promise<void> {
  const budget = Number(flag('budget', '420'));
  const lr = Number(flag('lr', '1e-4'));
  const amount = Number(flag('amount', '0.5'));
  const base = loadModel(SPAM);
  const names = ['input_ids', 'attention_mask'];
  const train = await collectTensorData(await openDataset('models/spam-bert/train.json'), names);
  const test = await collectTensorData(await openDataset('models/spam-bert/test.json'), names);
  const stats = async (m: Model) => readerStats(m, statBatches(train, 512));
  let st = await stats(base);
  const heads = await pruneModel(base, { granularity: 'head', criterion: 'fluctuation', sparsity: amount, means: st.means, scores: { variances: st.variances } });
  st = await stats(heads.model);
  const both = await pruneModel(heads.model, { granularity: 'ffn', criterion: 'fluctuation', sparsity: amount, means: st.means, scores: { variances: st.variances } });
  const [h, f] = [heads.report.structured!, both.report.structured!];
  log(`heads ${h.removed}/${h.candidates}, ffn ${f.removed}/${f.candidates}; params ${h.params[0]} → ${f.params[1]}`);
  const hitsBase = await top1Hits(base, test);
  const oneShot = await top1Hits(both.model, test);
  log(`one-shot: ${accuracyEstimate(oneShot).value.toFixed(2)}% (base ${accuracyEstimate(hitsBase).value.toFixed(2)}%)`);
  const t = await finetune(both.model, { train, epochs: 1, batch: 32, lr, optimizer: { kind: 'adamw', weightDecay: 0.01 }, schedule: { kind: 'cosine', warmupSteps: 20 }, seconds: budget, teacher: base, seed: 0, onEpoch: (e) => log(`  epoch ${e.epoch}: loss ${e.loss.toFixed(4)} (${e.seconds.toFixed(0)} s, ${e.samplesPerSecond.toFixed(1)} samples/s)`) });
  const file = `${dir}/spam-h${Math.round(100 * amount)}f${Math.round(100 * amount)}.onnx`;
  saveModel(t.model, file);
  const hits = await top1Hits(t.model, test);
  const [a0, a1, d, d0] = [accuracyEstimate(hitsBase), accuracyEstimate(hits), dropEstimate(hitsBase, hits), dropEstimate(hitsBase, oneShot)];
  console.log(`\nspam transformer (${SPAM}), 1,199 held-out emails; ${Math.round(100 * amount)}% of heads + ${Math.round(100 * amount)}% of FFN neurons removed\n`);
  console.log('| model | fine-tuning | params | top-1 % [95%] | drop (points) [95%] |');
  console.log('|---|---|---|---|---|');
  console.log(`| base | — | ${parameterCount(base)} | ${a0.value.toFixed(2)} [${a0.low.toFixed(2)}–${a0.high.toFixed(2)}] | — |`);
  console.log(`| pruned, one-shot (mean compensation) | — | ${parameterCount(both.model)} | ${accuracyEstimate(oneShot).value.toFixed(2)} | ${d0.value.toFixed(2)} [${d0.low.toFixed(2)}–${d0.high.toFixed(2)}] |`);
  console.log(`| pruned + distilled fine-tune (AdamW lr ${lr}, batch 32) | ${t.seconds.toFixed(0)} s (budget ${budget} s) | ${parameterCount(t.model)} | ${a1.value.toFixed(2)} [${a1.low.toFixed(2)}–${a1.high.toFixed(2)}] | ${d.value.toFixed(2)} [${d.low.toFixed(2)}–${d.high.toFixed(2)}] |`);
  console.log(`\nmodel: ${file}`);
}

const parts: Record<string, () => Promise<void>> = { 'fm-channel': fmChannel, 'fm-sparse': fmSparse, fm: fmTable, 'resnet50-build': resnet50Build, resnet50, 'bert-build': bertBuild, bert, spam };
if (!parts[part]) throw new Error(`--part ${part}: one of ${Object.keys(parts).join(', ')}`);
await parts[part]!();
log('done');
