// The large zoo models end to end (too slow for `npm test`): build, save, load back, run in ONNX Runtime.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadModel, saveModel } from '../../src/ir/io.js';
import type { Tensor } from '../../src/ir/tensor.js';
import { randomInputs } from '../../src/runtime/inputs.js';
import { Session } from '../../src/runtime/session.js';
import { buildZooModel, countParameters } from '../../src/zoo/index.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'inferopt-zoo-large-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function spread(t: Tensor): number {
  const a = t.toFloat32();
  let min = Infinity;
  let max = -Infinity;
  for (const x of a) {
    if (!Number.isFinite(x)) return NaN;
    min = Math.min(min, x);
    max = Math.max(max, x);
  }
  return max - min;
}

const cases: [name: string, dims: Record<string, number>, outputs: Record<string, number[]>][] = [
  ['resnet50', { N: 1 }, { logits: [1, 1000] }],
  ['bert-base', { batch: 1, seq: 64 }, { last_hidden_state: [1, 64, 768], logits: [1, 2] }],
];

describe('large zoo models', () => {
  for (const [name, dims, outputs] of cases) {
    it(`${name}: saves, loads back and runs with finite, non-constant outputs`, async () => {
      const file = path.join(dir, `${name}.onnx`);
      const built = buildZooModel(name, { seed: 1 });
      const t0 = performance.now();
      saveModel(built, file);
      const saveMs = performance.now() - t0;
      const model = loadModel(file);
      expect(countParameters(model)).toBe(countParameters(built));
      const session = await Session.create(file, { dims });
      const out = await session.run(randomInputs(model, { dims, seed: 1 }, 30522));
      await session.release();
      for (const [output, shape] of Object.entries(outputs)) {
        expect(out[output]!.dims).toEqual(shape);
        expect(spread(out[output]!)).toBeGreaterThan(1e-3);
      }
      console.log(`${name}: ${(fs.statSync(file).size / 1e6).toFixed(1)} MB saved in ${saveMs.toFixed(0)} ms`);
    });
  }
});
