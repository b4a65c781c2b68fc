/**
 * `inferopt quantize --layout transformers.js` writes the folder transformers.js loads, and transformers.js
 * (`@huggingface/transformers` on onnxruntime-node, nothing downloaded) loads every dtype from it: a small
 * BERT classifier (models/spam-bert) in a Hugging Face folder with its config and tokenizer.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bertTokenizerJsonFor, TextInputEncoder } from '../../src/data/text.js';
import { openSource } from '../../src/data/sources/index.js';
import { DataType } from '../../src/ir/dtype.js';
import { loadModel } from '../../src/ir/io.js';
import { Session } from '../../src/runtime/session.js';
import { TRANSFORMERS_JS_DTYPES } from '../../src/quantize/transformers-js.js';
import { runCli } from '../unit/run-cli.js';

const tmp = mkdtempSync(join(tmpdir(), 'inferopt-tjs-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A Hugging Face folder: config, tokenizer, and the model under onnx/. */
function hfFolder(dir: string): void {
  mkdirSync(join(dir, 'onnx'), { recursive: true });
  copyFileSync('models/spam-bert/model.onnx', join(dir, 'onnx/model.onnx'));
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(bertTokenizerJsonFor('bert-base-uncased')));
  const special = { pad_token: '[PAD]', unk_token: '[UNK]', cls_token: '[CLS]', sep_token: '[SEP]', mask_token: '[MASK]' };
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ tokenizer_class: 'BertTokenizer', do_lower_case: true, model_max_length: 128, ...special }));
  const config = { model_type: 'bert', architectures: ['BertForSequenceClassification'], id2label: { 0: 'ham', 1: 'spam' }, label2id: { ham: 0, spam: 1 }, hidden_size: 256, num_attention_heads: 4, num_hidden_layers: 4, max_position_embeddings: 128, vocab_size: 30522 };
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
}

const argmax = (v: ArrayLike<number>) => (Number(v[1]) > Number(v[0]) ? 1 : 0);

