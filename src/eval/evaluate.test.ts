import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '../cli/main.js';
import { openDataset } from '../data/dataset.js';
import { tempDir, writeFile } from '../data/test-fixtures.js';
import { DataType } from '../ir/dtype.js';
import { GraphBuilder } from '../ir/builder.js';
import { saveModel } from '../ir/io.js';
import { rng } from '../util/random.js';
import { Session } from '../runtime/session.js';
import { evaluate } from './evaluate.js';
import { ReferenceOutputs } from './reference.js';

const FASHION = resolve('data/fashion-mnist-1k');

/** logits = flatten(x) · W + b, W seeded; returns the model and a JS reference of its arg-max. */
function linearClassifier(classes: number, seed: number, side = 28) {
  const rand = rng(seed);
  const d = side * side;
  const w = Float32Array.from({ length: d * classes }, () => rand() - 0.5);
  const bias = Float32Array.from({ length: classes }, () => rand() - 0.5);
  const b = new GraphBuilder();
  const x = b.input('x', DataType.FLOAT, ['N', 1, side, side]);
  const flat = b.op('Flatten', [x], { axis: 1 });
  const logits = b.op('Add', [b.op('MatMul', [flat, b.floats('w', [d, classes], w)]), b.floats('b', [classes], bias)]);
  b.output(logits, 'logits');
  const predict = (px: Float32Array) => {
    let best = 0;
    let bestV = -Infinity;
    for (let c = 0; c < classes; c++) {
      let v = bias[c]!;
      for (let k = 0; k < d; k++) v += px[k]! * w[k * classes + c]!;
      if (v > bestV) [best, bestV] = [c, v];
    }
    return best;
  };
  return { model: b.model({ opset: 17 }), predict };
}

describe('evaluate', () => {
  it('scores a classifier on the Fashion-MNIST subset exactly as a JS reference would', async () => {
    const { model, predict } = linearClassifier(10, 1);
    let hits = 0;
    for await (const s of await openDataset(FASHION, { limit: 200 })) if (predict(s.inputs['']!.toFloat32()) === s.label) hits++;
    const r = await evaluate(model, await openDataset(FASHION, { limit: 200 }), { batch: 16, bootstrap: { iterations: 200 } });
    expect(r.task).toBe('classification');
    expect(r.samples).toBe(200);
    expect(r.metrics.top1!.value).toBe(hits / 200);
    expect(r.confusion!.flat().reduce((a, b) => a + b, 0)).toBe(200);
    expect(r.confusion!.reduce((s, row, i) => s + row[i]!, 0)).toBe(hits);
    expect(r.classes?.[9]).toBe('Ankle boot');
  });

  it('fidelity against a reference: identical model agrees fully; another model agrees as often as JS says', async () => {
    const a = linearClassifier(10, 1);
    const other = linearClassifier(10, 2);
    const dir = tempDir();
    const refFile = join(dir, 'ref.onnx');
    saveModel(other.model, refFile);
    let agree = 0;
    for await (const s of await openDataset(FASHION, { limit: 60 })) if (a.predict(s.inputs['']!.toFloat32()) === other.predict(s.inputs['']!.toFloat32())) agree++;
    const same = await evaluate(a.model, await openDataset(FASHION, { limit: 20 }), { reference: a.model, batch: 4, bootstrap: { iterations: 50 } });
    expect(same.metrics['fidelity.top1Agreement']!.value).toBe(1);
    expect(same.metrics['fidelity.kl']!.value).toBe(0);
    expect(same.metrics['fidelity.maxAbsError']!.value).toBe(0);
    const diff = await evaluate(a.model, await openDataset(FASHION, { limit: 60 }), { reference: refFile, batch: 8, bootstrap: { iterations: 50 } });
    expect(diff.metrics['fidelity.top1Agreement']!.value).toBeCloseTo(agree / 60, 12);
    expect(diff.metrics['fidelity.kl']!.value).toBeGreaterThan(0);
  });
});

describe('evaluate with kept reference outputs', () => {
  it('gives the figures of a plain reference run, and runs the reference only for batches it has not kept', async () => {
    const a = linearClassifier(10, 1);
    const other = linearClassifier(10, 2);
    const data = () => openDataset(FASHION, { limit: 40 });
    const opts = { batch: 8, bootstrap: { iterations: 50 } };
    const plain = await evaluate(a.model, await data(), { ...opts, reference: other.model });
    const kept = new ReferenceOutputs(other.model);
    const create = vi.spyOn(Session, 'create');
    const first = await evaluate(a.model, await data(), { ...opts, reference: kept });
    expect(create).toHaveBeenCalledTimes(2); // the model and, once, the reference
    expect(kept.size).toBe(5);
    create.mockClear();
    const second = await evaluate(a.model, await data(), { ...opts, reference: kept });
    expect(create).toHaveBeenCalledTimes(1); // the model only: every batch's reference output was kept
    // a cache too small to keep a batch runs the reference every time, with the same figures
    // other samples in the same batch positions (shuffled) never read the kept outputs of these
    const shifted = await evaluate(a.model, await openDataset(FASHION, { limit: 40, shuffleSeed: 3 }), { ...opts, reference: kept });
    const shiftedPlain = await evaluate(a.model, await openDataset(FASHION, { limit: 40, shuffleSeed: 3 }), { ...opts, reference: other.model });
    expect(shifted.metrics).toEqual(shiftedPlain.metrics);
    const none = new ReferenceOutputs(other.model, 100);
    const third = await evaluate(a.model, await data(), { ...opts, reference: none });
    expect(none.size).toBe(0);
    create.mockRestore();
    for (const r of [first, second, third]) expect(r.metrics).toEqual(plain.metrics);
    expect(plain.metrics['fidelity.top1Agreement']!.value).toBeLessThan(1);
  });
});

