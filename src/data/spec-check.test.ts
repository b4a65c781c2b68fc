import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { InputError } from '../errors.js';
import { loadDatasetSpec } from './dataset.js';

const dir = mkdtempSync(join(tmpdir(), 'inferopt-spec-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The spec written to a file, loaded as `--data spec.json` would. */
async function load(spec: unknown): Promise<unknown> {
  const f = join(dir, 'spec.json');
  writeFileSync(f, JSON.stringify(spec));
  return loadDatasetSpec(f);
}

describe('dataset spec validation', () => {
  const base = { source: { type: 'idx', path: 'x-images-idx3-ubyte' } };
  const bad: [string, unknown, RegExp][] = [
    ['source.path: 123', { source: { type: 'idx', path: 123 } }, /source: path must be a string, not 123$/],
    ['source.path: {}', { source: { type: 'idx', path: {} } }, /source: path must be a string, not \{\}$/],
    ['source.path: ""', { source: { type: 'idx', path: '' } }, /source\.path is empty/],
    ['labels: 5', { source: { type: 'npy', path: 'x.npy', labels: 5 } }, /source: labels must be a string, not 5/],
    ['classes: 5', { source: { type: 'idx', path: 'x', classes: 5 } }, /source: classes must be a list of strings, not 5/],
    ['limit: "abc"', { ...base, limit: 'abc' }, /limit must be an integer, not "abc"/],
    ['limit: 0.5', { ...base, limit: 0.5 }, /limit must be an integer, not 0\.5/],
    ['limit: 0', { ...base, limit: 0 }, /limit must be ≥ 1, not 0/],
    ['part: "both"', { ...base, part: 'both' }, /part must be one of calibration, evaluation/],
    ['a typo', { ...base, limt: 5 }, /unknown key 'limt'/],
    ['source type', { source: { type: 'imagefolder', path: 'x' } }, /type must be one of image-folder/],
    ['eval.threshold', { ...base, eval: { threshold: 'high' } }, /eval: threshold must be a finite number, not "high"/],
    ['text.maxLength', { ...base, text: { tokenizer: 'bert-base-uncased', maxLength: -1 } }, /text: maxLength must be between 1 and 65536, not -1/],
    ['an array', [base], /a dataset spec is a JSON object/],
  ];
  for (const [name, spec, re] of bad) {
    it(`${name} → one InputError line`, async () => {
      const e = await load(spec).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(InputError);
      expect((e as Error).message).toMatch(re);
      expect((e as Error).message).not.toMatch(/\n/);
    });
  }

  it('accepts the documented keys (control)', async () => {
    await expect(load({ ...base, limit: 5, shuffleSeed: 1, part: 'evaluation', eval: { task: 'classification' }, text: { tokenizer: 'bert-base-uncased', names: { mask: null } } })).resolves.toBeTruthy();
  });
});
