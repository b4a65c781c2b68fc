/**
 * Hostile input, generated (no committed binaries): truncated and bit-flipped models (flips aimed at the
 * protobuf structure bytes — tags and lengths — found by walking the encoding), wire types that do not
 * exist, crafted invalid graphs, hostile flags, recipes, dataset specs and external-data fields, and strings
 * that try to inject into the terminal or into report.md. Every case is run through the library and/or the
 * CLI, and the outcomes are counted: crashes (anything but a clean InputError / exit 0 or 2: "internal
 * error", a stack trace, another exit code), hangs, invalid outputs written (an output left after a refusal,
 * or one that does not load back as a valid graph) and inputs changed. All must be 0; the counts are printed.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clearLine, liveLine, safeText } from '../../src/cli/terminal.js';
import { InputError } from '../../src/errors.js';
import { checkModel } from '../../src/ir/check.js';
import { DataType, Graph, GraphBuilder, Tensor, Value, loadModel, modelToBytes, saveModel, type Model } from '../../src/ir/index.js';
import { Writer } from '../../src/ir/proto/wire.js';
import { md } from '../../src/report/markdown.js';
import { rng } from '../../src/util/random.js';
import { runCli, type CliResult } from './run-cli.js';

const counts = { cases: 0, crashes: 0, hangs: 0, invalidOutputs: 0, inputsChanged: 0 };
const failures: string[] = [];
const fail = (kind: keyof typeof counts, what: string) => {
  counts[kind]++;
  if (failures.length < 30) failures.push(`${kind}: ${what}`);
};

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'inferopt-fuzz-input-'));
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
  console.log(`fuzz-input: ${counts.cases} cases — crashes ${counts.crashes}, hangs ${counts.hangs}, invalid outputs written ${counts.invalidOutputs}, inputs changed ${counts.inputsChanged}`);
});

/** A small model with what a decoder must get right: initializers, attributes of several types, symbolic dims and an If with subgraphs using outer values. */
function baseModel(): Model {
  const r = rng(7);
  const b = new GraphBuilder();
  const x = b.input('x', DataType.FLOAT, ['N', 8]);
  const cond = b.input('c', DataType.BOOL, []);
  const h = b.op('Relu', [b.op('Add', [b.op('MatMul', [x, b.floats('w', [8, 8], Array.from({ length: 64 }, () => r() - 0.5))]), b.floats('bias', [8], Array.from({ length: 8 }, () => r()))])], {}, { name: 'dense' });
  const then = new Graph('then');
  const tb = new GraphBuilder(then);
  tb.output(tb.op('Identity', [h]), 'then_out');
  const els = new Graph('else');
  const eb = new GraphBuilder(els);
  eb.output(eb.op('Neg', [h]), 'else_out');
  const y = b.op('If', [cond], { then_branch: then, else_branch: els }, { name: 'branch' });
  b.output(b.op('Softmax', [y], { axis: -1 }, { name: 'probs' }), 'y');
  return b.model({ opset: 17 });
}

/** Byte offsets of tags and length prefixes, recursing into length-delimited fields that parse as messages. */
function structureBytes(buf: Uint8Array, start = 0, end = buf.length, depth = 0): number[] | undefined {
  const out: number[] = [];
  let p = start;
  const varint = (): number | undefined => {
    let v = 0;
    for (let shift = 0; shift < 63; shift += 7) {
      if (p >= end) return undefined;
      const b = buf[p++]!;
      v += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return v;
    }
    return undefined;
  };
  while (p < end) {
    const tagStart = p;
    const t = varint();
    if (t === undefined || t < 8) return undefined;
    for (let i = tagStart; i < p; i++) out.push(i);
    switch (t % 8) {
      case 0:
        if (varint() === undefined) return undefined;
        break;
      case 1:
        p += 8;
        break;
      case 5:
        p += 4;
        break;
      case 2: {
        const lenStart = p;
        const len = varint();
        if (len === undefined || p + len > end) return undefined;
        for (let i = lenStart; i < p; i++) out.push(i);
        const inner = depth < 12 && len > 1 ? structureBytes(buf, p, p + len, depth + 1) : undefined;
        if (inner) out.push(...inner);
        p += len;
        break;
      }
      default:
        return undefined;
    }
    if (p > end) return undefined;
  }
  return out;
}

