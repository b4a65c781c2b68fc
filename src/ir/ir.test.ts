import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Session } from '../runtime/session.js';
import { DataType, GraphBuilder, Tensor, loadModel, modelToBytes, saveModel, attr } from './index.js';

function tinyModel() {
  const b = new GraphBuilder();
  const x = b.input('x', DataType.FLOAT, ['N', 4]);
  const w = b.floats('w', [4, 3], Array.from({ length: 12 }, (_, i) => i / 10 - 0.5));
  const bias = b.floats('b', [3], [0.1, -0.2, 0.3]);
  const y = b.op('Gemm', [x, w, bias], { alpha: attr.float(1), transB: 0 });
  const z = b.op('Relu', [y]);
  b.output(z, 'y');
  return b.model({ opset: 17 });
}

describe('ir', () => {
  it('round-trips a built model byte-identically and ORT runs it', async () => {
    const m = tinyModel();
    const bytes = modelToBytes(m);
    const m2 = loadModel(bytes);
    expect(m2.graph.nodes.map((n) => n.opType)).toEqual(['Gemm', 'Relu']);
    expect(m2.graph.inputs[0]!.type).toEqual({ kind: 'tensor', elemType: DataType.FLOAT, shape: ['N', 4] });
    expect(modelToBytes(m2)).toEqual(bytes);
    const s = await Session.create(m2);
    const out = await s.run({ x: Tensor.float([2, 4], [1, 2, 3, 4, -1, -2, -3, -4]) });
    const y = out['y']!.toFloat32();
    expect(out['y']!.dims).toEqual([2, 3]);
    // row 0: x·W + b, W[i][j] = (3i+j)/10 - 0.5
    const W = (i: number, j: number) => (3 * i + j) / 10 - 0.5;
    const want = [0, 1, 2].map((j) => Math.max(0, [1, 2, 3, 4].reduce((s, xv, i) => s + xv * W(i, j), 0) + [0.1, -0.2, 0.3][j]!));
    for (let j = 0; j < 3; j++) expect(y[j]).toBeCloseTo(want[j]!, 5);
    await s.release();
  });

  it('saves and loads external data, refusing escaping locations', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'inferopt-ir-'));
    const m = tinyModel();
    const file = path.join(dir, 'm.onnx');
    saveModel(m, file, { externalData: { threshold: 8 } });
    expect(fs.existsSync(path.join(dir, 'm.onnx.data'))).toBe(true);
    const m2 = loadModel(file);
    expect(Array.from(m2.graph.initializers.get('w')!.initializer!.toFloat32())).toEqual(
      Array.from(m.graph.initializers.get('w')!.initializer!.toFloat32()),
    );
    // rewrite the location to escape the folder
    const bytes = fs.readFileSync(file);
    const evil = Buffer.from(bytes.toString('latin1').replaceAll('m.onnx.data', '../x.onnx.d'), 'latin1');
    fs.writeFileSync(path.join(dir, 'evil.onnx'), evil);
    expect(() => loadModel(path.join(dir, 'evil.onnx'))).toThrow(/escapes the model's folder/);
    fs.rmSync(dir, { recursive: true });
  });

  it('rejects bytes that are not ONNX', () => {
    expect(() => loadModel(new TextEncoder().encode('hello world, not a model'))).toThrow(/not a valid ONNX|not an ONNX/);
  });
});