describe('quantize --layout transformers.js', () => {
  it('writes every dtype transformers.js names, and transformers.js loads and runs each on onnxruntime-node', async () => {
    const src = join(tmp, 'spam-bert');
    hfFolder(src);
    const out = join(tmp, 'spam-bert-tjs');
    const r = await runCli('quantize', src, '--layout', 'transformers.js', '-o', out);
    expect(r.stderr).not.toMatch(/Error|warning/);
    expect(r.code).toBe(0);
    const expected = ['model.onnx', 'model_fp16.onnx', 'model_quantized.onnx', 'model_int8.onnx', 'model_uint8.onnx', 'model_q4.onnx', 'model_q4f16.onnx'];
    expect(readdirSync(join(out, 'onnx')).sort()).toEqual([...expected].sort());
    for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json']) expect(readFileSync(join(out, f), 'utf8')).toBe(readFileSync(join(src, f), 'utf8'));
    const qc = JSON.parse(readFileSync(join(out, 'quantize_config.json'), 'utf8')) as { files: { file: string; dtype: string; how: string }[] };
    expect(qc.files.map((f) => f.dtype)).toEqual([...TRANSFORMERS_JS_DTYPES]);
    expect(qc.files.map((f) => f.file)).toEqual(expected.map((f) => `onnx/${f}`));
    // each file holds what its dtype means
    const ops = (f: string) => new Set([...loadModel(join(out, 'onnx', f)).graph.allNodes()].map((n) => n.opType));
    // dynamic int8: activations quantized at run time (ORT's fused DynamicQuantizeMatMul, or DynamicQuantizeLinear + MatMulInteger)
    const dynamicInt8 = (f: string) => [...ops(f)].filter((t) => t === 'DynamicQuantizeMatMul' || t === 'MatMulInteger');
    for (const f of ['model_quantized.onnx', 'model_int8.onnx', 'model_uint8.onnx']) expect(dynamicInt8(f), f).not.toEqual([]);
    expect(ops('model_q4.onnx')).toContain('MatMulNBits');
    expect(ops('model_q4f16.onnx')).toContain('MatMulNBits');
    expect(dynamicInt8('model.onnx')).toEqual([]);
    const weightTypes = (f: string) => new Set([...loadModel(join(out, 'onnx', f)).graph.initializers.values()].map((v) => v.initializer?.dtype));
    expect(weightTypes('model_fp16.onnx')).toContain(DataType.FLOAT16);
    expect(weightTypes('model_q4f16.onnx')).toContain(DataType.FLOAT16);
    expect(weightTypes('model_uint8.onnx')).toContain(DataType.UINT8);
    expect(weightTypes('model_int8.onnx')).toContain(DataType.INT8);
    expect(existsSync(join(src, 'onnx/model_quantized.onnx'))).toBe(false); // the input folder is untouched

    // the same texts through inferopt's own tokenizer and ORT on the input model: the reference logits
    const texts: string[] = [];
    for await (const rec of (await openSource({ type: 'spam-assassin', bodyOnly: true })).stream()) {
      if (rec.text) texts.push(rec.text);
      if (texts.length === 24) break;
    }
    const { enc, ref } = await ortLogits(src, join(src, 'onnx/model.onnx'), texts);

    const tf = await import('@huggingface/transformers');
    tf.env.allowRemoteModels = false;
    tf.env.localModelPath = tmp + '/';
    const tokenizer = await tf.AutoTokenizer.from_pretrained('spam-bert-tjs');
    const logitsOf: Record<string, number[][]> = {};
    for (const dtype of TRANSFORMERS_JS_DTYPES) {
      const model = await tf.AutoModelForSequenceClassification.from_pretrained('spam-bert-tjs', { dtype, device: 'cpu' });
      const rows: number[][] = [];
      for (const t of texts) {
        // transformers.js's truncation drops the final [SEP] that inferopt (and Python transformers) keep:
        // the models get inferopt's ids; the tokenizers are compared on the whole texts
        const ours = enc.encode(t);
        const inputs = {
          input_ids: new tf.Tensor('int64', ours.input_ids!.view() as BigInt64Array, [1, 128]),
          attention_mask: new tf.Tensor('int64', ours.attention_mask!.view() as BigInt64Array, [1, 128]),
        };
        if (dtype === 'fp32') expect([...(tokenizer(t).input_ids.data as BigInt64Array)].map(Number)).toEqual(enc.ids(t).ids); // whole texts, untruncated
        const o = await model(inputs);
        rows.push([...(o.logits.data as Float32Array)]);
      }
      await model.dispose();
      logitsOf[dtype] = rows;
    }
    // fp32 through transformers.js is the input model: the same logits as ORT on the input
    logitsOf.fp32!.forEach((row, i) => row.forEach((v, j) => expect(v).toBeCloseTo(ref[i]![j]!, 4)));
    for (const dtype of TRANSFORMERS_JS_DTYPES.filter((d) => d !== 'fp32')) {
      const rows = logitsOf[dtype]!;
      // its own file was loaded (logits differ from fp32), and it still classifies as the float model does
      const maxDiff = Math.max(...rows.flatMap((row, i) => row.map((v, j) => Math.abs(v - ref[i]![j]!))));
      expect(maxDiff, dtype).toBeGreaterThan(1e-6);
      const agree = rows.filter((row, i) => argmax(row) === argmax(ref[i]!)).length;
      expect(agree, `${dtype}: ${agree}/24 agree with fp32 (max logit change ${maxDiff.toFixed(3)})`).toBeGreaterThanOrEqual(22);
    }
  });

  it('refuses --mode with --layout, an unknown dtype and a file as -o, in one line', async () => {
    const src = join(tmp, 'spam-bert');
    if (!existsSync(src)) hfFolder(src);
    const file = join(tmp, 'a-file');
    writeFileSync(file, 'x');
    for (const [args, msg] of [
      [['--mode', 'dynamic', '-o', join(tmp, 'o1')], /leave out --mode/],
      [['--dtype', 'q3', '-o', join(tmp, 'o2')], /unknown --dtype 'q3'/],
      [['-o', file], /is a file; --layout writes a folder/],
    ] as const) {
      const r = await runCli('quantize', src, '--layout', 'transformers.js', ...args);
      expect(r.code).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(msg);
    }
  });
});