/** Loads hostile bytes in the library: a valid model or an InputError; anything else is a crash. */
function loadCase(bytes: Uint8Array, what: string): Model | undefined {
  counts.cases++;
  try {
    const m = loadModel(bytes);
    // what loads must be valid, and must encode and load back (nothing invalid can be written from it)
    if (checkModel(m).length) fail('invalidOutputs', `${what}: loaded but the checker finds problems`);
    loadModel(modelToBytes(m));
    return m;
  } catch (e) {
    if (!(e instanceof InputError)) fail('crashes', `${what}: ${(e as Error).constructor.name}: ${(e as Error).message}`);
    else if (/\n/.test(e.message)) fail('crashes', `${what}: a multi-line error`);
    return undefined;
  }
}

const sha = (f: string) => (fs.existsSync(f) ? createHash('sha256').update(fs.readFileSync(f)).digest('hex') : 'absent');

/**
 * Runs the CLI on hostile input: exit 0 or 2 (or `allowed`), one stderr line without "internal error" or a
 * stack, no control character on either stream, inputs unchanged, and `output` (if named) either absent after
 * a refusal or a valid model after success.
 */
async function cliCase(what: string, args: string[], o: { inputs?: string[]; output?: string; outputIsModel?: boolean; allowed?: number[]; expectRefusal?: boolean } = {}): Promise<CliResult | undefined> {
  counts.cases++;
  const before = (o.inputs ?? []).map(sha);
  let timer: NodeJS.Timeout | undefined;
  const r = await Promise.race([runCli(...args), new Promise<'hang'>((res) => (timer = setTimeout(() => res('hang'), 30_000)))]);
  clearTimeout(timer);
  if (r === 'hang') {
    fail('hangs', what);
    return undefined;
  }
  const allowed = o.allowed ?? (o.expectRefusal ? [2] : [0, 2]);
  if (!allowed.includes(r.code)) fail('crashes', `${what}: exit ${r.code} ${r.stderr.slice(0, 200)}`);
  if (/internal error|\n\s+at /.test(r.stderr)) fail('crashes', `${what}: ${r.stderr.slice(0, 200)}`);
  if (r.code === 2 && r.stderr.trim().split('\n').length !== 1) fail('crashes', `${what}: refusal is not one line: ${JSON.stringify(r.stderr.slice(0, 300))}`);
  if (/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/.test(r.stdout + r.stderr)) fail('crashes', `${what}: control characters printed raw`);
  (o.inputs ?? []).forEach((f, i) => {
    if (sha(f) !== before[i]) fail('inputsChanged', `${what}: ${f}`);
  });
  if (o.output) {
    const exists = fs.existsSync(o.output);
    if (r.code !== 0 && exists) fail('invalidOutputs', `${what}: output left after exit ${r.code}`);
    if (r.code === 0 && o.outputIsModel) {
      try {
        loadModel(o.output);
      } catch (e) {
        fail('invalidOutputs', `${what}: the written model does not load: ${(e as Error).message}`);
      }
    }
    fs.rmSync(o.output, { recursive: true, force: true });
  }
  return r;
}

