import { rulePass } from '../../rewrite/apply.js';
import type { Match } from '../../rewrite/match.js';
import { P, type OpPattern, type Pattern } from '../../rewrite/pattern.js';
import type { RewriteBuilder, RewriteRule, RuleContext } from '../../rewrite/rule.js';
import { opsetOf, shapeOf } from '../util.js';

/**
 * GELU from its exported arithmetic, then the bias Add before it folded in.
 *
 * Exact (Erf) form, as torch exports nn.GELU():
 *
 *   x ─┬─ Div(√2) ─ Erf ─ Add(1) ─┐                      (or Mul(1/√2) for Div(√2))
 *      └──────────────────────── Mul ─ Mul(0.5)          (0.5 may also sit on x, or on the Add)
 *
 * Tanh approximation (nn.GELU(approximate='tanh'), GPT-2's gelu_new):
 *
 *   x ─┬─ Pow(3) ─ Mul(0.044715) ─ Add(x) ─ Mul(√(2/π)) ─ Tanh ─ Add(1) ─┐
 *      └───────────────────────────────────────────────────────────── Mul ─ Mul(0.5)
 *
 * Replacement: Gelu (standard from opset 20; `approximate='tanh'` for the second form), else ORT's
 * com.microsoft Gelu / FastGelu on `cpu` and `wasm`. Then Gelu(Add(a, b)) with a 1-D constant b becomes
 * BiasGelu(a, b) and FastGelu(Add(a, b)) becomes FastGelu(a, b) (contrib targets only).
 */

const SQRT2 = Math.SQRT2;
const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

const scaledX = (kind: 'div' | 'mul'): Pattern => (kind === 'div' ? P.op('Div', [P.v('x'), P.scalar(SQRT2)]) : P.op('Mul', [P.v('x'), P.scalar(1 / SQRT2)]));
const erfPlusOne = (kind: 'div' | 'mul'): Pattern => P.op('Add', [P.op('Erf', [scaledX(kind)]), P.scalar(1)]);

const cube = (): Pattern[] => [P.op('Pow', [P.v('x'), P.scalar(3)]), P.op('Mul', [P.v('x'), P.op('Mul', [P.v('x'), P.v('x')])])];
const tanhPlusOne = (c: Pattern): Pattern =>
  P.op('Add', [P.op('Tanh', [P.op('Mul', [P.op('Add', [P.v('x'), P.op('Mul', [c, P.scalar(0.044715)])]), P.scalar(SQRT_2_OVER_PI)])]), P.scalar(1)]);

/** The three places the 0.5 can sit: 0.5·(x·inner), x·(0.5·inner), (0.5·x)·inner. */
function halfTimes(inner: Pattern): OpPattern[] {
  return [
    P.op('Mul', [P.op('Mul', [P.v('x'), inner]), P.scalar(0.5)]),
    P.op('Mul', [P.v('x'), P.op('Mul', [inner, P.scalar(0.5)])]),
    P.op('Mul', [P.op('Mul', [P.v('x'), P.scalar(0.5)]), inner]),
  ];
}

function geluTarget(ctx: RuleContext): 'standard' | 'contrib' | string {
  if (opsetOf(ctx.model) >= 20) return 'standard';
  if (ctx.target === 'std') return `opset ${opsetOf(ctx.model)} < 20: Gelu is not a standard op yet`;
  return 'contrib';
}

function buildGelu(m: Match, b: RewriteBuilder, ctx: RuleContext, approximate: 'none' | 'tanh') {
  if (geluTarget(ctx) === 'standard') return b.op('Gelu', [m.value('x')], approximate === 'tanh' ? { approximate } : {});
  return b.op(approximate === 'tanh' ? 'FastGelu' : 'Gelu', [m.value('x')], {}, 'com.microsoft');
}

const refuseUnlessTarget = (_m: Match, ctx: RuleContext) => {
  const t = geluTarget(ctx);
  return t === 'standard' || t === 'contrib' ? undefined : t;
};

const erfGelu: RewriteRule = {
  name: 'fuse-gelu',
  doc: 'x·0.5·(1 + Erf(x/√2)) → Gelu',
  patterns: [...halfTimes(erfPlusOne('div')), ...halfTimes(erfPlusOne('mul'))],
  check: refuseUnlessTarget,
  replace: (m, b, ctx) => buildGelu(m, b, ctx, 'none'),
};

const tanhGelu: RewriteRule = {
  name: 'fuse-fast-gelu',
  doc: 'x·0.5·(1 + Tanh(√(2/π)·(x + 0.044715·x³))) → FastGelu (Gelu approximate=tanh at opset 20)',
  patterns: cube().flatMap((c) => halfTimes(tanhPlusOne(c))),
  check: refuseUnlessTarget,
  replace: (m, b, ctx) => buildGelu(m, b, ctx, 'tanh'),
};

/** A 1-D constant bias whose length matches the last dim of `a` (when known). */
function biasCheck(m: Match): string | undefined {
  const bias = m.tensor('bias');
  if (bias.rank !== 1) return `the bias is ${bias.rank}-D, want 1-D`;
  const s = shapeOf(m.value('a'));
  const last = s?.[s.length - 1];
  if (typeof last === 'number' && last !== bias.dims[0]) return `the bias has ${bias.dims[0]} entries, the input's last dim is ${last}`;
  if (m.value('a').constTensor()) return 'both operands are constants';
  return undefined;
}

const biasAdd = () => P.op('Add', [P.v('a'), P.c('bias')]);

const biasGelu: RewriteRule = {
  name: 'fuse-bias-gelu',
  doc: 'Gelu(a + b) → BiasGelu(a, b) for a 1-D constant b',
  targets: ['cpu', 'wasm'],
  patterns: [P.op('Gelu', [biasAdd()], { domain: 'com.microsoft' })],
  check: biasCheck,
  replace: (m, b) => b.op('BiasGelu', [m.value('a'), m.value('bias')], {}, 'com.microsoft'),
};

const fastGeluBias: RewriteRule = {
  name: 'fuse-fast-gelu-bias',
  doc: 'FastGelu(a + b) → FastGelu(a, b) for a 1-D constant b',
  targets: ['cpu', 'wasm'],
  patterns: [P.op('FastGelu', [biasAdd()], { domain: 'com.microsoft', where: (n) => (n.inputs.length < 2 || !n.input(1) ? true : 'already has a bias') })],
  check: biasCheck,
  replace: (m, b) => b.op('FastGelu', [m.value('a'), m.value('bias')], {}, 'com.microsoft'),
};

export const geluRules: readonly RewriteRule[] = [erfGelu, tanhGelu];
export const biasGeluRules: readonly RewriteRule[] = [biasGelu, fastGeluBias];
export const fuseGelu = rulePass('fuse-gelu', 'fuse Erf and Tanh GELU arithmetic into Gelu / FastGelu', geluRules);
export const fuseBiasGelu = rulePass('fuse-bias-gelu', 'fold the bias Add before Gelu / FastGelu into BiasGelu / FastGelu', biasGeluRules);
