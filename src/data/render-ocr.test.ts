import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { openDataset } from './dataset.js';
import { renderOcrSet } from './render-ocr.js';
import { tempDir } from './test-fixtures.js';

describe('render-ocr', () => {
  it('writes labelled lines, turned copies and pages with boxes inside the image, repeatably by seed', async () => {
    const a = tempDir();
    const b = tempDir();
    const r = await renderOcrSet({ outDir: a, count: 4, pages: 1, seed: 4 });
    await renderOcrSet({ outDir: b, count: 4, pages: 1, seed: 4 });
    for (const f of ['rec.jsonl', 'cls.jsonl', 'det.jsonl', 'rec/00002.png', 'det/0000.png']) {
      expect(readFileSync(join(a, f)), f).toEqual(readFileSync(join(b, f)));
    }
    const rec = readFileSync(join(a, 'rec.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { text: string });
    expect(rec).toHaveLength(4);
    expect(rec.every((l) => l.text.length > 0)).toBe(true);
    const keys = new Set(readFileSync(join(a, 'keys.txt'), 'utf8').split('\n'));
    expect(rec.every((l) => [...l.text].every((c) => c === ' ' || keys.has(c)))).toBe(true);
    // the specs open as datasets: lines are 48 px high for the recogniser, pages keep boxes in range
    const lines = await openDataset(r.files.rec);
    for await (const s of lines) expect(s.inputs['']!.dims).toEqual([1, 3, 48, 320]);
    for await (const s of await openDataset(r.files.det)) {
      const boxes = (s.label as { boxes: number[][] }).boxes;
      expect(boxes.length).toBeGreaterThan(0);
      for (const [x0, y0, x1, y1] of boxes) expect(0 <= x0! && x0! < x1! && x1! <= 640 && 0 <= y0! && y0! < y1! && y1! <= 480).toBe(true);
    }
    // a turned line is the upright one rotated by 180°
    const cls = readFileSync(join(a, 'cls.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { image: string; label: string });
    const turned = cls.find((c) => c.label === '180');
    if (turned) {
      const upright = turned.image.replace(/^cls\/(\d+)_180/, 'rec/$1');
      const back = await sharp(join(a, turned.image)).rotate(180).raw().toBuffer();
      expect(back.equals(await sharp(join(a, upright)).raw().toBuffer())).toBe(true);
    }
  });
});
