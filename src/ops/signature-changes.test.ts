import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { attr, GraphBuilder, type AttrInput } from '../ir/builder.js';
import { DataType } from '../ir/dtype.js';
import type { Model } from '../ir/graph.js';
import { loadModel, modelToBytes } from '../ir/io.js';
import type { Tensor } from '../ir/tensor.js';
import { randomInputs } from '../runtime/inputs.js';
import { Session } from '../runtime/session.js';
import { upgradeOpset } from '../quantize/opset-upgrade.js';
import { allOps, opsWith, opTraits, signatureChangeAt } from './index.js';

/**
 * The op registry's `signatureChanges` (attributes that became inputs, a rename), applied by the quantizer's
 * opset upgrade to a node built at the opset before the change: the upgraded model must load in ONNX Runtime
 * at the new opset and give exactly the old model's outputs. Every op declaring a change has cases here.
 */

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
}

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
];

function build(c: Case): Model {
  const b = new GraphBuilder();
  const x = b.input('x', DataType.FLOAT, c.x);
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
    expect(declared).toEqual(['Pad', 'Slice', 'TopK', 'Upsample']);
    expect([...new Set(CASES.map((c) => c.op))].sort()).toEqual(declared);
    for (const c of CASES) expect(signatureChangeAt('', c.op, c.opset + 1), c.name).toBeDefined();
    // the rename's target is an op of the registry, and the renamed op has no change of its own at that opset
    expect(signatureChangeAt('', 'Upsample', 10)?.renamedTo).toBe('Resize');
    expect(signatureChangeAt('', 'Resize', 10)).toBeUndefined();
    expect(signatureChangeAt('', 'Slice', 11)).toBeUndefined();
  });

  for (const c of CASES) {
    it(`${c.name}: opset ${c.opset} → ${c.opset + 1} gives ORT's old outputs exactly`, async () => {
      const ref = build(c);
      const change = signatureChangeAt('', c.op, c.opset + 1)!;
      const m = loadModel(modelToBytes(ref));
      expect(upgradeOpset(m, (c.opset + 1) as 10 | 11)).toBe(true);
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
        expect(t?.dtype, a.attr).toBe(a.dtype);
        expect(t!.dims, a.attr).toEqual(a.shape === 'scalar' ? [] : [vals.length]);
        expect([...t!.toFloat32()], a.attr).toEqual(vals);
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

// ---- the opset upgrade names none of these ops -------------------------------------------------------------------

const QUANTIZE = join(import.meta.dirname, '../quantize');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return sources(p);
    return /\.ts$/.test(e.name) && !/\.test\.ts$/.test(e.name) ? [p] : [];
  });
}

/** The string literals of a source text (template pieces included) that are in `names`, with their lines. */
function namedOps(fileName: string, text: string, names: ReadonlySet<string>): string[] {
  const sf = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const visit = (n: ts.Node): void => {
    if ((ts.isStringLiteral(n) || ts.isNoSubstitutionTemplateLiteral(n) || ts.isTemplateHead(n) || ts.isTemplateMiddle(n) || ts.isTemplateTail(n)) && names.has(n.text)) {
      found.push(`${fileName}:${sf.getLineAndCharacterOfPosition(n.getStart(sf)).line + 1}: '${n.text}'`);
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return found;
}

describe('src/quantize names no op whose signature change the registry declares', () => {
  const changed = new Set<string>();
  for (const op of opsWith((t) => t.signatureChanges !== undefined)) {
    changed.add(op);
    for (const c of opTraits('', op).signatureChanges!) if (c.renamedTo) changed.add(c.renamedTo);
  }

  it('the search finds such names (the scanner works)', () => {
    expect([...changed].sort()).toEqual(['Pad', 'Resize', 'Slice', 'TopK', 'Upsample']);
    const text = ["if (n.opType === 'Pad') x();", 'const s = `${n.name || "TopK"}_k`;', "n.opType = 'Resize'; // Slice in a comment", "const t = 'Conv';"].join('\n');
    expect(namedOps('x.ts', text, changed)).toEqual(["x.ts:1: 'Pad'", "x.ts:2: 'TopK'", "x.ts:3: 'Resize'"]);
  });

  it('no source file of src/quantize holds one as a string, and opset-upgrade.ts holds no op type at all', () => {
    const files = sources(QUANTIZE);
    expect(files.some((f) => f.endsWith('opset-upgrade.ts'))).toBe(true);
    const found = files.flatMap((f) => namedOps(relative(QUANTIZE, f), readFileSync(f, 'utf8'), changed));
    expect(found).toEqual([]);
    const known = new Set(allOps().map((d) => d.opType));
    expect(namedOps('opset-upgrade.ts', readFileSync(join(QUANTIZE, 'opset-upgrade.ts'), 'utf8'), known)).toEqual([]);
  });
});
