import { DataType } from '../ir/dtype.js';
import type { Node, Value } from '../ir/graph.js';
import type { Tensor } from '../ir/tensor.js';
import { constInput } from './select.js';
import { transpose2d } from './weights.js';

/**
 * A MatMul or Gemm whose right operand is a constant 2-D float weight: what dynamic and weight-only modes
 * rewrite. `weight` is always [K, N] (Gemm's transB is undone here), `bias` a constant [N] if Gemm has one.
 */
export interface WeightMatMul {
  node: Node;
  input: Value;
  weight: Tensor;
  weightValue: Value;
  bias?: Tensor;
  biasValue?: Value;
}

export function matchWeightMatMul(n: Node): WeightMatMul | string {
  if (n.domain !== '' && n.domain !== 'ai.onnx') return 'not a standard-domain op';
  const a = n.input(0);
  const wv = n.input(1);
  const w = constInput(n, 1);
  if (!a || !wv) return 'missing inputs';
  if (!w || w.dtype !== DataType.FLOAT) return 'weight is not a constant float32 tensor';
  if (w.rank !== 2) return `weight has rank ${w.rank}, not 2`;
  if (n.opType === 'MatMul') return { node: n, input: a, weight: w, weightValue: wv };
  if (n.opType !== 'Gemm') return `op ${n.opType} is not MatMul/Gemm`;
  if (n.attrInt('transA', 0) !== 0) return 'Gemm with transA';
  if (n.attrFloat('alpha', 1) !== 1) return 'Gemm with alpha != 1';
  const weight = n.attrInt('transB', 0) ? transpose2d(w, w.name) : w;
  const cv = n.input(2);
  if (!cv) return { node: n, input: a, weight, weightValue: wv };
  const c = cv.constTensor();
  if (n.attrFloat('beta', 1) !== 1) return 'Gemm with beta != 1';
  if (!c || c.dtype !== DataType.FLOAT || c.size !== weight.dims[1] || c.rank > 2 || (c.rank === 2 && c.dims[0] !== 1)) {
    return 'Gemm bias is not a constant [N] vector';
  }
  return { node: n, input: a, weight, weightValue: wv, bias: c, biasValue: cv };
}
