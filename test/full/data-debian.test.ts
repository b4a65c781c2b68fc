/**
 * Datasets on Debian data: Fashion-MNIST (dataset-fashion-mnist) read as a stream, split and shuffled, and
 * ONNX test-set folders (libonnx-testdata) scored against their stored outputs.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { openDataset, split } from '../../src/data/dataset.js';
import { evaluate } from '../../src/eval/evaluate.js';
import { debianDataDir } from './debian-data.js';

const fashion = debianDataDir('dataset-fashion-mnist', '/fashion-mnist');
const onnxData = debianDataDir('libonnx-testdata', '/libonnx-testdata/data');

describe.skipIf(!fashion)('Fashion-MNIST from Debian', () => {
  it('streams the 10k test set: 1,000 images per class; the committed subset is its first 1,000', async () => {
    const counts = new Array<number>(10).fill(0);
    const first: number[] = [];
    let n = 0;
    for await (const s of await openDataset({ source: { type: 'idx', path: join(fashion!, 't10k-images-idx3-ubyte.gz') }, image: { normalize: 'none' } })) {
      counts[s.label as number]!++;
      if (n < 1000) for (const v of s.inputs['']!.toFloat32()) first.push(v);
      n++;
    }
    expect(n).toBe(10000);
    expect(counts).toEqual(new Array(10).fill(1000));
    const committed = gunzipSync(readFileSync(resolve('data/fashion-mnist-1k/t10k-images-idx3-ubyte.gz'))).subarray(16);
    expect(first.length).toBe(committed.length);
    expect(first.every((v, i) => v === committed[i])).toBe(true);
  });

  it('splits the 60k training set into disjoint calibration/evaluation parts (~10%)', async () => {
    const ds = await openDataset({ source: { type: 'idx', path: join(fashion!, 'train-images-idx3-ubyte.gz') }, limit: 20000 });
    const { calibration, evaluation } = split(ds, { calibrationFraction: 0.1, seed: 3 });
    const cal = new Set<string>();
    for await (const s of calibration) cal.add(s.id);
    let ev = 0;
    for await (const s of evaluation) {
      expect(cal.has(s.id)).toBe(false);
      ev++;
    }
    // the limit applies within each side: ~6,000 of 60,000 are calibration; evaluation stops at 20,000
    expect(cal.size).toBeGreaterThan(5700);
    expect(cal.size).toBeLessThan(6300);
    expect(ev).toBe(20000);
  });
});

describe.skipIf(!onnxData)('ONNX test sets from libonnx-testdata', () => {
  for (const name of ['test_relu', 'test_softmax_example', 'test_conv_with_strides_padding', 'test_matmul_4d']) {
    it(`${name}: the model reproduces its stored outputs`, async () => {
      const dir = join(onnxData!, 'node', name);
      const r = await evaluate(join(dir, 'model.onnx'), await openDataset(dir), { bootstrap: { iterations: 20 } });
      expect(r.task).toBe('tensors');
      expect(r.samples).toBeGreaterThan(0);
      expect(r.metrics.maxAbsError!.value).toBeLessThan(1e-4);
      expect(r.metrics.cosine!.value).toBeGreaterThan(0.99999);
    });
  }
});
