import type { Value } from '../../ir/graph.js';
import type { GradContext, GradRule } from '../grad-rule.js';
import { defineGrad } from '../registry.js';

/**
 * Gradients of elementwise math and activations, one small rule each (tinygrad's table, spelled out).
 * Broadcasting ops hand the gradient to `reduceTo`, which sums it back to each input's shape.
 */

type Rule = (c: GradContext, dy: Value) => readonly ((() => Value) | null)[];

/** A rule whose gradients all need the incoming dy. */
function rule(grads: Rule, saves?: GradRule['saves']): GradRule {
  return { saves, grads: (c) => grads(c, c.dy()!) };
}

const mul = (c: GradContext, a: Value, b: Value) => c.op('Mul', [a, b]);
const where = (c: GradContext, cond: Value, a: Value, b: Value) => c.op('Where', [cond, a, b]);
const zero = (c: GradContext, like: Value) => c.scalar(0, like);

const unary: Record<string, Rule> = {
  Neg: (c, dy) => [() => c.op('Neg', [dy])],
  Identity: (c, dy) => [() => dy],
  Exp: (c, dy) => [() => mul(c, dy, c.y(0))],
  Log: (c, dy) => [() => c.op('Div', [dy, c.x(0)])],
  Sqrt: (c, dy) => [() => c.op('Div', [mul(c, dy, c.scalar(0.5, dy)), c.y(0)])],
  Reciprocal: (c, dy) => [() => c.op('Neg', [mul(c, dy, mul(c, c.y(0), c.y(0)))])],
  Abs: (c, dy) => [() => mul(c, dy, c.op('Sign', [c.x(0)]))],
  Sigmoid: (c, dy) => [() => mul(c, dy, mul(c, c.y(0), c.op('Sub', [c.scalar(1, dy), c.y(0)])))],
  Tanh: (c, dy) => [() => mul(c, dy, c.op('Sub', [c.scalar(1, dy), mul(c, c.y(0), c.y(0))]))],
  Relu: (c, dy) => [() => where(c, c.op('Greater', [c.x(0), zero(c, dy)]), dy, zero(c, dy))],
  LeakyRelu: (c, dy) => [
    () => where(c, c.op('Greater', [c.x(0), zero(c, dy)]), dy, mul(c, dy, c.scalar(c.node.attrFloat('alpha', 0.01), dy))),
  ],
  HardSigmoid: (c, dy) => [
    () => {
      const alpha = c.node.attrFloat('alpha', 0.2);
      const t = c.op('Add', [mul(c, c.x(0), c.scalar(alpha, dy)), c.scalar(c.node.attrFloat('beta', 0.5), dy)]);
      const inside = c.op('And', [c.op('Greater', [t, zero(c, dy)]), c.op('Less', [t, c.scalar(1, dy)])]);
      return where(c, inside, mul(c, dy, c.scalar(alpha, dy)), zero(c, dy));
    },
  ],
  // y = x·relu6(x+3)/6: slope (2x+3)/6 inside (-3, 3), 0 below, 1 above
  HardSwish: (c, dy) => [
    () => {
      const x = c.x(0);
      const slope = c.op('Div', [c.op('Add', [c.op('Add', [x, x]), c.scalar(3, dy)]), c.scalar(6, dy)]);
      const upper = where(c, c.op('Greater', [x, c.scalar(3, dy)]), dy, mul(c, dy, slope));
      return where(c, c.op('Less', [x, c.scalar(-3, dy)]), zero(c, dy), upper);
    },
  ],
  // d erf(x) = 2/√π · exp(−x²)
  Erf: (c, dy) => [() => mul(c, dy, mul(c, c.scalar(2 / Math.sqrt(Math.PI), dy), c.op('Exp', [c.op('Neg', [mul(c, c.x(0), c.x(0))])])))],
  // exact Gelu: Φ(x) + x·φ(x)
  Gelu: (c, dy) => [
    () => {
      if (c.node.attrString('approximate', 'none') !== 'none') throw new Error(`Gelu '${c.node.name}': no gradient rule for approximate='tanh'`);
      const x = c.x(0);
      const cdf = mul(c, c.scalar(0.5, dy), c.op('Add', [c.scalar(1, dy), c.op('Erf', [mul(c, x, c.scalar(Math.SQRT1_2, dy))])]));
      const pdf = mul(c, c.scalar(1 / Math.sqrt(2 * Math.PI), dy), c.op('Exp', [mul(c, c.scalar(-0.5, dy), mul(c, x, x))]));
      return mul(c, dy, c.op('Add', [cdf, mul(c, x, pdf)]));
    },
  ],
  // Clip(x, min, max): the gradient passes where min ≤ x ≤ max
  Clip: (c, dy) => [
    () => {
      const x = c.x(0);
      let pass: Value | null = null;
      if (c.has(1)) pass = c.op('GreaterOrEqual', [x, c.x(1)]);
      if (c.has(2)) {
        const le = c.op('LessOrEqual', [x, c.x(2)]);
        pass = pass ? c.op('And', [pass, le]) : le;
      }
      return pass ? where(c, pass, dy, zero(c, dy)) : dy;
    },
    null,
    null,
  ],
};

const binary: Record<string, Rule> = {
  Add: (c, dy) => [() => c.reduceTo(dy, 0), () => c.reduceTo(dy, 1)],
  Sub: (c, dy) => [() => c.reduceTo(dy, 0), () => c.reduceTo(c.op('Neg', [dy]), 1)],
  Mul: (c, dy) => [() => c.reduceTo(mul(c, dy, c.x(1)), 0), () => c.reduceTo(mul(c, dy, c.x(0)), 1)],
  // y = a/b: da = dy/b, db = −dy·y/b
  Div: (c, dy) => [() => c.reduceTo(c.op('Div', [dy, c.x(1)]), 0), () => c.reduceTo(c.op('Neg', [c.op('Div', [mul(c, dy, c.y(0)), c.x(1)])]), 1)],
  // y = a^b: da = dy·b·a^(b−1), db = dy·y·ln a
  Pow: (c, dy) => [
    () => c.reduceTo(mul(c, dy, mul(c, c.x(1), c.op('Pow', [c.x(0), c.op('Sub', [c.x(1), c.scalar(1, c.x(1))])]))), 0),
    () => c.reduceTo(mul(c, dy, mul(c, c.y(0), c.op('Log', [c.x(0)]))), 1),
  ],
  Where: (c, dy) => [null, () => c.reduceTo(where(c, c.x(0), dy, zero(c, dy)), 1), () => c.reduceTo(where(c, c.x(0), zero(c, dy), dy), 2)],
};

/** A value's gradient through an elementwise cast: cast back to the input's type (none for integer inputs). */
const cast: GradRule = {
  grads: (c) => [() => c.op('Cast', [c.dy()!], { to: c.dtype(c.x(0)) })],
};

for (const [op, r] of Object.entries({ ...unary, ...binary })) defineGrad('', op, rule(r));
defineGrad('', 'Cast', cast);
