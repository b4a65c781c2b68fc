import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../ir/builder.js';
import { DataType } from '../ir/dtype.js';
import { Tensor } from '../ir/tensor.js';
import { encodeTensorProto } from '../ir/proto/encode.js';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseInputFlags, parseInputSets, parseShapeFlags, randomInputs, requireSizedDims, resolveDims, unsizedDims } from './inputs.js';

/** BERT-like inputs: ids and mask share [batch, seq]; a float input with a fixed last dim. */
function model() {
  const b = new GraphBuilder();
  const ids = b.input('input_ids', DataType.INT64, ['batch', 'seq']);
  const mask = b.input('attention_mask', DataType.INT64, ['batch', 'seq']);
  const x = b.input('x', DataType.FLOAT, ['batch', 3]);
  b.output(b.op('Add', [ids, mask]), 'y');
  b.output(b.op('Relu', [x]), 'z');
  return b.model();
}

describe('random inputs and symbolic dims', () => {
  it('an explicit shape fixes the dims it names for every input that shares them', () => {
    const m = model();
    const spec = { shapes: parseShapeFlags(['input_ids=4x32']) };
    expect(resolveDims(m, spec)).toEqual({ batch: 4, seq: 32 });
    const feeds = randomInputs(m, spec);
    expect(feeds['attention_mask']!.dims).toEqual([4, 32]);
    expect(feeds['x']!.dims).toEqual([4, 3]);
  });

  it('uses --dim values, then defaults (seq 128, others 1)', () => {
    expect(resolveDims(model(), { dims: { batch: 2 } })).toEqual({ batch: 2, seq: 128 });
    expect(resolveDims(model())).toEqual({ batch: 1, seq: 128 });
  });

  it('refuses contradictions and wrong ranks with the flags named', () => {
    const m = model();
    expect(() => resolveDims(m, { shapes: { input_ids: [4, 32] }, dims: { seq: 64 } })).toThrow(/gives 'seq' = 32, but --dim seq=64/);
    expect(() => resolveDims(m, { shapes: { input_ids: [4, 32], attention_mask: [4, 16] } })).toThrow(/--shape input_ids=4x32 gives 32/);
    expect(() => randomInputs(m, { shapes: { x: [1, 3, 3] } })).toThrow(/rank 3; the model declares \[batch, 3\]/);
    expect(() => parseShapeFlags(['x=1xq'])).toThrow(/bad --shape/);
  });

  it('is seeded, gives masks ones and ids small non-negative integers', () => {
    const m = model();
    const a = randomInputs(m, { seed: 5, dims: { seq: 16 } });
    const b = randomInputs(m, { seed: 5, dims: { seq: 16 } });
    const c = randomInputs(m, { seed: 6, dims: { seq: 16 } });
    expect(a['x']!.bytes).toEqual(b['x']!.bytes);
    expect(a['x']!.bytes).not.toEqual(c['x']!.bytes);
    expect(a['attention_mask']!.toNumbers().every((v) => v === 1)).toBe(true);
    const ids = a['input_ids']!.toNumbers();
    expect(ids.every((v) => Number.isInteger(v) && v >= 0 && v < 100)).toBe(true);
    expect(new Set(ids).size).toBeGreaterThan(3);
  });
});