describe('fuzz: damaged model bytes', () => {
  it('truncations at every structure boundary and in between', () => {
    const bytes = modelToBytes(baseModel());
    const cuts = new Set<number>([0, 1, 2, bytes.length - 1, ...(structureBytes(bytes) ?? [])]);
    for (let i = 3; i < bytes.length; i += 17) cuts.add(i);
    for (const n of cuts) loadCase(bytes.subarray(0, n), `truncated to ${n}`);
    expect(cuts.size).toBeGreaterThan(100);
  });

  it('bit flips in tags and lengths (library), and through `simplify` (CLI)', async () => {
    const bytes = modelToBytes(baseModel());
    const positions = structureBytes(bytes)!;
    expect(positions.length).toBeGreaterThan(100);
    const r = rng(11);
    const loaded: Uint8Array[] = [];
    for (let k = 0; k < 400; k++) {
      const b = bytes.slice();
      const flips = 1 + Math.floor(r() * 2);
      for (let f = 0; f < flips; f++) b[positions[Math.floor(r() * positions.length)]!]! ^= 1 << Math.floor(r() * 8);
      if (loadCase(b, `bit flip #${k}`) && loaded.length < 12) loaded.push(b);
    }
    // some flips leave a valid model (a changed name, a different dim): those go through the CLI end to end
    const input = path.join(dir, 'flipped.onnx');
    const output = path.join(dir, 'flipped.out.onnx');
    for (const [i, b] of loaded.entries()) {
      fs.writeFileSync(input, b);
      await cliCase(`simplify bit-flipped #${i}`, ['simplify', input, '-o', output], { inputs: [input], output, outputIsModel: true });
    }
  });

  it('wire types 3, 4, 6 and 7 in the tags of known fields are refused', () => {
    const bytes = modelToBytes(baseModel());
    const positions = structureBytes(bytes)!;
    const r = rng(5);
    for (let k = 0; k < 60; k++) {
      const b = bytes.slice();
      const p = positions[Math.floor(r() * positions.length)]!;
      if (k > 0 && (b[p]! & 0x80) !== 0) continue; // a continuation byte of a long tag or length
      b[p] = (b[p]! & 0xf8) | [3, 4, 6, 7][k % 4]!;
      loadCase(b, `wire type ${[3, 4, 6, 7][k % 4]} at ${p}`);
    }
    // the case: field 1 (ir_version) written with wire type 7 — it used to be read as a varint
    const b = bytes.slice();
    b[0] = (1 << 3) | 7;
    expect(() => loadModel(b)).toThrow(/wire type 7/);
  });
});

/** Invalid graphs built on purpose, each with the checker's expected complaint. */
function invalidGraphs(): [string, Model, RegExp][] {
  const out: [string, Model, RegExp][] = [];
  const make = (name: string, edit: (m: Model) => void, re: RegExp) => {
    const m = baseModel();
    edit(m);
    out.push([name, m, re]);
  };
  make('a cycle', (m) => {
    const g = m.graph;
    const relu = g.nodes.find((n) => n.opType === 'Relu')!;
    const add = g.nodes.find((n) => n.opType === 'Add')!;
    add.setInput(1, relu.outputs[0]!); // Add reads Relu's output, which reads Add's
  }, /before the node that computes it/);
  make('nodes out of order', (m) => m.graph.nodes.reverse(), /before the node that computes it/);
  make('a duplicate definition', (m) => {
    const [a, b] = m.graph.nodes;
    b!.outputs[0]!.name = a!.outputs[0]!.name;
  }, /defined twice/);
  make('an undefined graph output', (m) => m.graph.outputs.push(new Value('nowhere')), /graph output 'nowhere' is not computed/);
  make('a dangling node input', (m) => m.graph.nodes.find((n) => n.opType === 'Relu')!.setInput(0, new Value('ghost')), /uses 'ghost', which is not defined before it/);
  make('a duplicated graph output', (m) => m.graph.outputs.push(m.graph.outputs[0]!), /listed twice/);
  make('a negative dim', (m) => (m.graph.inputs[0]!.type = { kind: 'tensor', elemType: DataType.FLOAT, shape: [1, -8] }), /dimension -8/);
  make('opset 0', (m) => (m.opsetImports = [{ domain: '', version: 0 }]), /opset version 0/);
  make('a domain not imported', (m) => (m.graph.nodes[0]!.domain = 'com.example'), /domain 'com.example', which the model does not import/);
  make('a subgraph using a value defined after its node', (m) => {
    const iff = m.graph.nodes.find((n) => n.opType === 'If')!;
    const later = m.graph.nodes.find((n) => n.opType === 'Softmax')!.outputs[0]!;
    iff.subgraphs()[1]!.nodes[0]!.setInput(0, later);
  }, /uses 'y', which is not defined before it/);
  make('a subgraph node output shadowing an outer name', (m) => {
    const iff = m.graph.nodes.find((n) => n.opType === 'If')!;
    iff.subgraphs()[1]!.nodes[0]!.outputs[0]!.name = 'x'; // the else branch's Neg computes a value named like the model input
  }, /'x' \(output of node .*\(Neg\)\) shadows a value of an enclosing graph/);
  return out;
}

