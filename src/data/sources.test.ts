import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InputError } from '../errors.js';
import { DataType } from '../ir/dtype.js';
import { Tensor } from '../ir/tensor.js';
import { openDataset } from './dataset.js';
import { npyBytes, tempDir, tensorProtoBytes, writeFile, writeIdxPair, writeSolidPng, zipBytes } from './test-fixtures.js';
import type { Sample } from './types.js';

async function all(ds: AsyncIterable<Sample>): Promise<Sample[]> {
  const out: Sample[] = [];
  for await (const s of ds) out.push(s);
  return out;
}

describe('idx source', () => {
  for (const gzip of [false, true]) {
    it(`reads images and labels (${gzip ? 'gzipped' : 'plain'})`, async () => {
      const dir = tempDir();
      const { images } = writeIdxPair(dir, 7, 3, 2, 4, gzip);
      const samples = await all(await openDataset(images));
      expect(samples.map((s) => s.label)).toEqual([0, 1, 2, 3, 0, 1, 2]);
      const t = samples[5]!.inputs['']!;
      expect(t.dims).toEqual([1, 1, 3, 2]); // single-channel pixels stay gray
      // pixel k of image i is (i + k) mod 256, scaled by 1/255
      expect(Array.from(t.toFloat32(), (v) => Math.round(v * 255))).toEqual([5, 6, 7, 8, 9, 10]);
    });
  }

  it('refuses a labels file whose count differs, and a truncated file', async () => {
    const dir = tempDir();
    const a = writeIdxPair(dir, 5, 2, 2, 2, false);
    const b = writeIdxPair(join(dir, 'b'), 4, 2, 2, 2, false);
    await expect(openDataset({ source: { type: 'idx', path: a.images, labels: b.labels } })).rejects.toThrow(/4 labels for 5 images/);
    const full = new Uint8Array(readFileSync(a.images));
    writeFileSync(a.images, full.subarray(0, full.length - 3));
    await expect(all(await openDataset(a.images))).rejects.toThrow(/truncated/);
  });
});

describe('image folder and image lists', () => {
  it('reads one subfolder per class, sorted; labels by folder', async () => {
    const dir = tempDir();
    await writeSolidPng(join(dir, 'cat', 'a.png'), 8, 6, [255, 0, 0]);
    await writeSolidPng(join(dir, 'cat', 'b.png'), 8, 6, [255, 0, 0]);
    await writeSolidPng(join(dir, 'dog', 'c.png'), 8, 6, [0, 0, 255]);
    const ds = await openDataset({ source: { type: 'image-folder', path: dir }, image: { size: [4, 4], color: 'bgr' } });
    expect(ds.classes).toEqual(['cat', 'dog']);
    const samples = await all(ds);
    expect(samples.map((s) => [s.id, s.label])).toEqual([
      ['cat/a.png', 0],
      ['cat/b.png', 0],
      ['dog/c.png', 1],
    ]);
    const px = samples[2]!.inputs['']!.toFloat32(); // blue image, BGR order: channel 0 is blue
    expect([px[0], px[16], px[32]]).toEqual([1, 0, 0]);
  });

  it('reads JSONL and CSV lists with class names, OCR texts and boxes; paths relative to the list', async () => {
    const dir = tempDir();
    await writeSolidPng(join(dir, 'img', 'x.png'), 20, 10, [10, 10, 10]);
    writeFileSync(join(dir, 'l.jsonl'), ['{"image":"img/x.png","label":"spam"}', '{"image":"img/x.png","label":"ham","id":"second"}'].join('\n'));
    const ds = await openDataset(join(dir, 'l.jsonl'));
    expect(ds.classes).toEqual(['ham', 'spam']);
    expect((await all(ds)).map((s) => [s.id, s.label])).toEqual([
      ['img/x.png', 1],
      ['second', 0],
    ]);
    writeFileSync(join(dir, 'l.csv'), 'path,text\nimg/x.png,"hello, world"\n');
    expect((await all(await openDataset(join(dir, 'l.csv'))))[0]!.label).toBe('hello, world');
    writeFileSync(join(dir, 'b.jsonl'), '{"image":"img/x.png","boxes":[[2,2,10,6]]}\n');
    const det = await all(await openDataset({ source: { type: 'image-list', path: join(dir, 'b.jsonl') }, image: { size: [20, 40], resize: 'stretch' } }));
    expect(det[0]!.label).toEqual({ boxes: [[4, 4, 20, 12]] }); // boxes follow the resize (×2)
  });

  it('gives one clear error for a corrupt image and for a label outside the classes', async () => {
    const dir = tempDir();
    writeFile(join(dir, 'bad', 'x.png'), new TextEncoder().encode('not a png'));
    await expect(all(await openDataset(dir))).rejects.toThrow(InputError);
    await expect(all(await openDataset(dir))).rejects.toThrow(/x\.png: cannot decode image/);
    writeFileSync(join(dir, 'l.jsonl'), '{"image":"bad/x.png","label":"cow"}\n');
    await expect(openDataset({ source: { type: 'image-list', path: join(dir, 'l.jsonl'), classes: ['cat', 'dog'] } })).rejects.toThrow(
      /l\.jsonl:1: label "cow" is not one of the 2 classes/,
    );
    await expect(openDataset(join(dir, 'missing'))).rejects.toThrow(/data not found/);
  });
});

