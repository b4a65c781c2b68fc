import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { saveModel } from '../ir/io.js';
import { Tensor } from '../ir/tensor.js';
import { cnnModel } from '../quantize/fixtures.js';
import { randomInputs } from '../runtime/inputs.js';
import { searchCatalog } from './catalog.js';
import { OnnxEvaluator } from './evaluator.js';
import type { MetricSource } from './metric.js';
import { DEFAULT_SESSION, type Recipe } from './recipe.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'inferopt-evaluator-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A metric source whose calibration feeds are given; its name and note are the same for every data. */
function source(calibration: Record<string, Tensor>[]): MetricSource {
  const unused = () => Promise.reject(new Error('not scored in this test'));
  return { name: 'top1', source: 'data', note: 'on the same-named data', score: unused, select: unused, calibration: async () => calibration, scoreShard: unused, fromRecords: () => { throw new Error('unused'); } };
}

describe('OnnxEvaluator caches', () => {
  // the calibration cache was keyed on the metric's note and the sample count: other data with the same name
  // and count reused the first data's statistics
  it('keys calibration statistics on the feeds’ content: same note and count, other data, other scales', async () => {
    const modelFile = path.join(dir, 'cnn.onnx');
    saveModel(cnnModel(), modelFile);
    const model = cnnModel();
    const feeds = (scale: number) =>
      [0, 1, 2, 3].map((seed) => {
        const f = randomInputs(model, { dims: { N: 1 }, seed });
        return Object.fromEntries(Object.entries(f).map(([k, x]) => [k, Tensor.float([...x.dims], x.toNumbers().map((v) => v * scale))]));
      });
    const recipe: Recipe = { target: 'cpu', steps: [{ pass: 'quantize-static', params: {} }], session: DEFAULT_SESSION };
    const cacheDir = path.join(dir, 'cache');
    const build = async (scale: number) => (await new OnnxEvaluator({ modelFile, catalog: searchCatalog(), metric: source(feeds(scale)), backend: 'node', cacheDir }).build(recipe)).bytes;
    const small = await build(1);
    const again = await build(1);
    const large = await build(50);
    expect(Buffer.from(again).equals(Buffer.from(small))).toBe(true); // same data: the same model (cached or not)
    expect(Buffer.from(large).equals(Buffer.from(small))).toBe(false); // other data: its own activation scales
    expect(fs.readdirSync(cacheDir).length).toBeGreaterThanOrEqual(2);
  });
});
