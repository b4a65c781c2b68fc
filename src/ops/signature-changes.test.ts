import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { attr, GraphBuilder, type AttrInput } from '../ir/builder.js';
import { DataType } from '../ir/dtype.js';
import type { Model } from '../ir/graph.js';
import { loadModel, modelToBytes } from '../ir/io.js';
import { Tensor } from '../ir/tensor.js';
import { randomInputs } from '../runtime/inputs.js';
import { Session } from '../runtime/session.js';
import { allOps, opsetUpgradeBlocker, opsWith, opTraits, signatureChangeAt, upgradeModelOpset, type OpsetUpgradeOptions } from './index.js';

/**
 * The op registry's `signatureChanges` (attributes that became inputs, a rename), applied by its one
 * interpreter (src/ops/signature.ts: the quantizer's upgrade to 10/11 and `--target std`'s to 20) to a node
 * built at the opset before the change: the upgraded model must load in ONNX Runtime at the new opset and give
 * exactly the old model's outputs. Every op declaring a change has cases here.
 */

const OPTS: OpsetUpgradeOptions = { subgraphs: 'refuse' };

interface Case {
  name: string;
  op: string;
  /** The opset the node is built at (the change's opset − 1). */
  opset: number;
  x: number[];
  attrs: Record<string, AttrInput>;
  /** Constant inputs after x (Upsample's scales). */
  consts?: number[][];
  outputs?: number;
  /** The node's inputs after the upgrade (pins which optional inputs are written). */
  inputsAfter: number;
  /** Element type of x (default float). */
  dtype?: DataType;
}

const F16 = DataType.FLOAT16;
const REDUCE = opsWith((t) => t.signatureChanges !== undefined).filter((op) => op.startsWith('Reduce')).sort();

