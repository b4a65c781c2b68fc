import type { Value } from '../../ir/graph.js';
import { canTakeOutputName, rulePass } from '../../rewrite/apply.js';
import type { Match } from '../../rewrite/match.js';
import { P } from '../../rewrite/pattern.js';
import type { RewriteRule, RuleContext } from '../../rewrite/rule.js';
import { elemTypeOf, intConst, shapeOf } from '../util.js';

/**
 * Nodes that compute nothing: Identity, inference-mode Dropout, Cast to the type it already has, Reshape to
 * the shape it already has, Transpose pairs that cancel, identity Transposes, Reshape of a Reshape.
 */

/** Refuses when the root's output is a graph output and `x` cannot take over its name. */
function outputNameCheck(m: Match, ctx: RuleContext, x: Value): string | undefined {
  const out = m.root.outputs[0]!;
  if (ctx.graph.isOutput(out) && !canTakeOutputName(ctx.graph, x)) return `'${out.name}' is a graph output and '${x.name}' cannot be renamed to it`;
  return undefined;
}

const identity: RewriteRule = {
  name: 'eliminate-identity',
  doc: 'Identity(x) → x',
  patterns: [P.op('Identity', [P.v('x')])],
  check: (m, ctx) => outputNameCheck(m, ctx, m.value('x')),
  replace: (m) => m.value('x'),
};

const dropout: RewriteRule = {
  name: 'eliminate-dropout',
  doc: 'Dropout(x) → x at inference (mask output unused, training_mode absent or false)',
  patterns: [P.op('Dropout', [P.v('x')])],
  check(m, ctx) {
    const n = m.root;
    if (n.outputs[1] && (n.outputs[1].uses.length > 0 || ctx.graph.isOutput(n.outputs[1]))) return 'the mask output is used';
    const training = n.input(2);
    if (training) {
      const t = training.constTensor();
      if (!t || t.toNumbers()[0] !== 0) return 'training_mode is not a constant false';
    }
    return outputNameCheck(m, ctx, m.value('x'));
  },
  replace: (m) => [m.value('x'), null],
};

const castSameType: RewriteRule = {
  name: 'eliminate-cast',
  doc: 'Cast(x, to=T) → x when x is already T',
  patterns: [P.op('Cast', [P.v('x')])],
  check(m, ctx) {
    const t = elemTypeOf(m.value('x'));
    if (t === undefined) return "the input's element type is unknown";
    if (t !== m.root.attrInt('to')) return 'the cast changes the type';
    return outputNameCheck(m, ctx, m.value('x'));
  },
  replace: (m) => m.value('x'),
};

/** True when Reshape to `target` keeps `input` as it is (dims equal, copied with 0, or one inferred -1). */
export function reshapeKeepsShape(input: readonly (number | string | null)[], target: readonly number[], allowZero: boolean): boolean {
  if (input.length !== target.length) return false;
  let inferred = 0;
  for (let i = 0; i < target.length; i++) {
    const d = target[i]!;
    if (d === 0 && !allowZero) continue; // copies the input's dim
    if (d === input[i]) continue;
    // with every other dim equal, the one -1 resolves to the input's own dim
    if (d === -1 && input[i] !== 0) {
      inferred++;
      continue;
    }
    return false;
  }
  return inferred <= 1;
}

const reshapeSameShape: RewriteRule = {
  name: 'eliminate-reshape',
  doc: 'Reshape(x, s) → x when x already has shape s',
  patterns: [P.op('Reshape', [P.v('x'), P.c('shape')])],
  check(m, ctx) {
    const x = m.value('x');
    const target = intConst(m.value('shape'));
    const input = shapeOf(x);
    if (!input || !target) return "the input's shape is unknown";
    if (!reshapeKeepsShape(input, target, m.root.attrInt('allowzero', 0) === 1)) return 'the shape changes';
    return outputNameCheck(m, ctx, x);
  },
  replace: (m) => m.value('x'),
};

const reshapeOfReshape: RewriteRule = {
  name: 'merge-reshape',
  doc: 'Reshape(Reshape(x, a), b) → Reshape(x, b) when b copies no dimension (no 0 entries)',
  patterns: [P.op('Reshape', [P.op('Reshape', [P.v('x'), P.any()], { as: 'inner' }), P.c('shape')])],
  mayEscape: ['inner'],
  check(m) {
    const s = intConst(m.value('shape'));
    if (!s) return 'the outer shape is not an integer constant';
    if (s.includes(0)) return 'the outer shape copies dimensions (0) from the intermediate';
    return undefined;
  },
  replace: (m, b) => b.op('Reshape', [m.value('x'), m.value('shape')], { allowzero: m.root.attrInt('allowzero') }),
};

function composePerm(inner: number[], outer: number[]): number[] {
  return outer.map((o) => inner[o]!);
}

const transposePair: RewriteRule = {
  name: 'merge-transpose',
  doc: 'Transpose(Transpose(x, p), q) → x when they cancel, else one Transpose',
  patterns: [P.op('Transpose', [P.op('Transpose', [P.v('x')], { as: 'inner' })])],
  mayEscape: ['inner'],
  check(m, ctx) {
    const p = m.node('inner').attrInts('perm');
    const q = m.root.attrInts('perm');
    if (!p || !q) return 'a perm attribute is missing (default reverse perm needs the rank)';
    if (p.length !== q.length) return 'perms differ in rank';
    const c = composePerm(p, q);
    if (c.every((x, i) => x === i)) return outputNameCheck(m, ctx, m.value('x'));
    if (m.node('inner').outputs[0]!.uses.length > 1) return 'the inner Transpose has other uses';
    return undefined;
  },
  replace(m, b) {
    const c = composePerm(m.node('inner').attrInts('perm')!, m.root.attrInts('perm')!);
    return c.every((x, i) => x === i) ? m.value('x') : b.op('Transpose', [m.value('x')], { perm: c });
  },
};

const identityTranspose: RewriteRule = {
  name: 'eliminate-transpose',
  doc: 'Transpose(x, perm=identity) → x',
  patterns: [P.op('Transpose', [P.v('x')], { where: (n) => (n.attrInts('perm')?.every((x, i) => x === i) ? true : 'not an identity perm') })],
  check: (m, ctx) => outputNameCheck(m, ctx, m.value('x')),
  replace: (m) => m.value('x'),
};

export const noopRules: readonly RewriteRule[] = [identity, dropout, castSameType, reshapeSameShape, reshapeOfReshape, transposePair, identityTranspose];

export const eliminateNoops = rulePass('eliminate-noops', 'remove nodes that compute nothing (Identity, Dropout, same-type Cast, same-shape Reshape, cancelling Transposes)', noopRules);
