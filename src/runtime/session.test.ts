import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { GraphBuilder } from '../ir/builder.js';
import { DataType } from '../ir/dtype.js';
import { Tensor } from '../ir/tensor.js';
import { tensorType } from '../ir/types.js';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadModel, saveModel } from '../ir/io.js';
import { Session } from './session.js';

/** y = Relu(x) as a tensor output, and optionally [x] as a sequence output. */
function model(withTensorOutput: boolean) {
  const b = new GraphBuilder();
  const x = b.input('x', DataType.FLOAT, [3]);
  if (withTensorOutput) b.output(b.op('Relu', [x]), 'y');
  b.output(b.op('SequenceConstruct', [x]), 'seq', { kind: 'sequence', elem: tensorType(DataType.FLOAT, [3]) });
  return b.model({ opset: 17 });
}

describe('Session with non-tensor outputs', () => {
  const x = Tensor.float([3], [-1, 0, 2]);

  it('fetches the tensor outputs only (ORT-node would crash converting a sequence)', async () => {
    const s = await Session.create(model(true), { threads: 1 });
    const out = await s.run({ x });
    expect(Object.keys(out)).toEqual(['y']);
    expect(Array.from(out['y']!.toFloat32())).toEqual([0, 0, 2]);
    await expect(s.run({ x }, ['seq'])).rejects.toThrow(/'seq' is a sequence, map or optional/);
    await s.prepareFeeds({ x })(); // the benchmark path fetches the same list
    await s.release();
  });

  it('refuses a model none of whose outputs is a tensor', async () => {
    await expect(Session.create(model(false), { threads: 1 })).rejects.toThrow(/no output of this model is a tensor \(seq\)/);
  });
});

describe('ONNX Runtime errors name the model and what it was fed', () => {
  /** x[N, W] → Reshape to [N, 4, -1]: fails at run time when W is not a multiple of 4 (here 6). */
  function badReshape() {
    const b = new GraphBuilder();
    const x = b.input('x', DataType.FLOAT, ['N', 'W']);
    b.output(b.op('Reshape', [x, b.ints('shape', [0, 4, -1])]), 'y');
    return b.model({ opset: 17 });
  }

  it('a failed run names the file and each input with its type and shape; a failed load names the file', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'inferopt-session-'));
    try {
      const file = path.join(dir, 'bad-reshape.onnx');
      saveModel(badReshape(), file);
      const feeds = { x: Tensor.float([2, 6], new Array(12).fill(1)) };
      for (const source of [file, loadModel(file)]) {
        const s = await Session.create(source, { threads: 1 });
        const err = await s.run(feeds).then(() => undefined, (e: Error) => e);
        expect(err?.message).toMatch(new RegExp(`^ONNX Runtime \\(node\\) failed to run ${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} on x float32\\[2x6\\]: .*Reshape`));
        // the prepared (benchmark) path says the same
        const err2 = await s.prepareFeeds(feeds)().then(() => undefined, (e: Error) => e);
        expect(err2?.message).toBe(err?.message);
        await s.release();
      }
      // a model in memory with no file says so; a label given is used
      const mem = await Session.create(badReshape(), { threads: 1 });
      expect((await mem.run(feeds).catch((e: Error) => e)) as Error).toHaveProperty('message', expect.stringMatching(/failed to run a model in memory \(no file\) on x float32\[2x6\]/));
      await mem.release();
      // a file ORT cannot load: an op it does not know
      const b = new GraphBuilder();
      b.output(b.op('NoSuchOp', [b.input('x', DataType.FLOAT, [1])], {}, { domain: 'com.example' }), 'y');
      const m = b.model({ opset: 17 });
      m.requireOpset('com.example', 1);
      const unknown = path.join(dir, 'unknown-op.onnx');
      saveModel(m, unknown);
      await expect(Session.create(unknown, { threads: 1 })).rejects.toThrow(new RegExp(`^ONNX Runtime \\(node\\) could not load ${unknown.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: .*NoSuchOp`));
      await expect(Session.create(m, { threads: 1, label: 'candidate #3' })).rejects.toThrow(/^ONNX Runtime \(node\) could not load candidate #3: /);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('ONNX Runtime in a process', () => {
  it('leaves nothing in the temp folder (onnxruntime-node 1.30 telemetry is off unless asked for)', () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'inferopt-ort-tmp-'));
    try {
      const script = `
        const { Session } = await import(${JSON.stringify(new URL('./session.ts', import.meta.url).href)});
        const { GraphBuilder } = await import(${JSON.stringify(new URL('../ir/builder.ts', import.meta.url).href)});
        const { DataType } = await import(${JSON.stringify(new URL('../ir/dtype.ts', import.meta.url).href)});
        const b = new GraphBuilder();
        b.output(b.op('Relu', [b.input('x', DataType.FLOAT, [3])]), 'y');
        const s = await Session.create(b.model({ opset: 17 }), { threads: 1 });
        await s.release();`;
      const env: NodeJS.ProcessEnv = { ...process.env, TMPDIR: tmp };
      delete env['ORT_DISABLE_TELEMETRY'];
      execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { env, stdio: 'pipe' });
      // with telemetry on, ORT writes .ses and mat-debug-<pid>.log here
      expect(fs.readdirSync(tmp).filter((n) => !/^tsx-/.test(n))).toEqual([]);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
});
