import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../../test/unit/run-cli.js';
import { GraphBuilder } from '../ir/builder.js';
import { DataType } from '../ir/dtype.js';
import type { Model } from '../ir/graph.js';
import { saveModel } from '../ir/io.js';
import { Tensor } from '../ir/tensor.js';
import { randomInputs, rng } from '../runtime/inputs.js';
import { Session } from '../runtime/session.js';
import { buildZooModel } from '../zoo/index.js';
import { distill, layerPairs } from './distill.js';
import { findLayers, keepEveryKthLayer } from './layers.js';
import { narrowChannels } from './narrow.js';
import { residualMlp, residualData as data } from '../../test/unit/residual-mlp.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'inferopt-distill-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('students from the teacher', () => {
  it('every other layer of a BERT encoder (zoo bert-mini, 4 layers): the student runs and matches the teacher shapes', async () => {
    const teacher = buildZooModel('bert-mini', { seed: 1 });
    expect(findLayers(teacher).length).toBe(4);
    const { student, teacherLayers } = keepEveryKthLayer(teacher, 2);
    expect(teacherLayers).toEqual([1, 3]);
    expect(findLayers(student).map((l) => l.prefix)).toEqual(findLayers(teacher).filter((_, i) => i % 2 === 1).map((l) => l.prefix));
    const feeds = randomInputs(teacher, { dims: { batch: 2, seq: 16 }, seed: 3 }, 100);
    const [ts, ss] = [await Session.create(teacher, { threads: 1 }), await Session.create(student, { threads: 1 })];
    const [to, so] = [await ts.run(feeds), await ss.run(feeds)];
    expect(ss.outputNames).toEqual(ts.outputNames);
    for (const name of ts.outputNames) expect(so[name]!.dims).toEqual(to[name]!.dims);
    expect(student.graph.nodes.length).toBeLessThan(teacher.graph.nodes.length * 0.7);
    await ts.release();
    await ss.release();
  });

  it('every 4th layer drops three consecutive layers: the student computes stem → layer 3 → head exactly', async () => {
    // a layer is Gemm + residual Add (the weightless Relu between layers stays: relu∘relu = relu)
    const teacher = residualMlp(5);
    const { student, teacherLayers } = keepEveryKthLayer(teacher, 4);
    expect(teacherLayers).toEqual([3]);
    const w = (name: string) => teacher.graph.initializers.get(name)!.initializer!.toFloat32();
    const gemm = (x: Float32Array, rows: number, k: number, n: number, wt: Float32Array, bias: Float32Array) =>
      Float32Array.from({ length: rows * n }, (_, i) => bias[i % n]! + Array.from({ length: k }, (_, j) => x[Math.floor(i / n) * k + j]! * wt[j * n + (i % n)]!).reduce((a, b) => a + b, 0));
    const x = data(5, 2).inputs.x!.data as Float32Array;
    const h = gemm(x, 5, 6, 8, w('stem.weight'), w('stem.bias')).map((v) => Math.max(0, v));
    const f = gemm(h, 5, 8, 8, w('layers.3.weight'), w('layers.3.bias'));
    const h3 = h.map((v, i) => Math.max(0, v + f[i]!));
    const expected = gemm(h3, 5, 8, 3, w('head.weight'), w('head.bias'));
    const s = await Session.create(student, { threads: 1 });
    const got = (await s.run({ x: Tensor.float([5, 6], x) })).logits!.toFloat32();
    await s.release();
    expect(got.length).toBe(expected.length);
    got.forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 4));
    // the one-layer student still maps its layer to the teacher's for the hidden-state loss
    expect(layerPairs(student, teacher, teacherLayers).hidden).toEqual([{ student: 'Add_4_out', teacher: 'Add_4_out' }]);
  });

  it('narrower widths through src/prune: the FFN neurons with the smallest weights go, the model still runs', async () => {
    const { student } = keepEveryKthLayer(buildZooModel('bert-mini', { seed: 1 }), 2);
    const before = student.graph.initializers.size;
    const r = narrowChannels(student, 0.5, { batch: 1, seq: 16 });
    expect(r.removed).toBeGreaterThan(0);
    expect(student.graph.initializers.size).toBeGreaterThanOrEqual(before - 4);
    const s = await Session.create(student, { threads: 1 });
    await s.run(randomInputs(student, { dims: { batch: 1, seq: 16 }, seed: 1 }, 100));
    await s.release();
  });

  it('a residual block that changes shape cannot be dropped: one clear reason', () => {
    const b = new GraphBuilder();
    const x = b.input('x', DataType.FLOAT, ['N', 4]);
    let h: ReturnType<typeof b.input> = x;
    for (let i = 0; i < 3; i++) h = b.op('Gemm', [h, b.init(`block${i}.weight`, Tensor.float([4, i === 2 ? 3 : 4], new Array(i === 2 ? 12 : 16).fill(0.1)))]);
    b.output(h, 'y');
    expect(() => keepEveryKthLayer(b.model({ opset: 17 }), 2)).toThrow(/block2 cannot be dropped: its output \[1,3\] differs from its input \[1,4\]/);
  });
});