const CASES: Case[] = [
  { name: 'Slice starts/ends/axes', op: 'Slice', opset: 9, x: [3, 4, 5], attrs: { starts: [1, 0], ends: [3, -1], axes: [0, 2] }, inputsAfter: 4 },
  { name: 'Slice without axes, end past the dim', op: 'Slice', opset: 9, x: [3, 4, 5], attrs: { starts: [0, 1], ends: [2, 100] }, inputsAfter: 3 },
  { name: 'TopK k 2 on axis 1 (values and indices)', op: 'TopK', opset: 9, x: [3, 6, 2], attrs: { k: 2, axis: 1 }, outputs: 2, inputsAfter: 2 },
  { name: 'TopK k 3, default axis', op: 'TopK', opset: 9, x: [4, 7], attrs: { k: 3 }, outputs: 2, inputsAfter: 2 },
  { name: 'Upsample nearest', op: 'Upsample', opset: 9, x: [1, 2, 3, 4], attrs: { mode: 'nearest' }, consts: [[1, 1, 2, 3]], inputsAfter: 2 },
  { name: 'Upsample linear', op: 'Upsample', opset: 9, x: [1, 2, 3, 4], attrs: { mode: 'linear' }, consts: [[1, 1, 2, 2]], inputsAfter: 2 },
  { name: 'Pad without value', op: 'Pad', opset: 10, x: [2, 3, 4], attrs: { pads: [1, 0, 2, 0, 3, 1] }, inputsAfter: 2 },
  { name: 'Pad value 0', op: 'Pad', opset: 10, x: [2, 3], attrs: { pads: [1, 0, 0, 2], value: attr.float(0) }, inputsAfter: 2 },
  { name: 'Pad value 0.75', op: 'Pad', opset: 10, x: [2, 3], attrs: { pads: [0, 2, 1, 1], value: 0.75 }, inputsAfter: 3 },
  { name: 'Pad value −2, negative pads', op: 'Pad', opset: 10, x: [3, 4], attrs: { pads: [1, -1, 0, 2], value: attr.float(-2) }, inputsAfter: 3 },
  { name: 'Pad reflect', op: 'Pad', opset: 10, x: [2, 4], attrs: { pads: [0, 2, 0, 1], mode: 'reflect' }, inputsAfter: 2 },
  // Pad-2 data may be float16/float/double: the value input takes the data's type (a float one beside double
  // data is a model ORT refuses)
  { name: 'Pad double, value 2.5', op: 'Pad', opset: 10, dtype: DataType.DOUBLE, x: [2, 3], attrs: { pads: [1, 1, 0, 2], value: 2.5 }, inputsAfter: 3 },
  { name: 'Pad float16, value −0.75', op: 'Pad', opset: 10, dtype: F16, x: [3, 2], attrs: { pads: [0, 1, 2, 0], value: -0.75 }, inputsAfter: 3 },
  // Clip-11: min/max become optional scalar inputs 1 and 2 of the data's type; an absent one stays absent
  { name: 'Clip min and max', op: 'Clip', opset: 10, x: [3, 5], attrs: { min: attr.float(-0.5), max: attr.float(0.75) }, inputsAfter: 3 },
  { name: 'Clip min only', op: 'Clip', opset: 10, x: [3, 5], attrs: { min: attr.float(-0.25) }, inputsAfter: 2 },
  { name: 'Clip max only (input 1 left empty)', op: 'Clip', opset: 10, x: [3, 5], attrs: { max: attr.float(0.5) }, inputsAfter: 3 },
  { name: 'Clip neither (no bound)', op: 'Clip', opset: 10, x: [3, 5], attrs: {}, inputsAfter: 1 },
  { name: 'Clip float16 min and max', op: 'Clip', opset: 10, dtype: F16, x: [4, 3], attrs: { min: attr.float(-0.3), max: attr.float(0.6) }, inputsAfter: 3 },
  // axes became an input: ReduceSum at 13, every other Reduce op at 18 (upgrade-opset's 17 → 20)
  { name: 'ReduceSum axes [1]', op: 'ReduceSum', opset: 12, x: [2, 3, 4], attrs: { axes: [1] }, inputsAfter: 2 },
  { name: 'ReduceSum axes [0, -1], keepdims 0', op: 'ReduceSum', opset: 12, x: [2, 3, 4], attrs: { axes: [0, -1], keepdims: 0 }, inputsAfter: 2 },
  { name: 'ReduceSum without axes (all)', op: 'ReduceSum', opset: 12, x: [2, 3], attrs: {}, inputsAfter: 1 },
  ...REDUCE.filter((op) => op !== 'ReduceSum').map(
    (op, i): Case => ({ name: `${op} axes [${i % 2 ? '0, 2' : '-1'}]${i % 3 ? '' : ', keepdims 0'}`, op, opset: 17, x: [2, 3, 4], attrs: { axes: i % 2 ? [0, 2] : [-1], ...(i % 3 ? {} : { keepdims: 0 }) }, inputsAfter: 2 }),
  ),
  { name: 'ReduceMean without axes (all)', op: 'ReduceMean', opset: 17, x: [2, 3], attrs: {}, inputsAfter: 1 },
];

function build(c: Case): Model {
  const b = new GraphBuilder();
  const x = b.input('x', c.dtype ?? DataType.FLOAT, c.x);
  const ins = [x, ...(c.consts ?? []).map((v, i) => b.floats(`c${i}`, [v.length], v))];
  const outs = b.opN(c.op, ins, c.attrs, { name: 'n', outputs: c.outputs ?? 1 });
  outs.forEach((o, i) => b.output(o, `y${i}`));
  return b.model({ opset: c.opset });
}

async function run(model: Model, feeds: Record<string, Tensor>): Promise<Record<string, Tensor>> {
  const s = await Session.create(model);
  try {
    return await s.run(feeds);
  } finally {
    await s.release();
  }
}

