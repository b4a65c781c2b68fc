import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../test/unit/run-cli.js';
import { DataType, GraphBuilder, Tensor, saveModel } from '../ir/index.js';
import { encodeTensorForTest } from './test-tensor.js';
import { compareModels } from '../quantize/fidelity.js';
import { compareArrays, compareTensors, top1Agreement } from './compare.js';
import { verifyModels } from './verify.js';

function classifier(bias: number[]) {
  const b = new GraphBuilder();
  const x = b.input('x', DataType.FLOAT, ['N', 4]);
  const w = b.floats('w', [4, 3], Array.from({ length: 12 }, (_, i) => Math.cos(i)));
  b.output(b.op('Gemm', [x, w, b.floats('b', [3], bias)]), 'logits');
  return b.model();
}

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  process.exitCode = undefined; // verify sets it to 1 on failure; main() reads it back
  const r = await runCli(...args);
  process.exitCode = undefined;
  return { code: r.code, out: r.stdout, err: r.stderr };
}

describe('compare', () => {
  it('measures abs/rel error, cosine, top-1 and counts elements outside atol + rtol·|ref|', () => {
    const ref = Tensor.float([2, 3], [1, 2, 3, 3, 2, 1]);
    const cand = Tensor.float([2, 3], [1, 2, 3.01, 3, 2, 4]);
    const d = compareTensors('y', ref, cand, { atol: 1e-3, rtol: 1e-3 });
    expect(d.maxAbs).toBeCloseTo(3, 5);
    expect(d.maxRel).toBeCloseTo(3, 5);
    expect(d.mismatches).toBe(2);
    expect(d.top1).toBe(0.5);
    expect(d.cosine).toBeLessThan(1);
    expect(top1Agreement(Float32Array.from([0, 1, 1, 0]), Float32Array.from([0, 1, 0, 1]), 2)).toBe(0.5);
  });

  it('is NaN-aware: an all-NaN candidate is infinitely far by every measure; NaN on both sides agrees', async () => {
    const d = compareArrays([0.5, -2, 3], [NaN, NaN, NaN]);
    expect(d).toMatchObject({ maxAbs: Infinity, relMaxDiff: Infinity, meanAbs: Infinity, sqnr: -Infinity, cosine: 0, mismatches: 3, nanCand: 3 });
    expect(compareArrays([NaN, 1, Infinity], [NaN, 1, Infinity])).toMatchObject({ maxAbs: 0, mismatches: 0, sqnr: Infinity, cosine: 1 });
    // through the models: the quantization fidelity check reported error 0 for an all-NaN output
    const b = new GraphBuilder();
    const x = b.input('x', DataType.FLOAT, [4, 3]);
    b.output(b.op('Relu', [x]), 'y');
    const nanModel = new GraphBuilder();
    const x2 = nanModel.input('x', DataType.FLOAT, [4, 3]);
    nanModel.output(nanModel.op('Sqrt', [nanModel.op('Sub', [nanModel.op('Neg', [nanModel.op('Abs', [x2])]), nanModel.floats('one', [1], [1])])]), 'y');
    const [f] = await compareModels(b.model(), nanModel.model(), [{ x: Tensor.float([4, 3], Array.from({ length: 12 }, (_, i) => i - 6)) }]);
    expect(f).toMatchObject({ maxAbs: Infinity, relMaxDiff: Infinity, sqnr: -Infinity, cosine: 0, nanCand: 12 });
  });

  it('class outputs: top-1, top-5 and KL; a scale-relative max error for every output', () => {
    const d = compareArrays([0, 1, 2, 3, 4, 5, 6], [6, 5, 4, 3, 2, 1, 0], { classes: 7 });
    expect(d.top1).toBe(0);
    expect(d.top5).toBe(0); // class 6 ranks last in the candidate
    expect(d.kl).toBeGreaterThan(1);
    expect(compareArrays([10, -20], [11, -20]).relMaxDiff).toBeCloseTo(1 / 20, 9);
  });

  it('flags NaN on one side and shape mismatches', () => {
    const d = compareTensors('y', Tensor.float([2], [1, NaN]), Tensor.float([2], [1, 2]), { atol: 1, rtol: 0 });
    expect(d.maxAbs).toBe(Infinity);
    expect(d.mismatches).toBe(1);
    expect(compareTensors('y', Tensor.float([2], [1, 2]), Tensor.float([1, 2], [1, 2]), { atol: 1, rtol: 0 }).problem).toMatch(/shape/);
  });
});

describe('verifyModels and inferopt verify', () => {
  it('passes identical models and fails a perturbed one', async () => {
    const ok = await verifyModels(classifier([0, 0, 0]), classifier([0, 0, 0]), { shapes: { x: [5, 4] } });
    expect(ok.ok).toBe(true);
    expect(ok.outputs[0]!.maxAbs).toBe(0);
    const bad = await verifyModels(classifier([0, 0, 0]), classifier([0, 0.01, 0]), { shapes: { x: [5, 4] } });
    expect(bad.ok).toBe(false);
    expect(bad.failures[0]).toMatch(/logits: 15 of 45 elements outside tolerance/);
    expect((await verifyModels(classifier([0, 0, 0]), classifier([0, 0.01, 0]), { atol: 0.02 })).ok).toBe(true);
  });

  it('CLI: exit 0 within tolerance, 1 outside, 2 on bad input; reads --data test sets', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'inferopt-verify-'));
    const a = path.join(dir, 'a.onnx');
    const c = path.join(dir, 'c.onnx');
    saveModel(classifier([0, 0, 0]), a);
    saveModel(classifier([0, 0.5, 0]), c);
    expect((await cli(['verify', a, a, '--shape', 'x=2x4'])).code).toBe(0);
    const res = await cli(['verify', a, c, '--json']);
    expect(res.code).toBe(1);
    const report = JSON.parse(res.out);
    expect(report.ok).toBe(false);
    expect(report.outputs[0].top1).toBeTypeOf('number');
    expect((await cli(['verify', a, c, '--atol', '0.6'])).code).toBe(0);
    expect((await cli(['verify', a, path.join(dir, 'missing.onnx')])).code).toBe(2);
    const set = path.join(dir, 'data', 'test_data_set_0');
    fs.mkdirSync(set, { recursive: true });
    fs.writeFileSync(path.join(set, 'input_0.pb'), encodeTensorForTest(Tensor.float([1, 4], [1, 2, 3, 4], 'x')));
    const withData = await cli(['verify', a, c, '--data', path.join(dir, 'data'), '--json']);
    expect(JSON.parse(withData.out).samples).toBe(1);
    fs.rmSync(dir, { recursive: true });
  });
});