describe('evaluate with a screen part-way', () => {
  it('stops after the first samples when the screen says so, with their figures; runs to the end otherwise', async () => {
    const a = linearClassifier(10, 1);
    const other = linearClassifier(10, 2);
    const opts = { batch: 4, bootstrap: { iterations: 50 }, reference: other.model };
    const first = await evaluate(a.model, await openDataset(FASHION, { limit: 8 }), opts);
    const seen: unknown[] = [];
    const stopped = await evaluate(a.model, await openDataset(FASHION, { limit: 40 }), { ...opts, screen: { samples: 8, stop: (m) => (seen.push(m), true) } });
    expect(stopped.stoppedAt).toBe(8);
    expect(stopped.samples).toBe(8);
    expect(stopped.metrics).toEqual(first.metrics);
    expect(seen).toEqual([first.metrics]);
    const full = await evaluate(a.model, await openDataset(FASHION, { limit: 40 }), opts);
    const looked = await evaluate(a.model, await openDataset(FASHION, { limit: 40 }), { ...opts, screen: { samples: 8, stop: () => false } });
    expect(looked.stoppedAt).toBeUndefined();
    expect(looked.samples).toBe(40);
    expect(looked.metrics).toEqual(full.metrics);
  });
});

describe('inferopt eval (CLI)', () => {
  const out: string[] = [];
  const err: string[] = [];
  const run = async (...args: string[]) => {
    out.length = 0;
    err.length = 0;
    vi.spyOn(process.stdout, 'write').mockImplementation((s) => (out.push(String(s)), true));
    vi.spyOn(process.stderr, 'write').mockImplementation((s) => (err.push(String(s)), true));
    try {
      return await main(['node', 'inferopt', ...args]);
    } finally {
      vi.restoreAllMocks();
    }
  };
  afterEach(() => vi.restoreAllMocks());

  it('prints metrics with intervals, and JSON', async () => {
    const dir = tempDir();
    const file = join(dir, 'm.onnx');
    saveModel(linearClassifier(10, 1).model, file);
    expect(await run('eval', file, '--data', FASHION, '--limit', '50', '--batch', '10', '--bootstrap', '100')).toBe(0);
    expect(out.join('')).toMatch(/top1\s+\d+\.\d+%\s+\[\d+\.\d+%, \d+\.\d+%\] 95% CI/);
    expect(await run('eval', file, '--data', FASHION, '--limit', '20', '--json', '--metric', 'top1')).toBe(0);
    const j = JSON.parse(out.join('')) as { samples: number; metrics: Record<string, { value: number }> };
    expect(j.samples).toBe(20);
    expect(j.metrics.top1!.value).toBeGreaterThanOrEqual(0);
  });

  it('bad input: one stderr line and exit 2', async () => {
    const dir = tempDir();
    const m10 = join(dir, 'm10.onnx');
    const m5 = join(dir, 'm5.onnx');
    const m32 = join(dir, 'm32.onnx');
    saveModel(linearClassifier(10, 1).model, m10);
    saveModel(linearClassifier(5, 1).model, m5);
    saveModel(linearClassifier(10, 1, 32).model, m32);
    writeFile(join(dir, 'broken', 'cls', 'x.png'), new TextEncoder().encode('garbage'));
    writeFileSync(join(dir, 'spec28.json'), JSON.stringify({ source: { type: 'idx', path: join(FASHION, 't10k-images-idx3-ubyte.gz') }, image: { color: 'gray' } }));
    const cases: [string[], RegExp][] = [
      [['eval', m10, '--data', join(dir, 'nope')], /data not found/],
      [['eval', join(dir, 'nope.onnx'), '--data', FASHION], /model not found/],
      [['eval', m10, '--data', join(dir, 'broken')], /x\.png: cannot decode image/],
      [['eval', m5, '--data', FASHION, '--limit', '30'], /label \d is out of range for a model with 5 classes/],
      [['eval', m32, '--data', join(dir, 'spec28.json'), '--limit', '2'], /model input 'x' is float32\[N,1,32,32\], the data gives float32\[1,1,28,28\]/],
    ];
    for (const [args, msg] of cases) {
      expect(await run(...args), args.join(' ')).toBe(2);
      expect(err.join('')).toMatch(msg);
      expect(err.join('').trim().split('\n')).toHaveLength(1);
    }
  });
});
