import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Tensor } from '../ir/tensor.js';
import { batches, bindInputs, feeds, limit, openDataset, split } from './dataset.js';
import { bufferShuffle, splitPart } from './select.js';
import { tempDir, writeIdxPair } from './test-fixtures.js';
import type { Sample } from './types.js';

const ids = async (ds: AsyncIterable<Sample>) => {
  const out: string[] = [];
  for await (const s of ds) out.push(s.id);
  return out;
};

describe('selection', () => {
  it('splits calibration and evaluation without overlap, the same way whatever the order', async () => {
    const dir = tempDir();
    const { images } = writeIdxPair(dir, 400, 2, 2, 10, false);
    const ds = await openDataset(images);
    const { calibration, evaluation } = split(ds, { calibrationFraction: 0.2, seed: 7 });
    const cal = await ids(calibration);
    const ev = await ids(evaluation);
    expect(cal.length + ev.length).toBe(400);
    expect(cal.filter((id) => ev.includes(id))).toEqual([]);
    expect(cal.length).toBeGreaterThan(50); // ~80 expected
    expect(cal.length).toBeLessThan(115);
    // shuffled and limited, a side still only holds its own ids
    const shuffled = await ids(await openDataset(images, { shuffleSeed: 3, part: 'calibration', calibrationFraction: 0.2, splitSeed: 7, limit: 30 }));
    expect(shuffled).toHaveLength(30);
    expect(shuffled.every((id) => cal.includes(id))).toBe(true);
    expect(shuffled).not.toEqual(cal.slice(0, 30));
    // another split seed gives another split
    expect(await ids(split(ds, { calibrationFraction: 0.2, seed: 8 }).calibration)).not.toEqual(cal);
    // a dataset that is one part already (a held-out split named in its spec) is split within that part: both
    // sides hold only its ids (it used to be re-split from the source: the other part's samples were scored)
    const heldOut = await openDataset(images, { part: 'calibration', calibrationFraction: 0.2, splitSeed: 7 });
    const inner = split(heldOut, { calibrationFraction: 0.2, seed: 7 });
    const [ic, ie] = [await ids(inner.calibration), await ids(inner.evaluation)];
    expect([...ic, ...ie].sort()).toEqual([...cal].sort());
    expect(ic.filter((id) => ie.includes(id))).toEqual([]);
    expect(ie.length).toBeGreaterThan(ic.length);
    expect(ic.length).toBeGreaterThan(0);
  });

  it('shuffles by seed: a permutation, repeatable, different per seed (indexed and streamed)', async () => {
    const dir = tempDir();
    const plain = writeIdxPair(dir, 50, 2, 2, 3, false).images;
    const gz = writeIdxPair(join(dir, 'gz'), 50, 2, 2, 3, true).images;
    for (const f of [plain, gz]) {
      const a = await ids(await openDataset(f, { shuffleSeed: 1, shuffleBuffer: 16 }));
      const b = await ids(await openDataset(f, { shuffleSeed: 1, shuffleBuffer: 16 }));
      const c = await ids(await openDataset(f, { shuffleSeed: 2, shuffleBuffer: 16 }));
      const base = await ids(await openDataset(f));
      expect(a).toEqual(b);
      expect(a).not.toEqual(c);
      expect(a).not.toEqual(base);
      expect([...a].sort()).toEqual([...base].sort());
    }
  });

  it('bounded-buffer shuffle never holds more than its buffer', async () => {
    let produced = 0;
    let maxAhead = 0;
    let consumed = 0;
    async function* source() {
      for (let i = 0; i < 1000; i++) {
        produced++;
        maxAhead = Math.max(maxAhead, produced - consumed);
        yield i;
      }
    }
    const seen: number[] = [];
    for await (const x of bufferShuffle(source(), 5, 32)) {
      consumed++;
      seen.push(x);
    }
    expect(seen.sort((a, b) => a - b)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect(maxAhead).toBeLessThanOrEqual(33);
  });

  it('limit and splitPart are plain functions of their input', async () => {
    const dir = tempDir();
    const { images } = writeIdxPair(dir, 20, 2, 2, 3, true);
    expect(await ids(limit(await openDataset(images), 4))).toEqual([0, 1, 2, 3].map((i) => `toy-images-idx3-ubyte.gz#${i}`));
    expect(splitPart('a', 0.5, 1)).toBe(splitPart('a', 0.5, 1));
    expect(splitPart('a', 0, 1)).toBe('evaluation');
    expect(splitPart('a', 1, 1)).toBe('calibration');
  });
});

describe('batches and feeds', () => {
  it('stacks samples along axis 0, with a short last batch', async () => {
    const dir = tempDir();
    const { images } = writeIdxPair(dir, 5, 2, 3, 3, false);
    const out = [];
    for await (const b of batches(await openDataset(images), 2)) out.push(b);
    expect(out.map((b) => b.inputs['']!.dims)).toEqual([
      [2, 1, 2, 3],
      [2, 1, 2, 3],
      [1, 1, 2, 3],
    ]);
    expect(out[1]!.labels).toEqual([2, 0]);
    // the second image of batch 1 is image 3: first pixel (3 + 0) / 255
    expect(Math.round(out[1]!.inputs['']!.toFloat32()[6]! * 255)).toBe(3);
    const f = [];
    for await (const x of feeds(await openDataset(images), { batch: 4, inputNames: ['pixels'] })) f.push(x);
    expect(Object.keys(f[0]!)).toEqual(['pixels']);
    expect(f[0]!.pixels!.dims).toEqual([4, 1, 2, 3]);
  });

  it('reads a dataset spec written in YAML (file or dataset.yaml in a folder) like its JSON twin', async () => {
    const dir = tempDir();
    writeIdxPair(dir, 20, 2, 2, 4, false);
    writeFileSync(join(dir, 'spec.yaml'), '# a YAML spec\nsource:\n  type: idx\n  path: toy-images-idx3-ubyte\nlimit: 5\n');
    writeFileSync(join(dir, 'spec.json'), JSON.stringify({ source: { type: 'idx', path: 'toy-images-idx3-ubyte' }, limit: 5 }));
    const fromYaml = await ids(await openDataset(join(dir, 'spec.yaml')));
    expect(fromYaml).toHaveLength(5);
    expect(fromYaml).toEqual(await ids(await openDataset(join(dir, 'spec.json'))));
    writeFileSync(join(dir, 'dataset.yaml'), 'source: {type: idx, path: toy-images-idx3-ubyte}\nlimit: 3\n');
    expect(await ids(await openDataset(dir))).toHaveLength(3);
    writeFileSync(join(dir, 'bad.yaml'), 'source: [unclosed\n');
    await expect(openDataset(join(dir, 'bad.yaml'))).rejects.toThrow(/not valid YAML/);
  });

  it('refuses samples of different shapes in one batch, and feeds that miss a model input', async () => {
    const dir = tempDir();
    const sharp = (await import('sharp')).default;
    for (const [n, w] of [['a', 4], ['b', 6]] as const) await sharp({ create: { width: w, height: 4, channels: 3, background: '#fff' } }).png().toFile(join(dir, `${n}.png`));
    writeFileSync(join(dir, 'l.jsonl'), '{"image":"a.png","label":0}\n{"image":"b.png","label":0}\n');
    const run = async () => {
      for await (const b of batches(await openDataset(join(dir, 'l.jsonl')), 2)) void b;
    };
    await expect(run()).rejects.toThrow(/differ in shape.*use --batch 1 or a fixed image size/);
    expect(() => bindInputs({ '': Tensor.float([1], [0]) }, ['a', 'b'])).toThrow(/cannot tell which model input/);
    expect(() => bindInputs({ x: Tensor.float([1], [0]) }, ['x', 'mask'])).toThrow(/does not feed model input 'mask'/);
    expect(Object.keys(bindInputs({ '#1': Tensor.float([1], [0]), '#0': Tensor.float([1], [0]) }, ['p', 'q']))).toEqual(['q', 'p']);
  });
});
