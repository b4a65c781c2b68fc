import { describe, expect, it } from 'vitest';
import { DataType, GraphBuilder, type Value } from '../../ir/index.js';
import { inferShapesPass } from '../infer-shapes.js';
import { expectEquivalent, opCounts, runOnCopy } from '../testing.js';
import { fuseAttention } from './attention.js';
import { fuseBiasGelu, fuseGelu } from './gelu.js';
import { fuseLayerNorm } from './layer-norm.js';
import { fuseSkipLayerNorm } from './skip-layer-norm.js';

const vals = (n: number, seed = 1, scale = 0.3) => Array.from({ length: n }, (_, i) => Math.sin(i * 1.7 + seed) * scale);
const H = 8;

/** The tanh GELU as torch exports approximate='tanh': 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))). */
function tanhGelu(b: GraphBuilder, x: Value): Value {
  const cube = b.op('Pow', [x, b.scalar('three', 3)]);
  const inner = b.op('Add', [x, b.op('Mul', [b.scalar('c', 0.044715), cube])]);
  const t = b.op('Tanh', [b.op('Mul', [inner, b.scalar('k', Math.sqrt(2 / Math.PI))])]);
  return b.op('Mul', [b.op('Mul', [b.scalar('half', 0.5), x]), b.op('Add', [b.scalar('one', 1), t])]);
}

