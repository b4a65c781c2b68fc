import { DataType } from '../ir/dtype.js';
import type { Dim, ValueType } from '../ir/types.js';
import { registerOp, type Cost, type InferContext } from './registry.js';
import { broadcast, elemIn, gemmCost, hasInput, isNum, like, numel, prodDims, shapeIn, ShapeError, tensorOf } from './util.js';

/**
 * Matrix products: Gemm, MatMul (batched, broadcast), the quantized MatMulInteger/QLinearMatMul, com.microsoft
 * FusedMatMul, DynamicQuantizeMatMul, MatMulIntegerToFloat, MatMulNBits, and Einsum. MACs = batch·M·N·K; the
 * integer variants count integer MACs the same way.
 */

interface Product {
  shape: Dim[];
  /** Reduction length. */
  k: Dim;
}

/** numpy.matmul shapes: 1-D operands are promoted and the promoted axis dropped again. */
export function matmulShape(a: Dim[] | undefined, b: Dim[] | undefined, transA = false, transB = false): Product | undefined {
  if (!a || !b || a.length === 0 || b.length === 0) return undefined;
  const A = a.length === 1 ? [1, a[0]!] : [...a];
  const B = b.length === 1 ? [b[0]!, 1] : [...b];
  if (transA) A.push(...A.splice(-2, 2).reverse());
  if (transB) B.push(...B.splice(-2, 2).reverse());
  const m = A[A.length - 2]!;
  const k = A[A.length - 1]!;
  const n = B[B.length - 1]!;
  const kb = B[B.length - 2]!;
  if (isNum(k) && isNum(kb) && k !== kb) throw new ShapeError(`MatMul inner dims differ: ${k} vs ${kb}`);
  const batch = broadcast([A.slice(0, -2), B.slice(0, -2)]);
  const shape = [...batch, ...(a.length === 1 ? [] : [m]), ...(b.length === 1 ? [] : [n])];
  return { shape, k: isNum(k) ? k : kb };
}

function productMacs(p: Product | undefined): number | undefined {
  if (!p) return undefined;
  const n = prodDims([...p.shape, p.k]);
  return isNum(n) ? n : undefined;
}

function matmulCost(a: number, b: number, biasInput = -1) {
  return (ctx: InferContext, outputs: readonly (ValueType | undefined)[]): Cost | undefined => {
    const p = matmulShape(shapeIn(ctx, a), shapeIn(ctx, b), !!ctx.node.attrInt('transA', 0), !!ctx.node.attrInt('transB', 0));
    const bias = hasInput(ctx, biasInput) ? (numel(outputs[0]) ?? 0) : 0;
    return gemmCost(ctx, outputs, productMacs(p), bias);
  };
}

registerOp({
  domain: '',
  opType: 'MatMul',
  traits: { kernel: 'gemm', prunedBy: ['channel', 'ffn'], quant: { qdq: true, weightInput: 1, weights: true } },
  arithmetic: 'float',
  infer: (ctx) => [like(ctx, 0, matmulShape(shapeIn(ctx, 0), shapeIn(ctx, 1))?.shape)],
  cost: matmulCost(0, 1),
});

/** Gemm's output: A·B with the transposes its attributes ask for (also ORT's FusedGemm). */
const gemmInfer = (ctx: InferContext) => [like(ctx, 0, matmulShape(shapeIn(ctx, 0), shapeIn(ctx, 1), !!ctx.node.attrInt('transA', 0), !!ctx.node.attrInt('transB', 0))?.shape)];

registerOp({
  domain: '',
  opType: 'Gemm',
  traits: { kernel: 'gemm', prunedBy: ['channel', 'ffn'], quant: { qdq: true, weightInput: 1, biasInput: 2, weights: true } },
  arithmetic: 'float',
  infer: gemmInfer,
  cost: matmulCost(0, 1, 2),
});

registerOp({
  domain: '',
  opType: 'MatMulInteger',
  arithmetic: 'int8',
  infer: (ctx) => [tensorOf(DataType.INT32, matmulShape(shapeIn(ctx, 0), shapeIn(ctx, 1))?.shape)],
  cost: matmulCost(0, 1),
});

// a, a_scale, a_zero_point, b, b_scale, b_zero_point, y_scale, y_zero_point
registerOp({
  domain: '',
  opType: 'QLinearMatMul',
  arithmetic: 'int8',
  infer: (ctx) => [tensorOf(elemIn(ctx, 7) ?? elemIn(ctx, 0), matmulShape(shapeIn(ctx, 0), shapeIn(ctx, 3))?.shape)],
  cost: matmulCost(0, 3),
});

registerOp({
  domain: 'com.microsoft',
  opType: 'FusedMatMul',
  traits: { kernel: 'gemm', prunedBy: ['ffn'] },
  arithmetic: 'float',
  infer: (ctx) => {
    if (ctx.node.attrInt('transBatchA', 0) || ctx.node.attrInt('transBatchB', 0)) return [like(ctx, 0)];
    const p = matmulShape(shapeIn(ctx, 0), shapeIn(ctx, 1), !!ctx.node.attrInt('transA', 0), !!ctx.node.attrInt('transB', 0));
    return [like(ctx, 0, p?.shape)];
  },
  cost: matmulCost(0, 1),
});

// A float, B int8/uint8 [K, N], b_scale, b_zero_point, bias
registerOp({
  domain: 'com.microsoft',
  opType: 'DynamicQuantizeMatMul',
  arithmetic: 'int8',
  infer: (ctx) => [like(ctx, 0, matmulShape(shapeIn(ctx, 0), shapeIn(ctx, 1))?.shape)],
  cost: matmulCost(0, 1, 4),
});

