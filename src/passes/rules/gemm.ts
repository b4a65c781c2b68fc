import { DataType } from '../../ir/dtype.js';
import { Tensor } from '../../ir/tensor.js';
import type { Match } from '../../rewrite/match.js';
import { rulePass } from '../../rewrite/apply.js';
import { P } from '../../rewrite/pattern.js';
import type { RewriteRule } from '../../rewrite/rule.js';
import { rankOf } from '../util.js';

/**
 * MatMul with a constant 2-D weight: a following bias Add becomes a Gemm when the input is 2-D (3-D
 * MatMul+Add is left for the transformer fusions: Attention, BiasGelu, SkipLayerNormalization), and a
 * following constant scale (Mul, or Div) is folded into the weight's columns.
 */

const matmul = () => P.op('MatMul', [P.v('x'), P.c('w', (t) => t.dtype === DataType.FLOAT && t.rank === 2)], { as: 'mm' });

/** The per-column values of a constant broadcasting against [.., N] (a scalar, [N], [1, N]…). */
function perColumn(t: Tensor, n: number): Float32Array | undefined {
  if (t.dtype !== DataType.FLOAT) return undefined;
  const v = t.toFloat32();
  if (t.size === 1) return new Float32Array(n).fill(v[0]!);
  return t.size === n && t.dims[t.rank - 1] === n ? v : undefined;
}

const matmulAddToGemm: RewriteRule = {
  name: 'matmul-add-to-gemm',
  doc: 'Add(MatMul(x[M,K], W[K,N]), b[N]) → Gemm(x, W, b)',
  patterns: [P.op('Add', [matmul(), P.c('b')])],
  check(m) {
    const r = rankOf(m.value('x'));
    if (r === undefined) return "the input's rank is unknown";
    if (r !== 2) return `the input is ${r}-D (Gemm takes 2-D; 3-D is for the transformer fusions)`;
    const n = m.tensor('w').dims[1]!;
    const b = m.tensor('b');
    if (b.rank > 2 || !perColumn(b, n)) return `the bias is not a per-column vector of ${n}`;
    return undefined;
  },
  replace(m, b) {
    const n = m.tensor('w').dims[1]!;
    const bias = b.init(`${m.value('b').name}_gemm`, Tensor.float([n], perColumn(m.tensor('b'), n)!));
    return b.op('Gemm', [m.value('x'), m.value('w'), bias]);
  },
};

function scaleWeights(w: Tensor, s: Float32Array, divide: boolean): Tensor {
  const [k, n] = w.dims as [number, number];
  const out = new Float32Array(w.toFloat32());
  for (let i = 0; i < k; i++) for (let j = 0; j < n; j++) out[i * n + j] = divide ? out[i * n + j]! / s[j]! : out[i * n + j]! * s[j]!;
  return Tensor.float([k, n], out);
}

const scaleCheck = (m: Match) => {
  const n = m.tensor('w').dims[1]!;
  const s = m.tensor('s');
  if (!perColumn(s, n)) return `the factor is not a scalar or a per-column vector of ${n}`;
  // a factor of higher rank than the product would broadcast it up
  const r = rankOf(m.value('x'));
  if (s.rank > (r ?? 2)) return 'the factor has a higher rank than the product';
  return undefined;
};

const matmulScale: RewriteRule = {
  name: 'fold-matmul-scale',
  doc: 'MatMul(x, W) · s → MatMul(x, W·s) and MatMul(x, W) / s → MatMul(x, W/s) for a constant s per column',
  patterns: [P.op('Mul', [matmul(), P.c('s')]), P.op('Div', [matmul(), P.c('s')])],
  check: scaleCheck,
  replace(m, b) {
    const n = m.tensor('w').dims[1]!;
    const w = scaleWeights(m.tensor('w'), perColumn(m.tensor('s'), n)!, m.root.opType === 'Div');
    return b.op('MatMul', [m.value('x'), b.init(`${m.value('w').name}_scaled`, w)]);
  },
};

export const gemmRules: readonly RewriteRule[] = [matmulAddToGemm, matmulScale];

export const foldIntoMatMul = rulePass('fold-into-matmul', 'MatMul+Add → Gemm for 2-D inputs; fold constant scales into MatMul weights', gemmRules);
