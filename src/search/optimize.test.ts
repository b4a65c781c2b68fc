import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataType, GraphBuilder, loadModel, saveModel } from '../ir/index.js';
import { rng } from '../runtime/inputs.js';
import { runCli } from '../../test/unit/run-cli.js';

/** A small classifier: x[1,64] → MatMul → Relu → MatMul → Softmax over 10 classes. */
function tinyClassifier(file: string): void {
  const r = rng(3);
  const w = (k: number, n: number) => Array.from({ length: k * n }, () => (r() - 0.5) * 0.5);
  const b = new GraphBuilder();
  const x = b.input('x', DataType.FLOAT, [1, 64]);
  const h = b.op('Relu', [b.op('MatMul', [x, b.floats('w1', [64, 64], w(64, 64))])]);
  const y = b.op('MatMul', [h, b.floats('w2', [64, 10], w(64, 10))]);
  b.output(b.op('Softmax', [y], { axis: -1 }), 'probs');
  saveModel(b.model({ opset: 17 }), file);
}

let dir: string;
let model: string;
const fast = ['--runs', '5', '--limit', '8'];

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'inferopt-optimize-'));
  model = path.join(dir, 'tiny.onnx');
  tinyClassifier(model);
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('inferopt optimize', () => {
  it('searches, writes every output, and --recipe rebuilds the same graph', async () => {
    const a = path.join(dir, 'a');
    const r1 = await runCli('optimize', model, '-o', a, '--budget', '6', ...fast);
    expect(r1.stderr).toMatch(/metric: fidelity\.top1Agreement/);
    expect(r1.code).toBe(0);
    expect(fs.readdirSync(a).sort()).toEqual(['recipe.json', 'report.html', 'report.md', 'results.json', 'tiny.optimized.onnx']);
    const results = JSON.parse(fs.readFileSync(path.join(a, 'results.json'), 'utf8'));
    expect(results.candidates.length).toBeGreaterThanOrEqual(5); // baseline + the 6-trial budget, or fewer if exhausted
    expect(results.candidates.length).toBeLessThanOrEqual(7);
    expect(results.metric.source).toBe('fidelity');
    expect(fs.readFileSync(path.join(a, 'report.md'), 'utf8')).toMatch(/fidelity to the baseline model on 8 seeded random inputs/);

    const b = path.join(dir, 'b');
    const r2 = await runCli('optimize', model, '--recipe', path.join(a, 'recipe.json'), '-o', b, ...fast);
    expect(r2.code).toBe(0);
    expect(fs.readFileSync(path.join(b, 'tiny.optimized.onnx'))).toEqual(fs.readFileSync(path.join(a, 'tiny.optimized.onnx')));
    expect(JSON.parse(fs.readFileSync(path.join(b, 'recipe.json'), 'utf8')).recipe).toEqual(JSON.parse(fs.readFileSync(path.join(a, 'recipe.json'), 'utf8')).recipe);
  });

  it('applies a hand-written recipe (dynamic int8) and reproduces it from its own recipe.json', async () => {
    const recipe = { format: 'inferopt-recipe', version: 1, recipe: { target: 'cpu', steps: [{ pass: 'simplify', params: {} }, { pass: 'quantize-dynamic', params: { perChannel: true } }], session: { threads: 1, optLevel: 'all', executionMode: 'sequential' } } };
    fs.writeFileSync(path.join(dir, 'r.json'), JSON.stringify(recipe));
    const c = path.join(dir, 'c');
    const d = path.join(dir, 'd');
    expect((await runCli('optimize', model, '--recipe', path.join(dir, 'r.json'), '-o', c, ...fast)).code).toBe(0);
    expect((await runCli('optimize', model, '--recipe', path.join(c, 'recipe.json'), '-o', d, ...fast)).code).toBe(0);
    const m = loadModel(path.join(c, 'tiny.optimized.onnx'));
    expect(m.graph.nodes.filter((n) => n.opType === 'DynamicQuantizeMatMul')).toHaveLength(2);
    // same session settings as the baseline: the headline speed-up was re-measured side by side
    const side = JSON.parse(fs.readFileSync(path.join(c, 'results.json'), 'utf8')).sideBySide;
    expect(side.low).toBeLessThanOrEqual(side.speedup);
    expect(side.high).toBeGreaterThanOrEqual(side.speedup);
    expect(fs.readFileSync(path.join(d, 'tiny.optimized.onnx'))).toEqual(fs.readFileSync(path.join(c, 'tiny.optimized.onnx')));
  });

  it('exits 3 with an explanation when a goal cannot be met, and still writes the report', async () => {
    const e = path.join(dir, 'e');
    const r = await runCli('optimize', model, '-o', e, '--max-latency', '0.00001', '--budget', '3', ...fast);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/inferopt: goals not met — max-latency not met .*closest: #\d+ .*latency p50 [\d.]+ ms > 0 ms .*Needed: another [\d.]+× speed-up/);
    const results = JSON.parse(fs.readFileSync(path.join(e, 'results.json'), 'utf8'));
    expect(results.met).toBe(false);
    expect(fs.readFileSync(path.join(e, 'report.html'), 'utf8')).toMatch(/Goal not met: max-latency not met/);
  });

  it('refuses bad goals and an output folder it did not write', async () => {
    const r = await runCli('optimize', model, '-o', path.join(dir, 'x'), '--max-accuracy-drop', '2%');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/ambiguous/);
    const mine = path.join(dir, 'mine');
    fs.mkdirSync(mine);
    fs.writeFileSync(path.join(mine, 'notes.txt'), 'keep me');
    const r2 = await runCli('optimize', model, '-o', mine, ...fast);
    expect(r2.code).toBe(2);
    expect(r2.stderr).toMatch(/not an earlier inferopt output/);
    expect(fs.readFileSync(path.join(mine, 'notes.txt'), 'utf8')).toBe('keep me');
  });
});
