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
import { buildZooModel } from '../../zoo/index.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'inferopt-prune-cli-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const cnn = path.join(dir, 'cnn.onnx');
saveModel(buildZooModel('cnn-small'), cnn);

// one Gemm straight to the output: every channel reaches the graph output
const single = path.join(dir, 'single.onnx');
{
  const b = new GraphBuilder();
  const x = b.input('x', DataType.FLOAT, [1, 8]);
  const w = b.init('w', Tensor.float([8, 4], Float32Array.from({ length: 32 }, (_, i) => Math.sin(i))));
  b.output(b.op('Gemm', [x, w]), 'y');
  saveModel(b.model({ opset: 17 }), single);
}

const oneLine = (s: string) => s.trim().split('\n').length === 1;

describe('inferopt prune', () => {
  it.each([
    [['--sparsity', '1.5'], /--sparsity must be a fraction/],
    [['--sparsity', 'abc'], /--sparsity must be a fraction/],
    [['--target-flops', '-0.2'], /--target-flops must be a fraction/],
    [['--target-flops', '0'], /would remove everything/],
    [['--sparsity', '0.5', '--target-flops', '0.5'], /give one amount/],
    [[], /give an amount/],
    [['--granularity', 'filters', '--sparsity', '0.5'], /unknown --granularity 'filters'/],
    [['--granularity', 'n:m', '--pattern', '4:2'], /N:M pattern needs 1 ≤ N < M/],
    [['--sparsity', '0.5', '--importance', 'entropy'], /unknown --importance/],
    [['--sparsity', '0.5', '--importance', 'taylor'], /taylor needs --train-data/],
    [['--granularity', 'unstructured', '--target-flops', '0.5'], /keeps every multiply/],
    [['--granularity', 'unstructured', '--sparsity', '0.5', '--sensitivity'], /--sensitivity scans per-layer amounts of channels, heads or FFN neurons, not unstructured/],
    [['--granularity', 'head', '--sparsity', '0.5'], /nothing to prune: no removable head groups/],
    [['--granularity', 'ffn', '--sparsity', '0.5'], /nothing to prune: no removable ffn groups/],
  ])('refuses %j with one line and exit 2', async (args, re) => {
    const r = await runCli('prune', cnn, '-o', path.join(dir, 'bad.onnx'), '--no-bench', ...args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(re);
    expect(oneLine(r.stderr)).toBe(true);
    expect(fs.existsSync(path.join(dir, 'bad.onnx'))).toBe(false);
  });

  it('says why when nothing can be removed', async () => {
    const r = await runCli('prune', single, '-o', path.join(dir, 'none.onnx'), '--sparsity', '0.5', '--no-bench');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/nothing to prune: no removable channel groups \(4× they reach the graph output 'y'\)/);
    expect(oneLine(r.stderr)).toBe(true);
  });

  it('removes channels physically and writes a smaller model that runs', async () => {
    const out = path.join(dir, 'c.onnx');
    const r = await runCli('prune', cnn, '-o', out, '--sparsity', '0.5', '--no-bench', '--json');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.report.structured.removed).toBeGreaterThan(0);
    expect(j.report.structured.params[1]).toBeLessThan(j.report.structured.params[0]);
    expect(j.sizes.after.onDisk).toBeLessThan(j.sizes.before.onDisk);
    const m = loadModel(out);
    const s = await Session.create(m);
    const y = await s.run({ [m.graph.inputs[0]!.name]: Tensor.float([1, 1, 28, 28], new Float32Array(784).fill(0.5)) });
    await s.release();
    expect(Object.values(y)[0]!.dims).toEqual([1, 10]);
  });

  it('scans per-layer sensitivity and prints the amount each layer got (--sensitivity)', async () => {
    const out = path.join(dir, 'sens.onnx');
    const r = await runCli('prune', cnn, '-o', out, '--target-flops', '0.6', '--sensitivity', '--align', '1', '--no-bench');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/per-layer sensitivity \(relative output error when the layer alone loses 25% \/ 50% \/ 75%\) → amount given:/);
    const layers = r.stdout.split('\n').filter((l) => / units\): [\d./ —]+ → \d+%$/.test(l));
    expect(layers.length).toBeGreaterThanOrEqual(2);
    const j = await runCli('prune', cnn, '-o', path.join(dir, 'sens2.onnx'), '--target-flops', '0.6', '--sensitivity', '--align', '1', '--no-bench', '--json');
    const s = JSON.parse(j.stdout).report.structured;
    expect(s.flops[1]).toBeLessThanOrEqual(0.6 * s.flops[0]);
    expect(s.sensitivity.length).toBe(layers.length);
  });

  it('writes 2:4 sparsity along the reduction axis and reports sparse sizes', async () => {
    const out = path.join(dir, 'nm.onnx');
    const r = await runCli('prune', cnn, '-o', out, '--granularity', 'n:m', '--no-bench', '--json');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.report.unstructured.pattern).toBe('2:4');
    // the first conv reads 1 channel: left dense with the reason
    expect(j.report.unstructured.skipped.some((s: { reason: string }) => /not a multiple of 4/.test(s.reason))).toBe(true);
    expect(j.sizes.after.sparseStorage).toBeLessThan(j.sizes.after.onDisk);
    const m = loadModel(out);
    let checked = 0;
    for (const node of m.graph.nodes.filter((n) => n.opType === 'Gemm' || n.opType === 'Conv')) {
      const t = node.inputs[1]!.constTensor()!;
      // the reduction axis: input channels of a Conv, K of a Gemm weight ([K, N], or [N, K] with transB)
      const axis = node.opType === 'Conv' || node.attrInt('transB', 0) === 1 ? 1 : 0;
      const len = t.dims[axis]!;
      if (len % 4 !== 0) continue;
      const inner = t.dims.slice(axis + 1).reduce((a, b) => a * b, 1);
      const outer = t.size / (len * inner);
      const d = t.toFloat32();
      for (let o = 0; o < outer; o++) {
        for (let j = 0; j < inner; j++) {
          for (let g = 0; g < len; g += 4) {
            let zeros = 0;
            for (let k = 0; k < 4; k++) zeros += d[(o * len + g + k) * inner + j] === 0 ? 1 : 0;
            expect(zeros).toBeGreaterThanOrEqual(2);
            checked++;
          }
        }
      }
    }
    expect(checked).toBeGreaterThan(1000);
  });

  it('zeroes the requested fraction of weights (unstructured, global)', async () => {
    const out = path.join(dir, 'u.onnx');
    const r = await runCli('prune', cnn, '-o', out, '--granularity', 'unstructured', '--sparsity', '0.8', '--no-bench', '--json');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.report.unstructured.sparsity).toBeGreaterThan(0.79);
    expect(j.report.unstructured.sparsity).toBeLessThan(0.81);
    expect(j.sizes.after.compressed).toBeLessThan(0.5 * j.sizes.before.compressed);
  });
});