describe('op registry: signatureChanges (what the opset upgrade rewrites)', () => {
  it('every op declaring a change has cases here, built at the opset before it', () => {
    const declared = opsWith((t) => t.signatureChanges !== undefined).sort();
    expect(REDUCE).toHaveLength(10);
    expect(declared).toEqual(['Clip', 'Pad', ...REDUCE, 'Slice', 'TopK', 'Upsample'].sort());
    expect([...new Set(CASES.map((c) => c.op))].sort()).toEqual(declared);
    for (const c of CASES) expect(signatureChangeAt('', c.op, c.opset + 1), c.name).toBeDefined();
    // the rename's target is an op of the registry, and the renamed op has no change of its own at that opset
    expect(signatureChangeAt('', 'Upsample', 10)?.renamedTo).toBe('Resize');
    expect(signatureChangeAt('', 'Resize', 10)).toBeUndefined();
    expect(signatureChangeAt('', 'Slice', 11)).toBeUndefined();
    expect(signatureChangeAt('', 'ReduceSum', 18)).toBeUndefined();
    expect(signatureChangeAt('', 'ReduceMean', 13)).toBeUndefined();
  });

  for (const c of CASES) {
    it(`${c.name}: opset ${c.opset} → ${c.opset + 1} gives ORT's old outputs exactly`, async () => {
      const ref = build(c);
      const change = signatureChangeAt('', c.op, c.opset + 1)!;
      const m = loadModel(modelToBytes(ref));
      expect(upgradeModelOpset(m, c.opset + 1, OPTS)).toBe(1);
      expect(m.opset('')).toBe(c.opset + 1);
      const n = m.graph.nodes.find((x) => x.name === 'n')!;
      expect(n.opType).toBe(change.renamedTo ?? c.op);
      expect(n.inputs).toHaveLength(c.inputsAfter);
      for (const a of change.attrsToInputs ?? []) {
        expect(n.attrs.has(a.attr), a.attr).toBe(false);
        const given = c.attrs[a.attr];
        const v = given === undefined ? undefined : typeof given === 'object' && 'type' in given ? (given as { value: number | number[] }).value : (given as number | number[]);
        const t = n.input(a.input)?.constTensor();
        if (v === undefined || (a.omitIf !== undefined && v === a.omitIf)) {
          expect(t, `${a.attr} stays absent`).toBeUndefined();
          continue;
        }
        const vals = Array.isArray(v) ? v : [v];
        const dtype = a.dtype === 'data' ? (c.dtype ?? DataType.FLOAT) : a.dtype;
        expect(t?.dtype, a.attr).toBe(dtype);
        expect(t!.dims, a.attr).toEqual(a.shape === 'scalar' ? [] : [vals.length]);
        // float16 holds the attribute rounded, as ORT's old kernel cast it
        expect([...t!.toFloat32()], a.attr).toEqual(dtype === F16 ? vals.map((x) => Tensor.fromArray(F16, [1], [x]).toFloat32()[0]) : vals.map(Math.fround));
      }
      const feeds = randomInputs(ref, { seed: 7 });
      const want = await run(ref, feeds);
      const got = await run(m, feeds); // ORT checks the node against the new opset's schema
      for (const name of Object.keys(want)) {
        expect(got[name]!.dtype, name).toBe(want[name]!.dtype);
        expect(got[name]!.dims, name).toEqual(want[name]!.dims);
        expect(got[name]!.bytes, name).toEqual(want[name]!.bytes);
      }
    });
  }

  it('an upgraded node left with an old attribute is what ORT refuses (the run above checks the schema)', async () => {
    const c = CASES[0]!;
    const m = build({ ...c, opset: 10 });
    await expect(run(m, randomInputs(m, { seed: 7 }))).rejects.toThrow();
  });
});

// ---- the data's element type: integer Pads, inferred types, refusals ---------------------------------------------

/** x (int data) → [Neg] → Pad(pads, value) at opset 10, raised to 11: ORT must load it and pad with the value. */
function intPad(dtype: DataType, value: number, opts: { neg?: boolean; pads?: number[] } = {}): Model {
  const b = new GraphBuilder();
  const x = b.input('x', dtype, [2, 3]);
  const h = opts.neg ? b.op('Neg', [x]) : x;
  b.output(b.op('Pad', [h], { pads: opts.pads ?? [0, 1, 1, 2], value: attr.float(value) }, { name: 'n' }), 'y');
  return b.model({ opset: 10 });
}

/** [[1,2,3],[4,5,6]] padded by pads [0, 1, 1, 2] (a column before, a row after, two columns after) with v. */
const padded = (v: number, x = [1, 2, 3, 4, 5, 6]) => [v, x[0], x[1], x[2], v, v, v, x[3], x[4], x[5], v, v, v, v, v, v, v, v];

