/**
 * `mlp`: 784 → 256 → 128 → 10 classifier, as torch exports nn.Sequential(Linear, ReLU, …) on a 2-D input:
 * Gemm(transB=1) + Relu per hidden layer, a final Gemm producing `logits` [N, 10]. Input `input` f32[N, 784].
 * Hidden weights He-normal (they feed ReLU), the output layer at torch's default scale.
 */
import { DataType } from '../ir/dtype.js';
import type { Model } from '../ir/graph.js';
import { Layers, type LayerOptions } from './layers.js';

export const MLP_SIZES = [784, 256, 128, 10] as const;

export function buildMlp(w: LayerOptions): Model {
  const l = new Layers(w);
  let x = l.input('input', DataType.FLOAT, ['N', MLP_SIZES[0]]);
  for (let i = 0; i < MLP_SIZES.length - 1; i++) {
    const [inF, outF] = [MLP_SIZES[i]!, MLP_SIZES[i + 1]!];
    const last = i === MLP_SIZES.length - 2;
    x = l.gemm(`fc${i + 1}`, x, inF, outF, last ? undefined : Math.sqrt(2 / inF));
    if (!last) x = l.relu(`relu${i + 1}`, x);
  }
  l.output(x, 'logits', DataType.FLOAT, ['N', MLP_SIZES[MLP_SIZES.length - 1]!]);
  return l.model('inferopt zoo: mlp 784-256-128-10 (random weights)');
}
