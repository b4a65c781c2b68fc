import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadModel, saveModel } from '../../ir/io.js';
import { cnnModel, mlpModel } from '../../quantize/fixtures.js';
import { runCli } from '../../../test/unit/run-cli.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'inferopt-quantize-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const mlp = path.join(dir, 'mlp.onnx');
const cnn = path.join(dir, 'cnn.onnx');
saveModel(mlpModel(), mlp);
saveModel(cnnModel(), cnn);

/** Runs `inferopt quantize …` in-process. */
async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const r = await runCli('quantize', ...args);
  return { code: r.code, out: r.stdout, err: r.stderr };
}

describe('inferopt quantize', () => {
  it('dynamic: writes a model of DynamicQuantizeMatMul ops and reports it as JSON', async () => {
    const out = path.join(dir, 'mlp_q.onnx');
    const r = await cli(mlp, '-o', out, '--mode', 'dynamic', '--json');
    expect(r.code).toBe(0);
    const rep = JSON.parse(r.out);
    expect(rep.opsAfter.DynamicQuantizeMatMul).toBe(3);
    expect(rep.sizeAfter).toBeLessThan(rep.sizeBefore);
    expect(loadModel(out).graph.nodes.some((n) => n.opType === 'MatMul')).toBe(false);
  });

  it('static with random calibration and a sensitivity ranking', async () => {
    const out = path.join(dir, 'cnn_q.onnx');
    const r = await cli(cnn, '-o', out, '--mode', 'static', '--calib', 'random:4', '--dim', 'N=1', '--sensitivity', '--no-cache', '--json');
    expect(r.code).toBe(0);
    const rep = JSON.parse(r.out);
    expect(rep.stats.quantizedNodes).toBe(7);
    expect(rep.sensitivity.length).toBe(7);
    expect(rep.sensitivity[0].finalSqnr).toBeLessThanOrEqual(rep.sensitivity[6].finalSqnr);
  });

  it('bad input: one stderr line, exit 2', async () => {
    const cases = [
      [cnn, '-o', path.join(dir, 'x.onnx'), '--mode', 'static'],
      [cnn, '-o', path.join(dir, 'x.onnx'), '--mode', 'int3'],
      [mlp, '-o', path.join(dir, 'x.onnx'), '--mode', 'weight-only', '--bits', '3'],
      [mlp, '-o', mlp, '--mode', 'dynamic'],
      [path.join(dir, 'missing.onnx'), '-o', path.join(dir, 'x.onnx'), '--mode', 'dynamic'],
      [mlp, '-o', path.join(dir, 'x.onnx'), '--mode', 'dynamic', '--max-accuracy-drop', '1'],
    ];
    for (const args of cases) {
      const r = await cli(...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err.trim().split('\n')).toHaveLength(1);
      expect(r.err).toMatch(/^inferopt: /);
    }
    expect(fs.existsSync(path.join(dir, 'x.onnx'))).toBe(false);
  });
});
