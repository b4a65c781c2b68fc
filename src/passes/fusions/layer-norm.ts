import { attr } from '../../ir/builder.js';
import type { Node } from '../../ir/graph.js';
import { rulePass } from '../../rewrite/apply.js';
import type { Match } from '../../rewrite/match.js';
import { P, type Pattern } from '../../rewrite/pattern.js';
import type { RewriteRule, RuleContext } from '../../rewrite/rule.js';
import { opsetOf, rankOf, reduceAxes, scalarConst } from '../util.js';

/**
 * LayerNormalization from the decomposed form exporters emit before opset 17:
 *
 *   x ─┬──────────────────── Sub ─ d ─┬─ Pow(2) ─ ReduceMean ─ Add(ε) ─ Sqrt ─┐
 *      └─ ReduceMean(-1) ─────┘       └──────────────────────────────────── Div ─ Mul(γ) ─ Add(β)
 *
 * Variants: Mul(d, d) for Pow(d, 2); no β (the root is Mul); operands of Add/Mul in either order.
 * LayerNormalization is standard from opset 17; ORT also runs it at older opsets (registered in the ONNX
 * domain as a contrib kernel), so `cpu` and `wasm` fuse at any opset and `std` needs opset ≥ 17.
 */

const normalized = (square: 'pow' | 'mul'): Pattern => {
  const d = P.op('Sub', [P.v('x'), P.op('ReduceMean', [P.v('x')], { as: 'mean' })], { as: 'd' });
  const sq = square === 'pow' ? P.op('Pow', [P.v('d'), P.scalar(2)]) : P.op('Mul', [P.v('d'), P.v('d')]);
  const std = P.op('Sqrt', [P.op('Add', [P.op('ReduceMean', [sq], { as: 'var' }), P.c('eps')])]);
  return P.op('Div', [d, std]);
};

const withBeta = (square: 'pow' | 'mul') => P.op('Add', [P.op('Mul', [normalized(square), P.c('gamma')]), P.c('beta')]);
const withoutBeta = (square: 'pow' | 'mul') => P.op('Mul', [normalized(square), P.c('gamma')]);

/** Reason the two ReduceMeans do not both reduce the last axis only with keepdims, or undefined. */
function lastAxisOnly(n: Node, rank: number | undefined): string | undefined {
  const axes = reduceAxes(n);
  if (!axes || axes.length !== 1) return `${n.name}: axes ${axes ? `[${axes}]` : 'missing'}, want the last axis only`;
  if (!(axes[0] === -1 || (rank !== undefined && axes[0] === rank - 1))) return `${n.name}: reduces axis ${axes[0]}, want the last axis`;
  if (n.attrInt('keepdims', 1) !== 1) return `${n.name}: keepdims is 0`;
  return undefined;
}

/** The β-less variant waits when its result feeds an Add of a constant: the full form fuses there. */
function betaFollows(m: Match): boolean {
  if (m.has('beta')) return false;
  const uses = m.root.outputs[0]!.uses;
  return uses.length === 1 && uses[0]!.node.opType === 'Add' && uses[0]!.node.inputs.some((v) => v !== m.root.outputs[0] && v?.constTensor());
}

export function layerNormCheck(m: Match, ctx: RuleContext): string | undefined {
  if (betaFollows(m)) return 'an Add of β follows: fused there';
  if (ctx.target === 'std' && opsetOf(ctx.model) < 17) return `opset ${opsetOf(ctx.model)} < 17: LayerNormalization is not a standard op yet`;
  const rank = rankOf(m.value('x'));
  const why = lastAxisOnly(m.node('mean'), rank) ?? lastAxisOnly(m.node('var'), rank);
  if (why) return why;
  if (scalarConst(m.value('eps')) === undefined) return 'epsilon is not a scalar';
  for (const k of ['gamma', 'beta']) {
    if (!m.has(k)) continue;
    const t = m.tensor(k);
    if (t.rank !== 1) return `${k} is ${t.rank}-D, want 1-D over the normalized axis`;
  }
  return undefined;
}

const layerNorm: RewriteRule = {
  name: 'fuse-layer-norm',
  doc: 'ReduceMean/Sub/Pow/ReduceMean/Add/Sqrt/Div/Mul/Add → LayerNormalization',
  patterns: [withBeta('pow'), withBeta('mul'), withoutBeta('pow'), withoutBeta('mul')],
  check: layerNormCheck,
  replace(m, b) {
    const beta = m.has('beta') ? m.value('beta') : null;
    return b.op('LayerNormalization', [m.value('x'), m.value('gamma'), beta], { axis: -1, epsilon: attr.float(scalarConst(m.value('eps'))!) });
  },
};

export const layerNormRules: readonly RewriteRule[] = [layerNorm];
export const fuseLayerNorm = rulePass('fuse-layer-norm', 'fuse decomposed LayerNorm into LayerNormalization', layerNormRules);
