import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadModel, saveModel } from '../../ir/io.js';
import { cnnModel, mlpModel } from '../../quantize/fixtures.js';
import { runCli } from '../../../test/unit/run-cli.js';
import { verifyModels } from '../../verify/index.js';
import { ortKernels } from '../../runtime/kernels.js';

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
    // with no --dim the proof's own session counts the kernels: the same count as a session of its own
    expect(rep.kernels).toEqual(await ortKernels(out));
    expect(rep.kernels.int8).toEqual({ DynamicQuantizeMatMul: 3 });
  });

  it('caches calibration statistics in its own folder, never beside the model (a model in an npm package is the user\'s)', async () => {
    const own = fs.mkdtempSync(path.join(dir, 'own-'));
    const cache = fs.mkdtempSync(path.join(dir, 'cache-'));
    const model = path.join(own, 'cnn.onnx');
    fs.copyFileSync(cnn, model);
    const before = process.env.INFEROPT_CACHE;
    process.env.INFEROPT_CACHE = cache;
    try {
      for (const k of [1, 2]) {
        const r = await cli(model, '-o', path.join(dir, `cached-${k}.onnx`), '--mode', 'static', '--calib', 'random:2', '--dim', 'N=1');
        expect(r.code, r.err).toBe(0);
        if (k === 2) expect(r.err).toMatch(/calibration: reusing/);
      }
    } finally {
      if (before === undefined) delete process.env.INFEROPT_CACHE;
      else process.env.INFEROPT_CACHE = before;
    }
    expect(fs.readdirSync(own)).toEqual(['cnn.onnx']);
    expect(fs.readdirSync(path.join(cache, 'calibration')).length).toBeGreaterThan(0);
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

  it('says which kernels ORT will run, and warns when most multiply-adds stay float (S8S8 QDQ Conv is not fused on x86)', async () => {
    const fused = await cli(cnn, '-o', path.join(dir, 'cnn_u8.onnx'), '--mode', 'static', '--calib', 'random:2', '--dim', 'N=1', '--no-cache', '--json');
    expect(fused.code).toBe(0);
    const k = JSON.parse(fused.out).kernels;
    expect(k.int8.QLinearConv).toBeGreaterThan(0);
    expect(k.int8Total).toBeGreaterThan(k.floatTotal);
    expect(fused.err).not.toMatch(/warning/);
    const s8 = await cli(cnn, '-o', path.join(dir, 'cnn_s8.onnx'), '--mode', 'static', '--activation-type', 'int8', '--calib', 'random:2', '--dim', 'N=1', '--no-cache', '--json');
    expect(s8.code).toBe(0);
    const k8 = JSON.parse(s8.out).kernels;
    expect(k8.float.Conv ?? k8.float.FusedConv).toBeGreaterThan(0);
    expect(k8.unfusedQdq).toBeGreaterThan(0);
    expect(s8.err).toMatch(new RegExp(`inferopt: warning: ONNX Runtime will run ${k8.int8Total} of the ${k8.int8Total + k8.floatTotal} compute ops as int8 kernels .*; ${k8.floatTotal} stay float \\(.*${k8.unfusedQdq} of them reading a DequantizeLinear ORT did not fuse\\): the quantized model will likely not be faster than the float one — measure: inferopt bench .*cnn\\.onnx --compare .*cnn_s8\\.onnx`));
  });

  it('Silero VAD v5 (npm): nothing quantized says why; --include Conv quantizes the 12 Convs inside its If branches, proven at 16 kHz, close at 16 and 8 kHz', async () => {
    const src = 'node_modules/@ricky0123/vad-web/dist/silero_vad_v5.onnx';
    const real = ['--input', 'sr=16000', '--shape', 'input=1x512', '--shape', 'state=2x1x128', '--json'];
    const none = await cli(src, '-o', path.join(dir, 'v5-none.onnx'), '--mode', 'dynamic', ...real);
    expect(none.code).toBe(0);
    expect(none.err).toMatch(/inferopt: note: nothing quantized: dynamic rewrites MatMul, Gemm, [^;]*, and the model's compute ops are 12 Conv \(all inside If\/Loop\/Scan bodies\), 4 LSTM \(all inside If\/Loop\/Scan bodies\); Conv is quantized with --include Conv/);
    expect(none.err).not.toMatch(/warning/); // the note says it all
    const out = path.join(dir, 'v5-conv.onnx');
    const r = await cli(src, '-o', out, '--mode', 'dynamic', '--include', 'Conv', ...real);
    expect(r.code).toBe(0);
    expect(r.err).not.toMatch(/not run/); // proven by a run on real input semantics
    const rep = JSON.parse(r.out);
    expect(rep.stats).toMatchObject({ quantized: 12, inSubgraphs: 12 });
    expect(rep.notes).toEqual([]);
    expect(rep.kernels.int8).toEqual({ ConvInteger: 12 });
    expect(rep.kernels.float).toEqual({ LSTM: 4 });
    // the speech probability within 0.1 of the float model's on random audio (measured: ≤ 0.064; a broken
    // scale or zero point is off by far more), the LSTM state closely aligned
    for (const sr of [16000, 8000]) {
      const v = await verifyModels(src, out, { samples: 4, values: { sr }, shapes: { input: [1, sr === 16000 ? 512 : 256] }, atol: 0.1, rtol: 0 });
      const byName = Object.fromEntries(v.outputs.map((o) => [o.name, o]));
      expect(byName.output!.maxAbs).toBeLessThan(0.1);
      expect(byName.stateN!.cosine).toBeGreaterThan(0.99);
    }
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