describe('signatureChanges of the data\'s type: the value of an integer Pad, read from value_info or inferred', () => {
  for (const [dtype, value] of [[DataType.INT64, -3], [DataType.INT32, 7], [DataType.UINT8, 200]] as const) {
    it(`${DataType[dtype]} Pad, value ${value}: the value input is ${DataType[dtype]} and ORT pads with it`, async () => {
      const old = intPad(dtype, value);
      await expect(run(old, { x: Tensor.fromArray(dtype, [2, 3], [1, 2, 3, 4, 5, 6]) })).rejects.toThrow(/invalid model|Type Error/); // Pad-2 is float-only
      const m = loadModel(modelToBytes(old));
      expect(upgradeModelOpset(m, 11, OPTS)).toBe(1);
      const t = m.graph.nodes.find((n) => n.name === 'n')!.input(2)!.constTensor()!;
      expect([t.dtype, t.dims, t.toNumbers()]).toEqual([dtype, [], [value]]);
      const y = (await run(m, { x: Tensor.fromArray(dtype, [2, 3], [1, 2, 3, 4, 5, 6]) })).y!;
      expect(y.dtype).toBe(dtype);
      expect(y.dims).toEqual([3, 6]);
      expect(y.toNumbers()).toEqual(padded(value));
    });
  }

  it('input 0 without value_info: its type is inferred (Neg of int64 data), and the Pad pads with an int64 −3', async () => {
    const m = intPad(DataType.INT64, -3, { neg: true });
    const pad = m.graph.nodes.find((n) => n.name === 'n')!;
    expect(pad.input(0)!.type).toBeUndefined();
    expect(upgradeModelOpset(m, 11, OPTS)).toBe(1);
    expect(pad.input(2)!.constTensor()!.dtype).toBe(DataType.INT64);
    const y = (await run(m, { x: Tensor.int64([2, 3], [1, 2, 3, 4, 5, 6]) })).y!;
    expect(y.toNumbers()).toEqual(padded(-3, [-1, -2, -3, -4, -5, -6]));
  });

  it('refuses, and leaves the model as it was, where the value cannot be written in the data\'s type or the type is unknown', () => {
    const unknown = (() => {
      const b = new GraphBuilder();
      const x = b.input('x', DataType.FLOAT, [2, 3]);
      const h = b.op('Mystery', [x], {}, { domain: 'test.unknown' });
      b.output(b.op('Pad', [h], { pads: [0, 1, 1, 2], value: attr.float(0.5) }, { name: 'n' }), 'y');
      return b.model({ opset: 10 });
    })();
    const cases: [Model, RegExp][] = [
      [intPad(DataType.INT64, 0.5), /Pad 'n': its attribute value becomes an input of type int64 at opset 11, and 0\.5 is not representable as int64/],
      [intPad(DataType.UINT8, -1), /Pad 'n': its attribute value becomes an input of type uint8 at opset 11, and -1 is not representable as uint8/],
      [intPad(DataType.UINT8, 256), /256 is not representable as uint8/],
      [unknown, /Pad 'n': the element type of its input 0 is not known .* its attribute value must become an input of that type at opset 11/],
    ];
    for (const [m, why] of cases) {
      const before = modelToBytes(m);
      expect(opsetUpgradeBlocker(m, 11, OPTS)).toMatch(why);
      expect(() => upgradeModelOpset(m, 11, OPTS)).toThrow(why);
      expect(modelToBytes(m)).toEqual(before);
    }
    // the same Pads with value 0 (the input's default: nothing to write) or at opset 10 are not refused
    expect(opsetUpgradeBlocker(intPad(DataType.INT64, 0), 11, OPTS)).toBeUndefined();
    expect(opsetUpgradeBlocker(unknown, 10, OPTS)).toBeUndefined();
  });
});

// ---- no upgrade rule outside src/ops names these ops --------------------------------------------------------------

const SRC = join(import.meta.dirname, '..');
const OPS = join(SRC, 'ops');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return p === OPS ? [] : sources(p);
    return /\.ts$/.test(e.name) && !/\.test\.ts$/.test(e.name) ? [p] : [];
  });
}

