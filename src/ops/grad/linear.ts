import type { GradContext, GradRule } from '../grad-rule.js';
import { defineGrad } from '../registry.js';

/** Gradients of MatMul (batched, broadcast) and Gemm. */

function swapLast(c: GradContext, rank: number) {
  const perm = [...Array(rank).keys()];
  [perm[rank - 2], perm[rank - 1]] = [perm[rank - 1]!, perm[rank - 2]!];
  return perm;
}

// y = a·b with a [..., M, K], b [..., K, N]: da = dy·bᵀ, db = aᵀ·dy, each summed over broadcast batch dims
const matmul: GradRule = {
  saves: { inputs: [0, 1] },
  grads: (c) => {
    const as = c.shape(c.x(0));
    const bs = c.shape(c.x(1));
    if (as.length < 2 || bs.length < 2) throw new Error(`MatMul '${c.node.name}': gradient needs operands of rank ≥ 2`);
    const ys = c.shape(c.y(0));
    const batch = ys.slice(0, -2);
    const [m, k, n] = [as[as.length - 2]!, as[as.length - 1]!, bs[bs.length - 1]!];
    const dy = () => c.dy()!;
    const da = () => {
      const bt = c.op('Transpose', [c.x(1)], { perm: swapLast(c, bs.length) });
      return c.reduceTo(c.op('MatMul', [dy(), bt]), 0, [...batch, m, k]);
    };
    const db = () => {
      if (bs.length === 2) {
        // a shared weight: fold every batch row into one GEMM instead of a batched product plus a sum
        const a2 = c.op('Reshape', [c.x(0), c.ints([-1, k])]);
        const dy2 = c.op('Reshape', [dy(), c.ints([-1, n])]);
        return c.op('Gemm', [a2, dy2], { transA: 1 });
      }
      const at = c.op('Transpose', [c.x(0)], { perm: swapLast(c, as.length) });
      return c.reduceTo(c.op('MatMul', [at, dy()]), 1, [...batch, k, n]);
    };
    return [da, db];
  },
};

// y = α·A'·B' + β·C with A' = transA ? Aᵀ : A, B' likewise
const gemm: GradRule = {
  saves: { inputs: [0, 1] },
  grads: (c) => {
    const alpha = c.node.attrFloat('alpha', 1);
    const beta = c.node.attrFloat('beta', 1);
    const ta = c.node.attrInt('transA', 0);
    const tb = c.node.attrInt('transB', 0);
    const dy = () => c.dy()!;
    const g = (a: ReturnType<GradContext['x']>, b: ReturnType<GradContext['x']>, transA: number, transB: number) =>
      c.op('Gemm', [a, b], { transA, transB, alpha: alpha === 1 ? undefined : { type: 'float', value: alpha } });
    return [
      () => (ta ? g(c.x(1), dy(), tb, 1) : g(dy(), c.x(1), 0, tb ? 0 : 1)),
      () => (tb ? g(dy(), c.x(0), 1, ta) : g(c.x(0), dy(), ta ? 0 : 1, 0)),
      () => c.reduceTo(beta === 1 ? dy() : c.op('Mul', [dy(), c.scalar(beta, dy())]), 2),
    ];
  },
};

defineGrad('', 'MatMul', matmul);
defineGrad('', 'Gemm', gemm);