describe('optimize --layout transformers.js', () => {
  it('writes the chosen model under the dtype its form is, with config and tokenizer, and transformers.js runs it as ORT does', async () => {
    const src = join(tmp, 'spam-bert-opt-src');
    hfFolder(src);
    const out = join(tmp, 'spam-bert-opt');
    const r = await runCli('optimize', join(src, 'onnx/model.onnx'), '--data', 'models/spam-bert/test.json', '--limit', '48', '--budget', '4', '--runs', '5', '--layout', 'transformers.js', '-o', out);
    expect(r.stderr).not.toMatch(/Error/);
    expect(r.code).toBe(0);
    const qc = JSON.parse(readFileSync(join(out, 'quantize_config.json'), 'utf8')) as { dtypes: string[]; files: { file: string; dtype: string; recipe: { steps: { pass: string }[] } }[] };
    const [file] = qc.files;
    const dtype = file!.dtype as (typeof TRANSFORMERS_JS_DTYPES)[number];
    expect(qc.dtypes).toEqual([dtype]);
    const suffix = { fp32: '', fp16: '_fp16', q8: '_quantized', int8: '_int8', uint8: '_uint8', q4: '_q4', q4f16: '_q4f16' }[dtype];
    expect(file!.file).toBe(`onnx/model${suffix}.onnx`);
    expect(readdirSync(join(out, 'onnx'))).toEqual([`model${suffix}.onnx`]);
    const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as { outputs: { model: string } };
    expect(results.outputs.model).toBe(file!.file);
    expect(r.stdout).toContain(join(out, file!.file));
    for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'recipe.json', 'report.html']) expect(existsSync(join(out, f)), f).toBe(true);
    expect(readdirSync(join(src, 'onnx'))).toEqual(['model.onnx']); // the input folder is untouched

    // transformers.js, asked for that dtype, loads that file: the same logits as ORT running it
    const texts = ['Win a free cruise now, click here', 'Are we still meeting for lunch tomorrow?', 'URGENT: your account has been selected for a cash prize'];
    const { enc, ref } = await ortLogits(src, join(out, file!.file), texts);
    const tf = await import('@huggingface/transformers');
    tf.env.allowRemoteModels = false;
    tf.env.localModelPath = tmp + '/';
    const model = await tf.AutoModelForSequenceClassification.from_pretrained('spam-bert-opt', { dtype, device: 'cpu' });
    for (const [i, t] of texts.entries()) {
      const ours = enc.encode(t);
      const o = await model({
        input_ids: new tf.Tensor('int64', ours.input_ids!.view() as BigInt64Array, [1, 128]),
        attention_mask: new tf.Tensor('int64', ours.attention_mask!.view() as BigInt64Array, [1, 128]),
      });
      [...(o.logits.data as Float32Array)].forEach((v, j) => expect(v).toBeCloseTo(ref[i]![j]!, 4));
    }
    await model.dispose();
  });

  it('refuses an unknown --layout in one line', async () => {
    const r = await runCli('optimize', 'models/spam-bert/model.onnx', '--layout', 'onnx-community', '-o', join(tmp, 'o3'));
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/unknown --layout 'onnx-community' \(expected transformers\.js\)/);
  });
});

/** ORT's logits for each text, the model fed by the folder's tokenizer (the reference transformers.js must match). */
async function ortLogits(folder: string, model: string, texts: readonly string[]) {
  const enc = new TextInputEncoder({ tokenizer: join(folder, 'tokenizer.json'), maxLength: 128, names: { types: null } });
  const session = await Session.create(model);
  const ref: number[][] = [];
  for (const t of texts) ref.push([...(await session.run(enc.encode(t))).logits!.toFloat32()]);
  await session.release();
  return { enc, ref };
}
