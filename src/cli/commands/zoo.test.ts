import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { modelToBytes } from '../../ir/io.js';
import { buildZooModel } from '../../zoo/index.js';
import { runCli } from '../../../test/unit/run-cli.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'inferopt-zoo-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Runs `inferopt zoo …` in-process. */
async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const r = await runCli('zoo', ...args);
  return { code: r.code, out: r.stdout, err: r.stderr };
}

describe('inferopt zoo', () => {
  it('writes the same bytes as the library for a given seed', async () => {
    const file = path.join(dir, 'mlp.onnx');
    const r = await cli('mlp', '-o', file, '--seed', '3');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/wrote .*mlp\.onnx: mlp, 0\.24 M parameters/);
    expect(Buffer.from(fs.readFileSync(file)).equals(Buffer.from(modelToBytes(buildZooModel('mlp', { seed: 3 }))))).toBe(true);
  });

  it('lists the models with parameter counts', async () => {
    for (const args of [[], ['--list']]) {
      const r = await cli(...args);
      expect(r.code).toBe(0);
      expect(r.out).toMatch(/^resnet50 +25\.61 M/m);
      expect(r.out).toMatch(/^bert-base +109\.48 M/m);
      expect(r.out.trim().split('\n')).toHaveLength(8);
    }
  });

  it('refuses bad usage with one line and exit 2', async () => {
    const cases: [string[], RegExp][] = [
      [['resnet101', '-o', path.join(dir, 'x.onnx')], /unknown zoo model 'resnet101'; choose one of: mlp, cnn-small, resnet18/],
      [['mlp'], /say where to write/],
      [['mlp', '-o', path.join(dir, 'x.onnx'), '--seed', 'abc'], /--seed/],
      [['bert-tiny', '-o', path.join(dir, 'x.onnx'), '--layer-norm', 'rms'], /--layer-norm must be one of decomposed, fused, mixed/],
      [['mlp', '-o', path.join(dir, 'x.onnx'), '--reshape', 'constant'], /bert models only/],
      [['bert-tiny', '-o', path.join(dir, 'x.onnx'), '--fold-bn'], /--fold-bn applies to the models with BatchNormalization, not bert-tiny/],
    ];
    for (const [args, message] of cases) {
      const r = await cli(...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err).toMatch(message);
      expect(r.err.trim().split('\n')).toHaveLength(1);
    }
    expect(fs.existsSync(path.join(dir, 'x.onnx'))).toBe(false);
  });
});
