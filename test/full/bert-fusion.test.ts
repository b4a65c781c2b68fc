/**
 * Zoo bert-base through `inferopt simplify --target cpu`: every attention block, residual LayerNorm and GELU
 * is fused (the counts come from --json), and the outputs stay within 1e-3 of the original's on ORT.
 * Then bert-mini with --target wasm, verified on onnxruntime-web's wasm backend.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { saveModel } from '../../src/ir/io.js';
import { verifyModels } from '../../src/verify/verify.js';
import { buildZooModel } from '../../src/zoo/index.js';
import { runCli } from '../unit/run-cli.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'inferopt-bert-fusion-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

async function simplifyJson(name: string, target: string): Promise<{ src: string; out: string; report: any }> {
  const src = path.join(dir, `${name}.onnx`);
  const out = path.join(dir, `${name}.${target}.onnx`);
  saveModel(buildZooModel(name), src);
  const res = await runCli('simplify', src, '-o', out, '--target', target, '--json');
  expect(res.code).toBe(0);
  return { src, out, report: JSON.parse(res.stdout) };
}

describe('BERT fusions', () => {
  it('bert-base --target cpu: 12 attention, 24 skip-layer-norm, 12 bias-GELU fused; outputs within 1e-3', async () => {
    const { src, out, report } = await simplifyJson('bert-base', 'cpu');
    expect(report.rules).toMatchObject({ 'fuse-attention': 12, 'fuse-skip-layer-norm': 24, 'fuse-gelu': 12, 'fuse-bias-gelu': 12, 'fuse-embed-layer-norm': 1 });
    expect(report.after.byOp).toMatchObject({
      'com.microsoft.Attention': 12,
      'com.microsoft.SkipLayerNormalization': 24,
      'com.microsoft.BiasGelu': 12,
      'com.microsoft.EmbedLayerNormalization': 1,
    });
    expect(report.after.byOp.Softmax).toBeUndefined();
    const v = await verifyModels(src, out, { samples: 2, atol: 1e-3, rtol: 1e-3, dims: { batch: 1, seq: 128 }, intRange: 30522 });
    expect(v.failures).toEqual([]);
  });

  it('bert-mini --target wasm runs on the wasm backend with the same outputs', async () => {
    const { src, out, report } = await simplifyJson('bert-mini', 'wasm');
    expect(report.rules['fuse-attention']).toBe(4);
    const v = await verifyModels(src, out, { backend: 'wasm', samples: 1, atol: 1e-3, rtol: 1e-3, dims: { batch: 2, seq: 32 }, intRange: 30522 });
    expect(v.failures).toEqual([]);
  });
});