describe('fusion variants', () => {
  it('fuses the tanh GELU into FastGelu and folds its bias', async () => {
    const b = new GraphBuilder();
    const x = b.input('x', DataType.FLOAT, [2, 3, H]);
    const pre = b.op('Add', [b.op('MatMul', [x, b.floats('w', [H, H], vals(H * H))]), b.floats('bias', [H], vals(H, 2))]);
    b.output(tanhGelu(b, pre), 'y');
    const r = await runOnCopy(b.model(), [inferShapesPass, fuseGelu, fuseBiasGelu]);
    expect(opCounts(r.after)).toEqual({ MatMul: 1, FastGelu: 1 });
    expect(r.after.graph.nodes[1]!.inputs.length).toBe(2);
    await expectEquivalent(r.before, r.after, { atol: 1e-5 });
  });

  it('fuses a GELU with Mul(1/√2) and the 0.5 on the other side; standard Gelu at opset 20', async () => {
    const b = new GraphBuilder();
    const x = b.input('x', DataType.FLOAT, [4, H]);
    const erf = b.op('Erf', [b.op('Mul', [x, b.scalar('r', Math.SQRT1_2)])]);
    b.output(b.op('Mul', [x, b.op('Mul', [b.op('Add', [erf, b.scalar('one', 1)]), b.scalar('half', 0.5)])]), 'y');
    const r = await runOnCopy(b.model({ opset: 20 }), [fuseGelu], 'std');
    expect(opCounts(r.after)).toEqual({ Gelu: 1 });
    expect(r.after.graph.nodes[0]!.domain).toBe('');
    await expectEquivalent(r.before, r.after, { atol: 1e-5 });
  });

  it('fuses a LayerNorm without β and with Mul(d, d) for the square', async () => {
    const b = new GraphBuilder();
    const x = b.input('x', DataType.FLOAT, [2, 5, H]);
    const mean = b.op('ReduceMean', [x], { axes: [-1] });
    const d = b.op('Sub', [x, mean]);
    const v = b.op('ReduceMean', [b.op('Mul', [d, d])], { axes: [-1] });
    const y = b.op('Div', [d, b.op('Sqrt', [b.op('Add', [b.scalar('eps', 1e-5), v])])]);
    b.output(b.op('Mul', [b.floats('gamma', [H], vals(H, 3, 1)), y]), 'y');
    const r = await runOnCopy(b.model(), [fuseLayerNorm]);
    expect(opCounts(r.after)).toEqual({ LayerNormalization: 1 });
    await expectEquivalent(r.before, r.after);
  });

  it('refuses a LayerNorm over a non-last axis, and says why', async () => {
    const b = new GraphBuilder();
    const x = b.input('x', DataType.FLOAT, [2, 5, H]);
    const d = b.op('Sub', [x, b.op('ReduceMean', [x], { axes: [1] })]);
    const v = b.op('ReduceMean', [b.op('Pow', [d, b.scalar('two', 2)])], { axes: [1] });
    const y = b.op('Div', [d, b.op('Sqrt', [b.op('Add', [v, b.scalar('eps', 1e-5)])])]);
    b.output(b.op('Add', [b.op('Mul', [y, b.floats('g', [H], vals(H))]), b.floats('beta', [H], vals(H, 2))]), 'y');
    const r = await runOnCopy(b.model(), [fuseLayerNorm]);
    expect(opCounts(r.after).LayerNormalization).toBeUndefined();
    expect(r.explain.some((e) => /reduces axis 1/.test(e.reason ?? ''))).toBe(true);
  });

  it('fuses SkipLayerNormalization and exposes the residual sum to its other reader', async () => {
    const b = new GraphBuilder();
    const x = b.input('x', DataType.FLOAT, [2, 3, H]);
    const dense = b.op('MatMul', [x, b.floats('w', [H, H], vals(H * H))]);
    const sum = b.op('Add', [dense, x]);
    const ln = b.op('LayerNormalization', [sum, b.floats('g', [H], vals(H, 1, 1)), b.floats('beta', [H], vals(H, 2))], { epsilon: 1e-5 });
    b.output(b.op('Add', [ln, sum]), 'y'); // the sum is read again
    const r = await runOnCopy(b.model(), [inferShapesPass, fuseSkipLayerNorm]);
    expect(opCounts(r.after)).toEqual({ MatMul: 1, SkipLayerNormalization: 1, Add: 1 });
    await expectEquivalent(r.before, r.after);
  });

  it('refuses SkipLayerNormalization when the Add broadcasts', async () => {
    const b = new GraphBuilder();
    const x = b.input('x', DataType.FLOAT, [2, 3, H]);
    const pos = b.input('pos', DataType.FLOAT, [1, 3, H]);
    b.output(b.op('LayerNormalization', [b.op('Add', [x, pos]), b.floats('g', [H], vals(H, 1, 1))]), 'y');
    const r = await runOnCopy(b.model(), [inferShapesPass, fuseSkipLayerNorm]);
    expect(opCounts(r.after).SkipLayerNormalization).toBeUndefined();
    expect(r.explain.some((e) => /broadcasting/.test(e.reason ?? ''))).toBe(true);
  });

  it('fuses unmasked attention with a Mul scale, constant reshapes and K as two Transposes', async () => {
    const heads = 2;
    const d = H / heads;
    const b = new GraphBuilder();
    const x = b.input('x', DataType.FLOAT, ['batch', 5, H]);
    const split = b.ints('split', [0, 0, heads, d]);
    const proj = (k: number) => b.op('Reshape', [b.op('Add', [b.floats(`b${k}`, [H], vals(H, k + 10)), b.op('MatMul', [x, b.floats(`w${k}`, [H, H], vals(H * H, k))])]), split]);
    const q = b.op('Transpose', [proj(0)], { perm: [0, 2, 1, 3] });
    const kt = b.op('Transpose', [b.op('Transpose', [proj(1)], { perm: [0, 2, 1, 3] })], { perm: [0, 1, 3, 2] });
    const v = b.op('Transpose', [proj(2)], { perm: [0, 2, 1, 3] });
    const probs = b.op('Softmax', [b.op('Mul', [b.op('MatMul', [q, kt]), b.scalar('scale', 0.4)])], { axis: -1 });
    const ctx = b.op('Transpose', [b.op('MatMul', [probs, v])], { perm: [0, 2, 1, 3] });
    b.output(b.op('Reshape', [ctx, b.ints('merge', [0, 0, H])]), 'y');
    const r = await runOnCopy(b.model(), [inferShapesPass, fuseAttention]);
    expect(opCounts(r.after)).toEqual({ Attention: 1 });
    const att = r.after.graph.nodes[0]!;
    expect(att.attrInt('num_heads')).toBe(heads);
    expect(att.attrFloat('scale')).toBeCloseTo(0.4, 6);
    await expectEquivalent(r.before, r.after, { dims: { batch: 3 } });
  });
});
