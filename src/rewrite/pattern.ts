import type { Node } from '../ir/graph.js';
import type { Tensor } from '../ir/tensor.js';

/**
 * Patterns are trees written as ordinary expressions, rooted at the op the rule rewrites:
 *
 *   P.op('Add', [P.op('MatMul', [P.v('x'), P.c('w')], { as: 'mm' }), P.c('b')], { as: 'add' })
 *
 * - `P.op(type, inputs)` matches a node of that type whose inputs match positionally (missing trailing
 *   pattern inputs are not checked: `Reshape(x, *)` is written `P.op('Reshape', [P.v('x'), P.any()])`).
 *   Commutative ops (the registry's `commutative` trait, or `commute: true`) also match with their two inputs swapped.
 * - `P.v(name)` matches any value and binds it; the same name twice must be the same value.
 * - `P.c(name?, where?)` matches a constant (initializer or Constant output), optionally with a predicate.
 * - `P.scalar(x)` matches a constant whose every element is ≈ x (1e-4 relative).
 */
export type Pattern = OpPattern | VarPattern | ConstPattern;

export interface OpPattern {
  kind: 'op';
  op: string;
  /** '' for the default domain. */
  domain: string;
  inputs: Pattern[];
  /** Binding name for the matched node (and its output). */
  as?: string;
  /** Attribute or other node predicate: true, or the reason the node does not fit. */
  where?: (n: Node) => true | string;
  /** Match the two inputs in either order (default: from the op's algebraic properties). */
  commute?: boolean;
  /** Which output of the node this pattern refers to (default 0). */
  output?: number;
}

export interface VarPattern {
  kind: 'var';
  /** Binding name; undefined = wildcard. */
  name?: string;
}

export interface ConstPattern {
  kind: 'const';
  name?: string;
  where?: (t: Tensor) => boolean;
  /** A description for explain output ("≈ 0.5"). */
  describe?: string;
}

export interface OpOpts {
  as?: string;
  where?: (n: Node) => true | string;
  domain?: string;
  commute?: boolean;
  output?: number;
}

export function near(x: number, want: number, rel = 1e-4): boolean {
  return Math.abs(x - want) <= rel * Math.max(1, Math.abs(want));
}

export const P = {
  op(op: string, inputs: Pattern[], opts: OpOpts = {}): OpPattern {
    return { kind: 'op', op, domain: opts.domain ?? '', inputs, as: opts.as, where: opts.where, commute: opts.commute, output: opts.output };
  },
  v(name: string): VarPattern {
    return { kind: 'var', name };
  },
  any(): VarPattern {
    return { kind: 'var' };
  },
  c(name?: string, where?: (t: Tensor) => boolean): ConstPattern {
    return { kind: 'const', name, where };
  },
  /** A constant whose elements all equal `value` (within 1e-4 relative). */
  scalar(value: number, name?: string): ConstPattern {
    return {
      kind: 'const',
      name,
      describe: `≈ ${value}`,
      where: (t) => t.size > 0 && t.dtype !== 8 && t.toFloat32().every((x) => near(x, value)),
    };
  },
};

/** Every op type a pattern mentions (for early rejection). */
export function rootOp(p: Pattern): string | undefined {
  return p.kind === 'op' ? p.op : undefined;
}

/** Node predicates for common attribute checks. */
export const where = {
  /** `perm` equals the given permutation. */
  perm:
    (perm: number[]) =>
    (n: Node): true | string => {
      const p = n.attrInts('perm');
      return p && p.length === perm.length && p.every((x, i) => x === perm[i]) ? true : `perm is [${p?.join(',')}], want [${perm.join(',')}]`;
    },
  /** Softmax/ReduceMean-style last axis: `axis`/`axes` is -1 or rank-1 (rank unknown: only -1 accepted). */
  lastAxis:
    (attr = 'axis', rank?: number) =>
    (n: Node): true | string => {
      const a = n.attrInt(attr) ?? n.attrInts(attr)?.[0];
      return a === -1 || (rank !== undefined && a === rank - 1) ? true : `${attr} is ${a}, want the last axis`;
    },
};
