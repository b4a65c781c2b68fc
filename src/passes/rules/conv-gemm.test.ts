import { describe, expect, it } from 'vitest';
import { DataType, GraphBuilder } from '../../ir/index.js';
import { expectEquivalent, opTypes, runOnCopy } from '../testing.js';
import { foldIntoConv } from './conv.js';
import { foldIntoMatMul } from './gemm.js';

const vals = (n: number, seed = 1) => Array.from({ length: n }, (_, i) => Math.sin(i * 1.3 + seed) * 0.5);

function convInput(b: GraphBuilder) {
  const x = b.input('x', DataType.FLOAT, [1, 3, 8, 8]);
  const w = b.floats('w', [4, 3, 3, 3], vals(108));
  return { x, w };
}

describe('fold into Conv', () => {
  it('folds BatchNormalization, per-channel Add and Mul into Conv', async () => {
    const b = new GraphBuilder();
    const { x, w } = convInput(b);
    let h = b.op('Conv', [x, w, b.floats('bias', [4], vals(4, 2))], { pads: [1, 1, 1, 1] });
    h = b.op('BatchNormalization', [h, b.floats('g', [4], [1, 2, 0.5, 1.5]), b.floats('beta', [4], vals(4, 3)), b.floats('mean', [4], vals(4, 4)), b.floats('var', [4], [1, 0.5, 2, 0.25])], { epsilon: 1e-3 });
    h = b.op('Relu', [h]);
    h = b.op('Conv', [h, b.floats('w2', [4, 4, 1, 1], vals(16, 5))]);
    h = b.op('Mul', [b.floats('s', [1, 4, 1, 1], [2, -1, 0.5, 3]), h]); // scale on the left: commutative match
    h = b.op('Add', [h, b.floats('c', [4, 1, 1], vals(4, 6))]);
    b.output(h, 'y');
    const r = await runOnCopy(b.model(), [foldIntoConv]);
    expect(opTypes(r.after)).toEqual(['Conv', 'Relu', 'Conv']);
    expect(r.stats).toMatchObject({ 'fold-conv-batchnorm': 1, 'fold-conv-mul': 1, 'fold-conv-add': 1 });
    await expectEquivalent(r.before, r.after);
  });

  it('folds a per-channel Add and BatchNormalization into a grouped ConvTranspose', async () => {
    const b = new GraphBuilder();
    const x = b.input('x', DataType.FLOAT, [1, 4, 5, 5]);
    const ct = b.op('ConvTranspose', [x, b.floats('w', [4, 3, 2, 2], vals(48)), b.floats('cb', [6], vals(6, 7))], { group: 2, strides: [2, 2] });
    const biased = b.op('Add', [ct, b.floats('c', [1, 6, 1, 1], vals(6, 9))]);
    const bn = b.op('BatchNormalization', [biased, b.floats('g', [6], [1, 2, 0.5, 1.5, 0.7, 1.1]), b.floats('beta', [6], vals(6, 3)), b.floats('mean', [6], vals(6, 4)), b.floats('var', [6], [1, 0.5, 2, 0.25, 0.8, 1.2])]);
    b.output(bn, 'y');
    const r = await runOnCopy(b.model(), [foldIntoConv]);
    expect(opTypes(r.after)).toEqual(['ConvTranspose']);
    await expectEquivalent(r.before, r.after);
  });

  it('refuses an Add that is not per-channel, and says why', async () => {
    const b = new GraphBuilder();
    const { x, w } = convInput(b);
    b.output(b.op('Add', [b.op('Conv', [x, w]), b.floats('c', [1, 1, 1, 6], vals(6))]), 'y');
    const r = await runOnCopy(b.model(), [foldIntoConv]);
    expect(opTypes(r.after)).toEqual(['Conv', 'Add']);
    expect(r.explain.find((e) => e.rule === 'fold-conv-add')?.reason).toMatch(/not per-channel/);
  });

  it('folds a zero Pad into Conv pads (opset 11+ and opset 9 forms)', async () => {
    for (const opset of [9, 13]) {
      const b = new GraphBuilder();
      const { x, w } = convInput(b);
      const pads = [0, 0, 1, 2, 0, 0, 2, 1];
      const p = opset < 11 ? b.op('Pad', [x], { pads }) : b.op('Pad', [x, b.ints('pads', pads)]);
      b.output(b.op('Conv', [p, w], { pads: [1, 0, 0, 1] }), 'y');
      const r = await runOnCopy(b.model({ opset }), [foldIntoConv]);
      expect(opTypes(r.after)).toEqual(['Conv']);
      expect(r.after.graph.nodes[0]!.attrInts('pads')).toEqual([2, 2, 2, 2]);
      await expectEquivalent(r.before, r.after);
    }
  });

  it('keeps a reflect Pad', async () => {
    const b = new GraphBuilder();
    const { x, w } = convInput(b);
    b.output(b.op('Conv', [b.op('Pad', [x, b.ints('pads', [0, 0, 1, 1, 0, 0, 1, 1])], { mode: 'reflect' }), w]), 'y');
    const r = await runOnCopy(b.model(), [foldIntoConv]);
    expect(opTypes(r.after)).toEqual(['Pad', 'Conv']);
  });
});

describe('fold into MatMul', () => {
  it('turns a 2-D MatMul+Add into Gemm and folds a scale into the weight', async () => {
    const b = new GraphBuilder();
    const x = b.input('x', DataType.FLOAT, [4, 6]);
    const h = b.op('Add', [b.op('MatMul', [x, b.floats('w', [6, 5], vals(30))]), b.floats('bias', [5], vals(5, 2))]);
    const z = b.op('Div', [b.op('MatMul', [h, b.floats('w2', [5, 3], vals(15, 3))]), b.floats('s', [3], [2, 4, 8])]);
    b.output(z, 'y');
    const r = await runOnCopy(b.model(), [foldIntoMatMul]);
    expect(opTypes(r.after)).toEqual(['Gemm', 'MatMul']);
    await expectEquivalent(r.before, r.after);
  });

  it('leaves a 3-D MatMul+Add alone (for the transformer fusions)', async () => {
    const b = new GraphBuilder();
    const x = b.input('x', DataType.FLOAT, [2, 4, 6]);
    b.output(b.op('Add', [b.op('MatMul', [x, b.floats('w', [6, 5], vals(30))]), b.floats('bias', [5], vals(5))]), 'y');
    const r = await runOnCopy(b.model(), [foldIntoMatMul]);
    expect(opTypes(r.after)).toEqual(['MatMul', 'Add']);
    expect(r.explain.find((e) => e.rule === 'matmul-add-to-gemm')?.reason).toMatch(/3-D/);
  });
});