/** The op types whose signature change the registry declares, the names they are renamed to, and 'Reduce' (a prefix test). */
function changedOps(): Set<string> {
  const out = new Set<string>(['Reduce']);
  for (const op of opsWith((t) => t.signatureChanges !== undefined)) {
    out.add(op);
    for (const c of opTraits('', op).signatureChanges!) if (c.renamedTo) out.add(c.renamedTo);
  }
  return out;
}

/**
 * Where a source text names one of `names`: string literals (template pieces included) equal to one, and regular
 * expression literals whose pattern holds one (`/^Reduce/`), with their lines.
 */
function namedOps(fileName: string, text: string, names: ReadonlySet<string>): string[] {
  const sf = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const at = (n: ts.Node) => `${fileName}:${sf.getLineAndCharacterOfPosition(n.getStart(sf)).line + 1}`;
  const visit = (n: ts.Node): void => {
    if ((ts.isStringLiteral(n) || ts.isNoSubstitutionTemplateLiteral(n) || ts.isTemplateHead(n) || ts.isTemplateMiddle(n) || ts.isTemplateTail(n)) && names.has(n.text)) {
      found.push(`${at(n)}: '${n.text}'`);
    } else if (ts.isRegularExpressionLiteral(n) && [...names].some((x) => n.text.includes(x))) found.push(`${at(n)}: ${n.text}`);
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return found;
}

/**
 * The sources outside src/ops that hold an opset upgrade rule: they call the registry's interpreter
 * (src/ops/signature.ts), or their file name says they upgrade opsets.
 */
function upgradeRuleFiles(): string[] {
  const calls = /\b(upgradeModelOpset|opsetUpgradeBlocker|signatureBlocker|signatureChangeAt)\b/;
  return sources(SRC).filter((f) => /opset|upgrade/i.test(f.slice(SRC.length)) || calls.test(readFileSync(f, 'utf8')));
}

describe('no opset upgrade rule outside src/ops names an op whose signature change the registry declares', () => {
  const changed = changedOps();

  it('the names are the declared ops, and the scanner finds them in literals and patterns (not in comments)', () => {
    expect([...changed].sort()).toEqual(['Clip', 'Pad', 'Reduce', ...REDUCE, 'Resize', 'Slice', 'TopK', 'Upsample'].sort());
    const text = [
      "if (n.opType === 'Pad') x();",
      'const s = `${n.name || "TopK"}_k`;',
      "n.opType = 'Resize'; // Slice in a comment",
      "const t = 'Conv';",
      'if (/^Reduce(Sum|Mean)$/.test(n.opType)) y();',
      "if (n.opType.startsWith('Reduce')) z();",
      "const CLIPS = ['Clip', 'Relu'];",
    ].join('\n');
    expect(namedOps('x.ts', text, changed)).toEqual(["x.ts:1: 'Pad'", "x.ts:2: 'TopK'", "x.ts:3: 'Resize'", 'x.ts:5: /^Reduce(Sum|Mean)$/', "x.ts:6: 'Reduce'", "x.ts:7: 'Clip'"]);
  });

  it('the upgrade rules (the quantizer\'s 9 → 10/11, upgrade-opset\'s 17 → 20) name none of them, nor any op at all', () => {
    const files = upgradeRuleFiles().map((f) => relative(SRC, f));
    expect(files).toEqual(expect.arrayContaining(['quantize/opset-upgrade.ts', 'passes/upgrade-opset.ts']));
    const found = files.flatMap((f) => namedOps(f, readFileSync(join(SRC, f), 'utf8'), changed));
    expect(found).toEqual([]);
    // only Erf (what the Gelu upgrade looks for) is an op type there
    const known = new Set(allOps().map((d) => d.opType));
    expect(files.flatMap((f) => namedOps(f, readFileSync(join(SRC, f), 'utf8'), known))).toEqual([expect.stringMatching(/^passes\/upgrade-opset\.ts:\d+: 'Erf'$/)]);
  });

  it('the per-op upgrade traits the registry\'s signatureChanges replaced are gone from src (axesInputSince, boundsInputSince)', () => {
    const all = [...sources(SRC), ...readdirSync(OPS).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts')).map((f) => join(OPS, f))];
    expect(all.filter((f) => /\b(axesInputSince|boundsInputSince)\b/.test(readFileSync(f, 'utf8'))).map((f) => relative(SRC, f))).toEqual([]);
  });
});