// Kernels ONNX Runtime's CPU provider makes of Gemm (they appear in the graph it runs, not in model files
// inferopt writes): A, a_scale, a_zero_point, B, b_scale, b_zero_point, C, y_scale, y_zero_point → Y (QGemm,
// float Y unless y_scale is given); FusedGemm is Gemm with an activation.
registerOp({
  domain: 'com.microsoft',
  opType: 'QGemm',
  arithmetic: 'int8',
  infer: (ctx) => {
    const p = matmulShape(shapeIn(ctx, 0), shapeIn(ctx, 3), !!ctx.node.attrInt('transA', 0), !!ctx.node.attrInt('transB', 0));
    return [tensorOf(hasInput(ctx, 8) ? elemIn(ctx, 8) : elemIn(ctx, 1), p?.shape)];
  },
});
registerOp({ domain: 'com.microsoft', opType: 'FusedGemm', traits: { kernel: 'gemm' }, arithmetic: 'float', infer: gemmInfer, cost: matmulCost(0, 1, 2) });

// A, B, a_scale, b_scale, a_zero_point, b_zero_point, bias; output has a_scale's float type
registerOp({
  domain: 'com.microsoft',
  opType: 'MatMulIntegerToFloat',
  arithmetic: 'int8',
  infer: (ctx) => [tensorOf(elemIn(ctx, 2), matmulShape(shapeIn(ctx, 0), shapeIn(ctx, 1))?.shape)],
  cost: matmulCost(0, 1, 6),
});

// A [..., K], packed B [N, blocks, blob]; K and N are attributes
registerOp({
  domain: 'com.microsoft',
  opType: 'MatMulNBits',
  arithmetic: 'int8',
  infer: (ctx) => {
    const a = shapeIn(ctx, 0);
    const n = ctx.node.attrInt('N');
    return [like(ctx, 0, a && n !== undefined ? [...a.slice(0, -1), n] : undefined)];
  },
  cost: (ctx, outputs) => {
    const a = shapeIn(ctx, 0);
    const k = ctx.node.attrInt('K');
    const out = numel(outputs[0]);
    return gemmCost(ctx, outputs, out !== undefined && k !== undefined && a ? out * k : undefined, hasInput(ctx, 5) ? (out ?? 0) : 0);
  },
});

// ---- Einsum --------------------------------------------------------------------------------------------------

interface EinsumPlan {
  shape: Dim[];
  /** Size of every index (letters and ellipsis axes), for the MAC count. */
  sizes: Dim[];
}

function einsumPlan(equation: string, shapes: (Dim[] | undefined)[]): EinsumPlan | undefined {
  const eq = equation.replace(/\s/g, '');
  const [lhs, rhs] = eq.split('->') as [string, string | undefined];
  const terms = lhs.split(',');
  if (terms.length !== shapes.length || shapes.some((s) => !s)) return undefined;
  const size = new Map<string, Dim>();
  const ellipses: Dim[][] = [];
  const counts = new Map<string, number>();
  terms.forEach((term, t) => {
    const s = shapes[t]!;
    const [pre, post] = term.includes('...') ? term.split('...') as [string, string] : [term, undefined];
    const ellRank = post === undefined ? 0 : s.length - pre.length - post.length;
    if (post !== undefined) ellipses.push(s.slice(pre.length, pre.length + ellRank));
    const letters = [...pre, ...(post ?? '')];
    const dims = [...s.slice(0, pre.length), ...s.slice(pre.length + ellRank)];
    letters.forEach((c, i) => {
      const d = dims[i] ?? null;
      const prev = size.get(c);
      size.set(c, prev === undefined || prev === 1 ? d : isNum(prev) || d === 1 ? prev : d);
      counts.set(c, (counts.get(c) ?? 0) + 1);
    });
  });
  const ell = broadcast(ellipses);
  const out = rhs ?? (ellipses.length ? '...' : '') + [...counts].filter(([, n]) => n === 1).map(([c]) => c).sort().join('');
  const shape: Dim[] = [];
  const [oPre, oPost] = out.includes('...') ? out.split('...') as [string, string] : [out, undefined];
  for (const c of oPre) shape.push(size.get(c) ?? null);
  if (oPost !== undefined) shape.push(...ell);
  for (const c of oPost ?? '') shape.push(size.get(c) ?? null);
  return { shape, sizes: [...size.values(), ...ell] };
}

registerOp({
  domain: '',
  opType: 'Einsum',
  arithmetic: 'float',
  infer: (ctx) => {
    const shapes = ctx.node.inputs.map((_, i) => shapeIn(ctx, i));
    return [like(ctx, 0, einsumPlan(ctx.node.attrString('equation', ''), shapes)?.shape)];
  },
  cost: (ctx, outputs) => {
    const shapes = ctx.node.inputs.map((_, i) => shapeIn(ctx, i));
    const plan = einsumPlan(ctx.node.attrString('equation', ''), shapes);
    const n = plan && prodDims(plan.sizes);
    return gemmCost(ctx, outputs, isNum(n) ? n : undefined);
  },
});

// determinant of the trailing square matrices: [..., M, M] → [...]
registerOp({
  domain: '',
  opType: 'Det',
  infer: (ctx) => [like(ctx, 0, shapeIn(ctx, 0)?.slice(0, -2))],
  cost: (ctx, outputs) => {
    const x = shapeIn(ctx, 0);
    const m = x?.[x.length - 1];
    const batch = x && prodDims(x.slice(0, -2));
    // LU decomposition: about m³/3 MACs per matrix
    return gemmCost(ctx, outputs, isNum(m) && isNum(batch) ? Math.round((batch * m ** 3) / 3) : undefined);
  },
});