describe('fuzz: crafted invalid graphs', () => {
  it('are refused on load, by simplify and quantize (exit 2, nothing written), and listed by inspect', async () => {
    for (const [name, model, re] of invalidGraphs()) {
      const file = path.join(dir, 'invalid.onnx');
      fs.writeFileSync(file, modelToBytes(model));
      counts.cases++;
      expect(() => loadModel(file), name).toThrow(InputError);
      expect(() => loadModel(file), name).toThrow(re);
      if (name.startsWith('a subgraph')) expect(() => loadModel(file)).toThrow(/main\/branch:else_branch: /);
      const out = path.join(dir, 'invalid.out.onnx');
      await cliCase(`simplify ${name}`, ['simplify', file, '-o', out], { inputs: [file], output: out, expectRefusal: true });
      await cliCase(`quantize ${name}`, ['quantize', file, '-o', out, '--mode', 'dynamic'], { inputs: [file], output: out, expectRefusal: true });
      const text = await cliCase(`inspect ${name}`, ['inspect', file], { inputs: [file], expectRefusal: true });
      expect(text?.stdout, name).toMatch(/INVALID ONNX GRAPH/);
      expect(text?.stdout, name).toMatch(re);
      const json = await cliCase(`inspect --json ${name}`, ['inspect', file, '--json'], { inputs: [file], expectRefusal: true });
      const parsed = JSON.parse(json!.stdout) as { valid: boolean; problems: { message: string }[] };
      expect(parsed.valid, name).toBe(false);
      expect(parsed.problems.map((p) => p.message).join('\n'), name).toMatch(re);
    }
  });

  it('the valid base model passes the checker and inspect says so (control)', async () => {
    const file = path.join(dir, 'valid.onnx');
    saveModel(baseModel(), file);
    expect(checkModel(loadModel(file))).toEqual([]);
    const r = await cliCase('inspect valid', ['inspect', file, '--json'], { inputs: [file], allowed: [0] });
    expect(JSON.parse(r!.stdout).valid).toBe(true);
  });
});

/** An MLP with one MatMul/Add pair, for flags and recipes. */
function mlpFile(name: string, nodeName = (op: string) => op): string {
  const r = rng(1);
  const b = new GraphBuilder();
  const x = b.input('x', DataType.FLOAT, [1, 32]);
  const h = b.op('Relu', [b.op('MatMul', [x, b.floats('w1', [32, 32], Array.from({ length: 1024 }, () => r() - 0.5))], {}, { name: nodeName('mm1') })], {}, { name: nodeName('relu') });
  b.output(b.op('MatMul', [h, b.floats('w2', [32, 4], Array.from({ length: 128 }, () => r() - 0.5))], {}, { name: nodeName('mm2') }), 'y');
  const file = path.join(dir, name);
  saveModel(b.model({ opset: 17 }), file);
  return file;
}

