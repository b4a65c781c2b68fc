/**
 * The folder layout transformers.js (`@huggingface/transformers`) loads: `onnx/<part><suffix>.onnx`, where
 * the suffix names the `dtype` a user passes to `from_pretrained` (fp32 → none, fp16 → `_fp16`, q8 →
 * `_quantized`, int8, uint8, q4, q4f16), and a `quantize_config.json` saying how each file was made.
 */
import type { Model } from '../ir/graph.js';
import type { Target } from '../passes/pass.js';
import { cloneModel, quantizeModel, type QuantizeOptions } from './quantize.js';

export const TRANSFORMERS_JS_DTYPES = ['fp32', 'fp16', 'q8', 'int8', 'uint8', 'q4', 'q4f16'] as const;
export type TransformersJsDtype = (typeof TRANSFORMERS_JS_DTYPES)[number];

/** File-name suffix transformers.js looks for per dtype (its DEFAULT_DTYPE_SUFFIX_MAPPING). */
export const TRANSFORMERS_JS_SUFFIX: Readonly<Record<TransformersJsDtype, string>> = {
  fp32: '',
  fp16: '_fp16',
  q8: '_quantized',
  int8: '_int8',
  uint8: '_uint8',
  q4: '_q4',
  q4f16: '_q4f16',
};

export function isTransformersJsDtype(s: string): s is TransformersJsDtype {
  return (TRANSFORMERS_JS_DTYPES as readonly string[]).includes(s);
}

/**
 * The quantization steps that make each dtype, in order (what transformers.js's own conversion script does):
 * q8 is dynamic int8 (DynamicQuantizeLinear + MatMulInteger), int8/uint8 the same with that weight type, q4
 * 4-bit blocks of 32 (MatMulNBits), q4f16 those blocks over an fp16 model.
 */
export function transformersJsSteps(dtype: TransformersJsDtype, target: Target = 'cpu'): QuantizeOptions[] {
  switch (dtype) {
    case 'fp32':
      return [];
    case 'fp16':
      return [{ mode: 'fp16', target }];
    case 'q8':
    case 'int8':
      return [{ mode: 'dynamic', target, weightType: 'int8' }];
    case 'uint8':
      return [{ mode: 'dynamic', target, weightType: 'uint8' }];
    case 'q4':
      return [{ mode: 'weight-only', target, bits: 4, blockSize: 32 }];
    case 'q4f16':
      return [
        { mode: 'weight-only', target, bits: 4, blockSize: 32 },
        { mode: 'fp16', target },
      ];
  }
}

/** How one file of the folder was made, as quantize_config.json records it. */
export interface TransformersJsFile {
  file: string;
  dtype: TransformersJsDtype;
  steps: { mode: string; weightType?: string; bits?: number; blockSize?: number; stats: Record<string, number> }[];
  bytes?: number;
}

/**
 * One part's model in one dtype: a copy of `model` run through the dtype's steps (the input is not changed).
 * `log` hears each step's notes.
 */
export async function transformersJsVariant(
  model: Model,
  dtype: TransformersJsDtype,
  opts: { target?: Target; log?: (m: string) => void } = {},
): Promise<{ model: Model; steps: TransformersJsFile['steps'] }> {
  let m = cloneModel(model);
  const steps: TransformersJsFile['steps'] = [];
  for (const s of transformersJsSteps(dtype, opts.target)) {
    const r = await quantizeModel(m, { ...s, inPlace: true, log: opts.log }, { source: `--dtype ${dtype} (${s.mode})` });
    for (const n of r.notes) opts.log?.(`${dtype}: ${n}`);
    m = r.model;
    steps.push({ mode: s.mode, ...(s.weightType ? { weightType: s.weightType } : {}), ...(s.bits ? { bits: s.bits, blockSize: s.blockSize } : {}), stats: r.stats });
  }
  return { model: m, steps };
}

/** A file name of the layout: `<part><suffix>.onnx`. */
export function transformersJsFileName(part: string, dtype: TransformersJsDtype): string {
  return `${part}${TRANSFORMERS_JS_SUFFIX[dtype]}.onnx`;
}

/**
 * The part name a model file stands for in the layout: transformers.js's own part names are kept
 * (`model`, `encoder_model`, `decoder_model_merged`, `vision_encoder`, …; with any dtype suffix dropped);
 * any other file is the single `model`.
 */
export function transformersJsPart(fileName: string): string {
  let stem = fileName.replace(/\.onnx$/i, '');
  for (const suffix of Object.values(TRANSFORMERS_JS_SUFFIX)) if (suffix && stem.endsWith(suffix)) stem = stem.slice(0, -suffix.length);
  return /(^|_)model(_merged)?$|encoder|decoder|embed_tokens/.test(stem) ? stem : 'model';
}

/** Files of a Hugging Face model folder transformers.js reads beside the ONNX files (copied as they are). */
export const HF_SIDE_FILES = [
  'config.json',
  'generation_config.json',
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'added_tokens.json',
  'vocab.txt',
  'vocab.json',
  'merges.txt',
  'preprocessor_config.json',
  'processor_config.json',
];

/**
 * The dtype under which transformers.js should load a model made by these steps (pass id and params, as a
 * recipe records them): its numeric form decides. Nothing quantized → fp32; half precision only → fp16;
 * 4-bit weight blocks → q4 (q4f16 with fp16 after); dynamic int8 → int8 (uint8 weights → uint8); any other
 * 8-bit form (static QDQ, 8-bit weight blocks, quantization-aware training) → q8, transformers.js's "8-bit
 * quantized" file. Pruning and graph rewrites do not change the dtype.
 */
export function transformersJsDtypeOf(steps: readonly { pass: string; params: Record<string, unknown> }[]): TransformersJsDtype {
  const has = (id: string) => steps.find((s) => s.pass === id);
  const half = has('convert-half');
  const weightOnly = has('quantize-weight-only');
  const dynamic = has('quantize-dynamic');
  if (weightOnly && (weightOnly.params.bits ?? 4) === 4) return half ? 'q4f16' : 'q4';
  if (dynamic && !has('quantize-static') && !has('qat') && !weightOnly) return dynamic.params.weightType === 'uint8' ? 'uint8' : 'int8';
  if (weightOnly || dynamic || has('quantize-static') || has('qat')) return 'q8';
  return half ? 'fp16' : 'fp32';
}
