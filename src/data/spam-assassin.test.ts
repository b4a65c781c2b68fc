import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeSpamAssassinJsonl } from './convert.js';
import { openDataset } from './dataset.js';
import { emailBody, spamAssassinSource } from './sources/spam-assassin.js';
import { tempDir } from './test-fixtures.js';

describe('SpamAssassin corpus', () => {
  it('labels emails ham/spam by folder and can drop the headers', async () => {
    const src = spamAssassinSource({ bodyOnly: true });
    expect(src.indexed!.length).toBe(6046);
    expect(src.classes).toEqual(['ham', 'spam']);
    const ids = Array.from({ length: src.indexed!.length }, (_, i) => src.indexed!.idAt(i));
    const spamAt = ids.findIndex((id) => id.startsWith('spam-'));
    const spam = await src.indexed!.at(spamAt);
    const ham = await src.indexed!.at(0);
    expect([ham.label, spam.label]).toEqual([0, 1]);
    expect(ham.text).not.toMatch(/^From |Return-Path:/);
    expect(emailBody('Subject: x\nTo: y\n\nHello\nthere')).toBe('Hello\nthere');
  });

  it('converts to JSONL that reads back as a labelled text dataset', async () => {
    const file = join(tempDir(), 'spam.jsonl');
    expect(await writeSpamAssassinJsonl(file, { limit: 3, bodyOnly: true })).toBe(3);
    const rows = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { label: string; text: string });
    expect(rows.map((r) => r.label)).toEqual(['ham', 'ham', 'ham']);
    const ds = await openDataset({ source: { type: 'text', path: file, classes: ['ham', 'spam'] }, text: { tokenizer: 'bert-base-uncased', maxLength: 16 } });
    let n = 0;
    for await (const s of ds) {
      expect(s.label).toBe(0);
      expect(s.inputs.input_ids!.dims).toEqual([1, 16]);
      n++;
    }
    expect(n).toBe(3);
  });
});
