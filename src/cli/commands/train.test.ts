import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../../../test/unit/run-cli.js';
import { GraphBuilder } from '../../ir/builder.js';
import { DataType } from '../../ir/dtype.js';
import { loadModel, saveModel } from '../../ir/io.js';
import { Tensor } from '../../ir/tensor.js';
import { Session } from '../../runtime/session.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'inferopt-train-cli-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A minimal .npy writer (v1 header, little-endian, C order). */
function writeNpy(file: string, descr: string, shape: number[], data: ArrayBufferView): void {
  let header = `{'descr': '<${descr}', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  while ((10 + header.length + 1) % 64 !== 0) header += ' ';
  header += '\n';
  const head = new Uint8Array(10);
  head.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  new DataView(head.buffer).setUint16(8, header.length, true);
  fs.writeFileSync(file, Buffer.concat([head, Buffer.from(header, 'latin1'), Buffer.from(data.buffer, data.byteOffset, data.byteLength)]));
}

// 3 classes, the class is the largest of 3 features
const n = 96;
const x = new Float32Array(n * 3);
const y = new BigInt64Array(n);
for (let i = 0; i < n; i++) {
  const c = i % 3;
  for (let j = 0; j < 3; j++) x[i * 3 + j] = (j === c ? 1.5 : 0) + Math.sin(i * 7 + j) * 0.4;
  y[i] = BigInt(c);
}
writeNpy(path.join(dir, 'x.npy'), 'f4', [n, 3], x);
writeNpy(path.join(dir, 'y.npy'), 'i8', [n], y);
fs.writeFileSync(path.join(dir, 'data.json'), JSON.stringify({ source: { type: 'npy', path: 'x.npy', labels: 'y.npy' } }));

function model(file: string, lastOp = 'Identity'): string {
  const b = new GraphBuilder();
  const xi = b.input('x', DataType.FLOAT, ['N', 3]);
  const h = b.op('Gemm', [xi, b.floats('w', [3, 3], [0.1, 0, 0, 0, 0.1, 0, 0, 0, 0.2]), b.floats('b', [3], [0, 0, 0])]);
  b.output(b.op(lastOp, [h], {}, { name: 'last' }), 'logits');
  saveModel(b.model({ opset: 17 }), file);
  return file;
}

describe('inferopt train', () => {
  it('trains, logs every epoch and writes an inference model ORT runs', async () => {
    const out = path.join(dir, 'trained.onnx');
    const log = path.join(dir, 'train.log');
    const r = await runCli('train', model(path.join(dir, 'm.onnx')), '--data', path.join(dir, 'data.json'), '-o', out, '--epochs', '3', '--batch', '8', '--lr', '0.2', '--log', log, '--threads', '1');
    expect(r.code, r.stderr).toBe(0);
    const lines = fs.readFileSync(log, 'utf8').trim().split('\n');
    expect(lines.filter((l) => l.startsWith('epoch ')).length).toBe(3);
    expect(lines[lines.length - 1]).toMatch(/wrote .*held-out accuracy/);
    const trained = loadModel(out);
    expect(trained.graph.inputs.map((v) => v.name)).toEqual(['x']);
    const s = await Session.create(trained, { threads: 1 });
    const logits = (await s.run({ x: Tensor.float([1, 3], [0, 0, 2]) })).logits!.toFloat32();
    expect(logits.indexOf(Math.max(...logits))).toBe(2);
  });

  it('exits 2 naming the op and node when an op has no gradient rule', async () => {
    const r = await runCli('train', model(path.join(dir, 'round.onnx'), 'Round'), '--data', path.join(dir, 'data.json'), '-o', path.join(dir, 'x.onnx'), '--batch', '8', '--threads', '1');
    expect(r.code).toBe(2);
    expect(r.stderr, r.stderr).toMatch(/no gradient rule for op 'Round' \(node 'last'\)/);
  });

  it('exits 2 on bad flags', async () => {
    const m = model(path.join(dir, 'm2.onnx'));
    const bad = await runCli('train', m, '--data', path.join(dir, 'data.json'), '-o', path.join(dir, 'y.onnx'), '--optimizer', 'lion');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--optimizer must be sgd or adamw/);
    // training flags are checked before the data is read: one line on stderr, no '# … samples' log line first
    for (const [flag, value, message] of [['--average-last', '2', "--average-last must be a fraction in (0, 1], not '2'"], ['--average-last', '1/2', "--average-last must be a fraction in (0, 1], not '1/2'"], ['--average-last', ' ', "--average-last must be a fraction in (0, 1], not ' '"], ['--epochs', '0', "--epochs must be an integer ≥ 1, not '0'"]]) {
      const r = await runCli('train', m, '--data', path.join(dir, 'data.json'), '-o', path.join(dir, 'y.onnx'), flag!, value!);
      expect(r.code).toBe(2);
      expect(r.stderr).toBe(`inferopt: ${message}\n`);
    }
    const missing = await runCli('train', path.join(dir, 'nope.onnx'), '--data', path.join(dir, 'data.json'), '-o', path.join(dir, 'z.onnx'));
    expect(missing.code).toBe(2);
  });
});