describe('text, npy/npz and ONNX test-set sources', () => {
  it('streams JSONL texts with labels through the tokenizer', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 't.jsonl'), '{"text":"i like strawberries","label":"ham"}\n{"text":"buy now","label":"spam"}\n');
    const ds = await openDataset({ source: { type: 'text', path: join(dir, 't.jsonl') }, text: { tokenizer: 'bert-base-uncased', maxLength: 8 } });
    const s = await all(ds);
    expect(s.map((x) => x.label)).toEqual([0, 1]);
    expect(s[0]!.inputs.input_ids!.toNumbers()).toEqual([101, 1045, 2066, 13137, 20968, 102, 0, 0]);
    expect(s[0]!.inputs.attention_mask!.toNumbers()).toEqual([1, 1, 1, 1, 1, 1, 0, 0]);
  });

  it('shuffles a JSONL text file exactly (indexed by line offsets), blank lines skipped', async () => {
    const dir = tempDir();
    const lines = Array.from({ length: 40 }, (_, i) => JSON.stringify({ text: `t${i}`, label: i < 30 ? 'a' : 'b' }));
    lines.splice(5, 0, '   ');
    writeFileSync(join(dir, 't.jsonl'), lines.join('\n') + '\n');
    const spec = { source: { type: 'text' as const, path: join(dir, 't.jsonl') }, text: { tokenizer: 'bert-base-uncased', maxLength: 4 } };
    const first = await all(await openDataset(spec, { shuffleSeed: 9, shuffleBuffer: 4, limit: 12 }));
    // the b's sit at the end of the file: a bounded-buffer shuffle could not reach them this early
    expect(first.some((x) => x.label === 1)).toBe(true);
    const everything = await all(await openDataset(spec, { shuffleSeed: 9 }));
    expect(everything.map((x) => x.id).sort()).toEqual((await all(await openDataset(spec))).map((x) => x.id).sort());
    expect(everything).toHaveLength(40);
    expect(everything.map((x) => x.id)).toContain('t.jsonl:41');
  });

  it('reads rows of .npy and of stored and deflated .npz with labels', async () => {
    const dir = tempDir();
    const x = Float32Array.from({ length: 12 }, (_, i) => i);
    const y = BigInt64Array.from([3n, 1n, 2n]);
    writeFile(join(dir, 'x.npy'), npyBytes('<f4', [3, 2, 2], x));
    const rows = await all(await openDataset(join(dir, 'x.npy')));
    expect(rows[1]!.inputs['']!.dims).toEqual([1, 2, 2]);
    expect(Array.from(rows[1]!.inputs['']!.toFloat32())).toEqual([4, 5, 6, 7]);
    for (const deflate of [false, true]) {
      const f = writeFile(join(dir, `d${deflate}.npz`), zipBytes({ 'pixels.npy': npyBytes('<f4', [3, 2, 2], x), 'labels.npy': npyBytes('<i8', [3], y) }, deflate));
      const s = await all(await openDataset(f));
      expect(s.map((r) => r.label)).toEqual([3, 1, 2]);
      expect(Array.from(s[2]!.inputs.pixels!.toFloat32())).toEqual([8, 9, 10, 11]);
    }
  });

  it('reads ONNX test-set folders: inputs as stored, outputs as the label', async () => {
    const dir = tempDir();
    for (const k of [0, 1]) {
      writeFile(join(dir, `test_data_set_${k}`, 'input_0.pb'), tensorProtoBytes('x', [2, 2], Float32Array.from([k, 1, 2, 3])));
      writeFile(join(dir, `test_data_set_${k}`, 'output_0.pb'), tensorProtoBytes('', [2], Float32Array.from([k, 9])));
    }
    const s = await all(await openDataset(dir));
    expect(s.map((r) => r.id)).toEqual(['test_data_set_0', 'test_data_set_1']);
    expect(s[1]!.inputs.x!.dims).toEqual([2, 2]);
    const out = (s[1]!.label as Record<string, Tensor>)['#0']!;
    expect(out.dtype).toBe(DataType.FLOAT);
    expect(Array.from(out.toFloat32())).toEqual([1, 9]);
  });
});