describe('--input values', () => {
  /** Silero-like: audio with symbolic length, a scalar int64 sample rate, a state with fixed dims. */
  function vad() {
    const b = new GraphBuilder();
    const x = b.input('input', DataType.FLOAT, ['batch', 'n']);
    const sr = b.input('sr', DataType.INT64, []);
    const state = b.input('state', DataType.FLOAT, [2, 'batch', 4]);
    b.output(b.op('Relu', [x]), 'y');
    b.output(b.op('Identity', [sr]), 's');
    b.output(b.op('Relu', [state]), 't');
    return b.model();
  }

  it('refuses to make up a scalar integer and names the flag that gives it', () => {
    expect(() => randomInputs(vad(), { shapes: { input: [1, 512] } })).toThrow(/'sr' is a scalar int64 .*cannot sensibly randomize: give its value with --input sr=VALUE or --input sr=file\.pb/);
  });

  it('fills a given number into the input (typed as the model declares), a given tensor fixes its dims', () => {
    const state = Tensor.float([2, 3, 4], new Array(24).fill(0.5));
    const values = parseInputFlags(['sr=16000']);
    const feeds = randomInputs(vad(), { values: { ...values, state }, shapes: { input: [3, 512] } });
    expect(feeds['sr']!.dtype).toBe(DataType.INT64);
    expect(feeds['sr']!.dims).toEqual([]);
    expect(feeds['sr']!.toNumbers()).toEqual([16000]);
    expect(feeds['state']).toBe(state);
    expect(resolveDims(vad(), { values: { state } })).toMatchObject({ batch: 3 });
  });

  it('rejects values that do not fit: unknown input, fraction for an integer, bad flag, missing file', () => {
    expect(() => randomInputs(vad(), { values: { rate: 1, sr: 1 } })).toThrow(/no input 'rate'/);
    expect(() => randomInputs(vad(), { values: { sr: 1.5 } })).toThrow(/int64, give an integer/);
    expect(() => parseInputFlags(['sr'])).toThrow(/expected name=number or name=file\.pb/);
    expect(() => parseInputFlags(['sr=/nonexistent/x.pb'])).toThrow(/not a number and no such file/);
  });

  it('a file input given several times makes input sets, in the order given; names given once go to every set', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'inferopt-sets-'));
    try {
      const file = (name: string, v: number) => {
        const f = path.join(dir, `${name}-${v}.pb`);
        fs.writeFileSync(f, Buffer.concat(encodeTensorProto(Tensor.float([1, 2], [v, v]), name)));
        return f;
      };
      const flags = ['sr=16000', `input=${file('input', 1)}`, `state=${file('state', 10)}`, `input=${file('input', 2)}`, `state=${file('state', 20)}`];
      const { values, sets } = parseInputSets(flags);
      expect(values).toEqual({ sr: 16000 });
      expect(sets!.map((s) => [s['input']!.toNumbers()[0], s['state']!.toNumbers()[0]])).toEqual([[1, 10], [2, 20]]);
      // given once each: plain values, no sets (what parseInputFlags gives)
      expect(parseInputSets([`input=${file('input', 3)}`]).sets).toBeUndefined();
      expect(() => parseInputSets([...flags, `input=${file('input', 4)}`])).toThrow(/--input state is given 2 times and --input input 3 times: give each repeated input once per input set/);
      expect(() => parseInputSets(['sr=1', 'sr=2'])).toThrow(/a number is one value for every run/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('unsized symbolic dims are refused, never timed at 1', () => {
  /** A text-line recogniser's input: [N, 3, 48, W] — W is the line's width, set by the workload. */
  function lineModel() {
    const b = new GraphBuilder();
    b.output(b.op('Relu', [b.input('x', DataType.FLOAT, ['N', 3, 48, 'W'])]), 'y');
    return b.model();
  }

  it('names the dim and the flags that size it; the batch position defaults to 1 quietly', () => {
    expect(unsizedDims(lineModel())).toEqual([{ input: 'x', axis: 3, dim: 'W', declared: '[N, 3, 48, W]' }]);
    expect(() => requireSizedDims(lineModel())).toThrow(/^input 'x' \[N, 3, 48, W\]: dim 'W' \(axis 3\) has no size and would be timed at 1; give it with --dim W=N or --shape x=1x3x48xN$/);
    expect(() => requireSizedDims(lineModel(), {}, { dataFlag: true, what: 'profiled' })).toThrow(/would be profiled at 1; .*, or --data to time the real inputs$/);
    expect(unsizedDims(lineModel(), { dims: { W: 320 } })).toEqual([]);
    expect(unsizedDims(lineModel(), { shapes: { x: [1, 3, 48, 320] } })).toEqual([]);
    // seq has a known default (128), batch is axis 0: the BERT-like model above needs nothing
    expect(unsizedDims(model())).toEqual([]);
  });

  it('counts unnamed dims too', () => {
    const b = new GraphBuilder();
    b.output(b.op('Relu', [b.input('audio', DataType.FLOAT, [1, undefined as unknown as number])]), 'y');
    expect(() => requireSizedDims(b.model())).toThrow(/input 'audio' \[1, \?\]: an unnamed dim \(axis 1\) has no size.*--shape audio=1xN/);
  });
});
