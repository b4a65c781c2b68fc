import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../ir/builder.js';
import { DataType } from '../../ir/dtype.js';
import type { Model } from '../../ir/graph.js';
import { Tensor } from '../../ir/tensor.js';
import { rng } from '../../runtime/inputs.js';
import { gradCheck } from '../../train/gradcheck.js';

/**
 * Fake quantization (QuantizeLinear → DequantizeLinear, as QAT trains it) against finite differences. The true
 * function is a staircase, so: (1) inside the clipping range and far outside it, the secant over a whole
 * number of quantization steps (h = 4·scale) is exactly the straight-through gradient (1 inside, 0 outside);
 * (2) at the edges, where no secant is clean, the rule's mask is checked against the finite differences of
 * the clamp it stands for, clamp(x, (qmin − z − ½)·s, (qmax − z + ½)·s) (PyTorch's fake_quantize mask:
 * round(x/s) + z within [qmin, qmax]); (3) the LSQ scale gradient against its closed form.
 */

const S = 0.05;
const Z = 128; // uint8: the range is [−6.4, 6.35]
const LO = (0 - Z) * S;
const HI = (255 - Z) * S;

function fakeQuant(n: number, opts: { scaleInput?: boolean } = {}): Model {
  const b = new GraphBuilder();
  const x = b.input('x', DataType.FLOAT, [1, n]);
  const s = opts.scaleInput ? b.input('s', DataType.FLOAT, []) : b.init('s', Tensor.float([], [S]));
  const z = b.init('z', Tensor.fromArray(DataType.UINT8, [], [Z]));
  b.output(b.op('DequantizeLinear', [b.op('QuantizeLinear', [x, s, z]), s, z]), 'y');
  return b.model({ opset: 17 });
}

function clampModel(n: number, lo: number, hi: number): Model {
  const b = new GraphBuilder();
  const x = b.input('x', DataType.FLOAT, [1, n]);
  b.output(b.op('Clip', [x, b.init('lo', Tensor.float([], [lo])), b.init('hi', Tensor.float([], [hi]))]), 'y');
  return b.model({ opset: 17 });
}

describe('fake quantization: straight-through gradients with the clipping mask', () => {
  it('inside the range and far outside: equals the secant over whole quantization steps', async () => {
    const inside = [-100, -50, -3, 0, 7, 60, 110].map((k) => (k + 0.25) * S);
    const outside = [-9, -7.5, 7.5, 10];
    const xs = [...inside, ...outside];
    const [r] = await gradCheck(fakeQuant(xs.length), { feeds: { x: Tensor.float([1, xs.length], xs) }, eps: 4 * S, elements: [...xs.keys()] });
    expect(r!.maxError, JSON.stringify(r!.worst)).toBeLessThan(1e-4);
    // the gradients themselves: the probe's weights inside, zero outside
    const R = Array.from({ length: xs.length }, rng(7)).map((u) => u * 2 - 1);
    xs.forEach((_, i) => expect(r!.analytic[i]).toBeCloseTo(i < inside.length ? R[i]! : 0, 5));
  });

  it('at the edges of the clipping range: the mask of round(x/s) + z ∈ [qmin, qmax]', async () => {
    const xs = [HI - 0.3 * S, HI + 0.3 * S, HI + 0.7 * S, LO + 0.3 * S, LO - 0.3 * S, LO - 0.7 * S];
    const feeds = { x: Tensor.float([1, xs.length], xs) };
    const surrogate = clampModel(xs.length, LO - S / 2, HI + S / 2);
    const [r] = await gradCheck(fakeQuant(xs.length), { feeds, surrogate, eps: S / 20, elements: [...xs.keys()] });
    expect(r!.maxError, JSON.stringify(r!.worst)).toBeLessThan(1e-3);
    // and not against a clamp at the exact range ends: hi + 0.3·s still rounds to qmax and passes the gradient
    const [wrong] = await gradCheck(fakeQuant(xs.length), { feeds, surrogate: clampModel(xs.length, LO, HI), eps: S / 20, elements: [...xs.keys()] });
    expect(wrong!.maxError).toBeGreaterThan(0.1);
  });

  it('per-channel int8 weights (axis 0): secant inside, zero where saturated', async () => {
    const scales = [0.01, 0.02, 0.04];
    const b = new GraphBuilder();
    const w = b.input('w', DataType.FLOAT, [3, 4]);
    const s = b.init('s', Tensor.float([3], scales));
    const z = b.init('z', Tensor.fromArray(DataType.INT8, [3], [0, 0, 0]));
    b.output(b.op('DequantizeLinear', [b.op('QuantizeLinear', [w, s, z], { axis: 0 }), s, z], { axis: 0 }), 'y');
    const ks = [-90, -5, 30, 200, 0, 64, -120, -300, 11, 99, 17, -40]; // ±200/300: saturated
    const values = ks.map((k, i) => (k + 0.25) * scales[Math.floor(i / 4)]!);
    const [r] = await gradCheck(b.model({ opset: 17 }), { feeds: { w: Tensor.float([3, 4], values) }, eps: 0.08, elements: [...ks.keys()] });
    expect(r!.maxError, JSON.stringify(r!.worst)).toBeLessThan(1e-4);
    expect(r!.analytic[3]).toBe(0);
    expect(r!.analytic[7]).toBe(0);
    expect(Math.abs(r!.analytic[0]!)).toBeGreaterThan(0);
  });

  it('LSQ: the scale gradient is Σ R·((q − z) − mask·x/s)', async () => {
    const xs = [-7, -3.21, -0.4, 0.013, 0.51, 2.26, 6.3, 9];
    const feeds = { x: Tensor.float([1, xs.length], xs), s: Tensor.float([], [S]) };
    const [, rs] = await gradCheck(fakeQuant(xs.length, { scaleInput: true }), { feeds, wrt: ['x', 's'], eps: 4 * S, elements: [0] });
    const R = Array.from({ length: xs.length }, rng(7)).map((u) => u * 2 - 1);
    let expected = 0;
    xs.forEach((x, i) => {
      const xf = Math.fround(x);
      const r = Math.round(Math.fround(xf / Math.fround(S))) + Z;
      const q = Math.min(255, Math.max(0, r));
      const mask = r >= 0 && r <= 255 ? 1 : 0;
      expected += R[i]! * (q - Z - (mask * xf) / Math.fround(S));
    });
    expect(rs!.analytic[0]).toBeCloseTo(expected, 3);
  });
});