describe('distillation', () => {
  it('trains a 2-layer student from a 4-layer teacher with soft targets and matched hidden states', async () => {
    const teacher = residualMlp(5);
    const { student, teacherLayers } = keepEveryKthLayer(teacher, 2);
    const r = await distill(student, { teacher, train: data(240, 1), test: data(60, 2), epochs: 3, batch: 16, lr: 0.01, optimizer: { kind: 'adamw' }, threads: 1, layerMap: teacherLayers, hiddenWeight: 1 });
    expect(r.pairs.hidden.length).toBe(2);
    expect(r.history.at(-1)!.loss).toBeLessThan(r.history[0]!.loss);
  });

  it('bad input → one line, exit 2: outputs of different shapes, a layer map out of range', async () => {
    const feats = new Float32Array(60 * 6).map((_, i) => Math.sin(i));
    const labels = new BigInt64Array(60).map((_, i) => BigInt(i % 3));
    const npy = (file: string, descr: string, shape: number[], a: ArrayBufferView) => {
      let header = `{'descr': '<${descr}', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
      while ((10 + header.length + 1) % 64 !== 0) header += ' ';
      const head = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, 0, 0]);
      head.writeUInt16LE(header.length + 1, 8);
      fs.writeFileSync(path.join(dir, file), Buffer.concat([head, Buffer.from(header + '\n', 'latin1'), Buffer.from(a.buffer)]));
    };
    npy('x.npy', 'f4', [60, 6], feats);
    npy('y.npy', 'i8', [60], labels);
    const spec = path.join(dir, 'data.json');
    fs.writeFileSync(spec, JSON.stringify({ source: { type: 'npy', path: 'x.npy', labels: 'y.npy' } }));
    const t = path.join(dir, 't.onnx');
    const s2 = path.join(dir, 's2.onnx');
    saveModel(residualMlp(5), t);
    saveModel(residualMlp(6, 2, 2), s2);
    const common = ['--data', spec, '--test', spec, '-o', path.join(dir, 'out.onnx'), '--threads', '1', '--batch', '8'];
    const shape = await runCli('distill', '--teacher', t, '--student', s2, ...common);
    expect(shape.code).toBe(2);
    expect(shape.stderr.trim().split('\n').filter((l) => !l.startsWith('#') && l.trim() && !l.includes('loading')).at(-1)).toMatch(/^inferopt: teacher and student outputs differ in shape: teacher 'logits' \[2,3\], student 'logits' \[2,2\]$/);
    const range = await runCli('distill', '--teacher', t, '--student-from-teacher', 'every:2', '--layer-map', '0:1,1:7', ...common);
    expect(range.code).toBe(2);
    expect(range.stderr).toMatch(/inferopt: layer map 1:7 is out of range: the teacher has 4 layers \(0–3\)\n/);
    expect(range.stderr).not.toMatch(/\n\s+at /);
  });
});