describe('fuzz: hostile flags, recipes and dataset specs', () => {
  it('quantize flags outside their declared types and ranges', async () => {
    const file = mlpFile('flags.onnx');
    const out = path.join(dir, 'flags.out.onnx');
    const cases: [string[], RegExp][] = [
      [['--mode', 'weight-only', '--block-size', '1e308'], /--block-size must be an integer/],
      [['--mode', 'weight-only', '--block-size', '4294967312'], /--block-size must be a power of two/],
      [['--mode', 'weight-only', '--block-size', '-16'], /--block-size must be a power of two/],
      [['--mode', 'weight-only', '--block-size', '32abc'], /--block-size must be an integer, not "32abc"/],
      [['--mode', 'weight-only', '--bits', '3'], /--bits must be one of 4, 8/],
      [['--mode', 'weight-only', '--accuracy-level', '99'], /--accuracy-level must be one of 0, 1, 2, 3, 4/],
      [['--mode', 'weight-only', '--algorithm', 'evil'], /--algorithm must be one of rtn, gptq/],
      [['--mode', 'static', '--calib', 'random:2', '--calib-method', 'evil'], /--calib-method must be one of minmax, percentile, entropy/],
      [['--mode', 'static', '--calib', 'random:2', '--percentile', '1e999'], /--percentile must be a finite number/],
      [['--mode', 'static', '--calib', 'random:2', '--activation-type', 'int3'], /--activation-type must be one of auto, int8, uint8/],
      [['--mode', 'static', '--calib', 'random:2', '--calib-limit', '1e400'], /--calib-limit must be an integer/],
      [['--mode', '\u001b[2Jevil'], /unknown --mode '\\x1b\[2Jevil'/],
    ];
    for (const [flags, re] of cases) {
      const r = await cliCase(`quantize ${flags.join(' ')}`, ['quantize', file, '-o', out, ...flags], { inputs: [file], output: out, expectRefusal: true });
      expect(r?.stderr, flags.join(' ')).toMatch(re);
    }
    // control: the same flags with good values write a model
    await cliCase('quantize weight-only (control)', ['quantize', file, '-o', out, '--mode', 'weight-only', '--block-size', '16', '--bits', '8', '--accuracy-level', '4'], { inputs: [file], output: out, outputIsModel: true, allowed: [0] });
  });

  it('recipes with values outside their declarations, and a recipe made for another model', async () => {
    const file = mlpFile('recipe.onnx');
    const step = (pass: string, params: unknown) => ({ format: 'inferopt-recipe', version: 1, recipe: { target: 'cpu', steps: [{ pass, params }], session: { threads: 1, optLevel: 'all', executionMode: 'sequential' } } });
    const cases: [unknown, RegExp][] = [
      [step('quantize-dynamic', { weightType: 'int3' }), /weightType must be one of int8, uint8, not "int3"/],
      [step('quantize-dynamic', { perChannel: 'yes' }), /perChannel must be true or false/],
      [step('quantize-static', { calibMethod: 'evil' }), /calibMethod must be one of/],
      [step('quantize-weight-only', { accuracyLevel: 99 }), /accuracyLevel must be one of 0, 1, 2, 3, 4/],
      [step('quantize-weight-only', { blockSize: '32' }), /blockSize must be an integer, not "32"/],
      [step('quantize-weight-only', { blockSize: 1e308 }), /blockSize must be an integer/],
      [step('quantize-weight-only', { blockSize: 2 ** 32 + 16 }), /blockSize must be a power of two/],
      [step('quantize-weight-only', { calibration: { evil: true } }), /run-time data/],
      [step('quantize-dynamic', JSON.parse('{"__proto__": {"x": 1}}')), /unknown parameter '__proto__'/],
      [step('quantize-dynamic', null), /"params" must be an object/],
      [step('rm -rf', {}), /unknown pass 'rm -rf'/],
      [{ ...step('simplify', {}), model: { file: 'other.onnx', sha256: 'f'.repeat(64) } }, /the recipe was made for "other\.onnx" .*--other-model/],
      [{ ...step('simplify', {}), model: { file: 'x', sha256: '../../etc/passwd' } }, /"model" must be/],
      [{ format: 'inferopt-recipe', version: 1, recipe: { target: 'cpu', steps: 'all', session: {} } }, /"steps" must be an array/],
    ];
    for (const [i, [recipe, re]] of cases.entries()) {
      const rf = path.join(dir, `r${i}.json`);
      fs.writeFileSync(rf, JSON.stringify(recipe));
      const out = path.join(dir, `recipe-out-${i}`);
      const r = await cliCase(`optimize --recipe #${i}`, ['optimize', file, '--recipe', rf, '-o', out], { inputs: [file, rf], output: out, expectRefusal: true });
      expect(r?.stderr, String(i)).toMatch(re);
    }
  });

  it('dataset specs with wrong types and ranges', async () => {
    const file = mlpFile('spec.onnx');
    const cases: [unknown, RegExp][] = [
      [{ source: { type: 'npy', path: 123 } }, /path must be a string, not 123/],
      [{ source: { type: 'npy', path: {} } }, /path must be a string, not \{\}/],
      [{ source: { type: 'npy', path: 'x.npy', labels: 5 } }, /labels must be a string, not 5/],
      [{ source: { type: 'npy', path: 'x.npy', classes: 5 } }, /classes must be a list of strings/],
      [{ source: { type: 'npy', path: 'x.npy' }, limit: 'abc' }, /limit must be an integer, not "abc"/],
      [{ source: { type: 'npy', path: 'x.npy' }, limit: 0.5 }, /limit must be an integer, not 0\.5/],
      [{ source: { type: 'npy', path: 'x.npy' }, shuffleBuffer: 1e12 }, /shuffleBuffer must be between/],
      [{ source: { type: 'npy', path: 'x.npy' }, eval: { task: 'evil' } }, /task must be one of/],
      [{ source: { type: 'npy', path: 'x.npy', ['\u001b[31mred']: 1 } }, /unknown key '\\u001b\[31mred'/],
      [[1, 2], /a dataset spec is a JSON object/],
    ];
    for (const [i, [spec, re]] of cases.entries()) {
      const sf = path.join(dir, `spec${i}.json`);
      fs.writeFileSync(sf, JSON.stringify(spec));
      const r = await cliCase(`eval --data spec #${i}`, ['eval', file, '--data', sf], { inputs: [file, sf], expectRefusal: true });
      expect(r?.stderr, JSON.stringify(spec)).toMatch(re);
    }
  });

  it('external-data fields ORT would refuse are refused at load', () => {
    const sub = path.join(dir, 'ext');
    fs.mkdirSync(sub, { recursive: true });
    fs.writeFileSync(path.join(sub, 'w.bin'), new Uint8Array(64));
    const withExternal = (entries: [string, string][]) => {
      const w = new Writer();
      w.varintField(1, 8);
      w.message(7, (g) => {
        g.message(1, (n) => {
          n.stringField(1, 'w');
          n.stringField(2, 'y');
          n.stringField(4, 'Identity');
        });
        g.message(5, (t) => {
          t.varintField(1, 4);
          t.varintField(2, DataType.FLOAT);
          t.stringField(8, 'w');
          for (const [k, v] of entries) t.message(13, (e) => (e.stringField(1, k), e.stringField(2, v)));
          t.varintField(14, 1);
        });
        g.message(12, (o) => o.stringField(1, 'y'));
      });
      w.message(8, (o) => o.varintField(2, 17));
      const f = path.join(sub, 'm.onnx');
      fs.writeFileSync(f, w.toBytes());
      return f;
    };
    expect(loadModel(withExternal([['location', 'w.bin'], ['offset', '16']])).graph.initializers.get('w')!.initializer!.dims).toEqual([4]);
    const bad: [[string, string][], RegExp][] = [
      [[['location', 'w.bin'], ['offset', '1.5']], /offset '1\.5' is not a non-negative integer/],
      [[['location', 'w.bin'], ['offset', '-16']], /offset '-16'/],
      [[['location', 'w.bin'], ['offset', '1e1']], /offset '1e1'/],
      [[['location', 'w.bin'], ['offset', ' 16']], /offset ' 16'/],
      [[['location', 'w.bin'], ['offset', '99999999999999999999']], /offset '99999999999999999999'/],
      [[['location', 'w.bin'], ['length', '15']], /length 15 does not match the tensor's 16 bytes/],
      [[['location', 'w.bin'], ['length', '0x10']], /length '0x10'/],
      [[['location', 'w.bin'], ['evil', '1']], /unknown key 'evil'/],
      [[['location', 'w.bin'], ['__proto__', '1']], /unknown key '__proto__'/],
      [[['location', '']], /without a location/],
      [[['offset', '0']], /without a location/],
    ];
    for (const [entries, re] of bad) {
      counts.cases++;
      const f = withExternal(entries);
      expect(() => loadModel(f), JSON.stringify(entries)).toThrow(InputError);
      expect(() => loadModel(f), JSON.stringify(entries)).toThrow(re);
    }
  });
});

describe('fuzz: injection through names', () => {
  it('ESC sequences in producer_name and node names never reach the terminal raw', async () => {
    const m = baseModel();
    m.producerName = '\u001b]0;pwned\u0007\u001b[2J\u001b[31m';
    m.graph.nodes[0]!.name = 'evil\u001b[1A\r\u202etxt.exe';
    const file = path.join(dir, 'esc.onnx');
    saveModel(m, file);
    const r = await cliCase('inspect ESC producer', ['inspect', file], { inputs: [file], allowed: [0] });
    expect(r!.stdout).toContain('\\x1b]0;pwned\\x07');
    expect(safeText('a\u001b[2Jb\r\nc\u202e')).toBe('a\\x1b[2Jb\\x0d\nc\\u202e');
  });

  it('a node name with a double quote or backslash does not break parsing ORT profile JSON', async () => {
    const b = new GraphBuilder();
    const x = b.input('x', DataType.FLOAT, [1, 16]);
    const h = b.op('Relu', [x], {}, { name: 'say "hi"' });
    b.output(b.op('Sigmoid', [h], {}, { name: 'back\\slash\u001b[2J' }), 'y');
    const file = path.join(dir, 'quote.onnx');
    saveModel(b.model({ opset: 17 }), file);
    const r = await cliCase('profile quoted node names', ['profile', file, '--runs', '2', '--warmup', '1', '--no-peak', '--json'], { inputs: [file], allowed: [0] });
    const nodes = (JSON.parse(r!.stdout) as { nodes?: { node: string }[] }).nodes?.map((n) => n.node) ?? [];
    expect(r!.stdout).toContain('say \\"hi\\"');
    expect(nodes.length === 0 || nodes.includes('say "hi"')).toBe(true);
  });

  it('optimize: report.md escapes a hostile model file name (HTML, a newline starting a heading); quoted node names profile', async () => {
    const hostile = 'x"><img src=x onerror=alert(1)>\n# pwned [link](javascript:alert(1)) |cell| `code` *bold*';
    const escaped = md(hostile);
    expect(escaped).not.toMatch(/[<>\n]/);
    expect(escaped).not.toMatch(/(^|[^\\])[`*|]/);
    expect(escaped).not.toMatch(/\]\(/);
    const sub = path.join(dir, 'inj');
    fs.mkdirSync(sub, { recursive: true });
    const name = 'x"><img src=x onerror=alert(1)>\n# pwned.onnx';
    const file = path.join(sub, name);
    // node names with a quote and a backslash too: optimize profiles the model with ORT
    fs.copyFileSync(mlpFile('quoted.onnx', (op) => `${op} "q" \\`), file);
    const recipe = path.join(dir, 'simplify-recipe.json');
    fs.writeFileSync(recipe, JSON.stringify({ format: 'inferopt-recipe', version: 1, recipe: { target: 'cpu', steps: [{ pass: 'simplify', params: {} }], session: { threads: 1, optLevel: 'all', executionMode: 'sequential' } } }));
    const out = path.join(dir, 'inj-out');
    const r = await cliCase('optimize with a hostile file name', ['optimize', file, '--recipe', recipe, '-o', out, '--runs', '3', '--limit', '4'], { inputs: [file], allowed: [0] });
    expect(r!.code).toBe(0);
    const report = fs.readFileSync(path.join(out, 'report.md'), 'utf8');
    expect(report).not.toContain('<img');
    expect(report.split('\n').filter((l) => /^#\s/.test(l)).every((l) => l.startsWith('# inferopt optimize: '))).toBe(true);
    expect(report).toContain('x&quot;&gt;&lt;img src=x onerror=alert(1)&gt; \\# pwned.onnx');
    fs.rmSync(out, { recursive: true, force: true });
  });

  it('progress lines and their clearing write nothing when stderr is not a terminal', () => {
    const written: string[] = [];
    const orig = process.stderr.write;
    const tty = process.stderr.isTTY;
    process.stderr.isTTY = false;
    process.stderr.write = ((s: string) => (written.push(s), true)) as typeof process.stderr.write;
    try {
      liveLine('epoch 1/2 [####....]');
      clearLine();
    } finally {
      process.stderr.write = orig;
      process.stderr.isTTY = tty;
    }
    expect(written).toEqual([]);
  });
});

describe('fuzz-input totals', () => {
  it('crashes 0, hangs 0, invalid outputs written 0, inputs changed 0', () => {
    expect(failures).toEqual([]);
    expect(counts).toMatchObject({ crashes: 0, hangs: 0, invalidOutputs: 0, inputsChanged: 0 });
    expect(counts.cases).toBeGreaterThan(500);
  });
});
