import { attr } from '../../ir/builder.js';
import type { Value } from '../../ir/graph.js';
import { rulePass, replaceValue } from '../../rewrite/apply.js';
import type { Match } from '../../rewrite/match.js';
import { P, type Pattern } from '../../rewrite/pattern.js';
import type { RewriteRule } from '../../rewrite/rule.js';
import { shapeOf } from '../util.js';

/**
 * SkipLayerNormalization (com.microsoft): the residual Add and the LayerNormalization after it.
 *
 *   dense ─ Add(bias) ─┐                       dense ─┐
 *   skip ──────────── Add ─ sum ─ LayerNorm  →  skip ─ SkipLayerNormalization(γ, β, bias) ─ out
 *                           └─ (next residual)                                └─ out #3: sum
 *
 * Variants: with or without the bias Add of the dense layer folded in; the sum may also feed the next
 * residual connection (it becomes output 3, input_skip_bias_sum). Both operands must be 3-D
 * [batch, seq, hidden] of the same shape (no broadcasting), which shape inference must have shown.
 */

const ln = (sum: Pattern) => P.op('LayerNormalization', [sum, P.c('gamma'), P.c('beta')]);
const lnNoBeta = (sum: Pattern) => P.op('LayerNormalization', [sum, P.c('gamma')]);

const withBias = P.op('Add', [P.op('Add', [P.v('a'), P.c('bias')], { as: 'biasAdd' }), P.v('skip')], { as: 'sum' });
const plain = P.op('Add', [P.v('a'), P.v('skip')], { as: 'sum' });

/**
 * Both operands 3-D with shapes that cannot differ: equal dims, or dims shape inference could not resolve
 * (null). A literal 1 against anything else, or two different sizes or symbols, means broadcasting.
 */
function sameShape3d(a: Value, b: Value): string | undefined {
  const sa = shapeOf(a);
  const sb = shapeOf(b);
  if (!sa || !sb) return 'operand shapes are unknown (run shape inference)';
  if (sa.length !== 3 || sb.length !== 3) return `operands are ${sa.length}-D and ${sb.length}-D, want 3-D`;
  if (typeof sa[2] !== 'number' || sa[2] !== sb[2]) return `hidden sizes ${sa[2]} and ${sb[2]} are not the same known number`;
  for (let i = 0; i < 2; i++) {
    const [x, y] = [sa[i], sb[i]];
    if (x === y) continue;
    if ((x === null && y !== 1) || (y === null && x !== 1)) continue;
    return `operand shapes [${sa}] and [${sb}] differ (broadcasting)`;
  }
  return undefined;
}

function check(m: Match): string | undefined {
  const axis = m.root.attrInt('axis', -1);
  if (axis !== -1 && axis !== 2) return `LayerNormalization axis ${axis}, want the last`;
  if (m.root.outputs.slice(1).some((o) => o.uses.length > 0)) return 'mean / inv_std_dev outputs are used';
  if (m.value('a').constTensor() || m.value('skip').constTensor()) return 'an operand is a constant';
  if (m.has('bias') && m.tensor('bias').rank !== 1) return 'the bias is not 1-D';
  return sameShape3d(m.value('a'), m.value('skip'));
}

const skipLayerNorm: RewriteRule = {
  name: 'fuse-skip-layer-norm',
  doc: 'LayerNormalization(a + skip [+ bias]) → SkipLayerNormalization',
  targets: ['cpu', 'wasm'],
  patterns: [ln(withBias), lnNoBeta(withBias), ln(plain), lnNoBeta(plain)],
  mayEscape: ['sum'],
  check,
  replace(m, b) {
    const beta = m.has('beta') ? m.value('beta') : null;
    const bias = m.has('bias') ? m.value('bias') : null;
    const sumUsedElsewhere = m.node('sum').outputs[0]!.uses.some((u) => u.node !== m.root) || b.graph.isOutput(m.value('sum'));
    const [out, , , sum] = b.opN(
      'SkipLayerNormalization',
      [m.value('a'), m.value('skip'), m.value('gamma'), beta, bias],
      { epsilon: attr.float(m.root.attrFloat('epsilon', 1e-5)) },
      sumUsedElsewhere ? 4 : 1,
      'com.microsoft',
    );
    if (sumUsedElsewhere) {
      // optional outputs 1 and 2 (mean, inv_std_var) stay unnamed
      const node = out!.producer!;
      node.outputs[1]!.name = '';
      node.outputs[2]!.name = '';
      replaceValue(b.graph, m.value('sum'), sum!);
    }
    return [out!, null, null];
  },
};

export const skipLayerNormRules: readonly RewriteRule[] = [skipLayerNorm];
export const fuseSkipLayerNorm = rulePass('fuse-skip-layer-norm', 'fuse residual Add + LayerNormalization into SkipLayerNormalization', skipLayerNormRules);
