/**
 * `cnn-small`: a LeNet-sized image classifier for 1×28×28 inputs (MNIST/Fashion-MNIST), as torch exports an
 * eval-mode model whose BatchNorm was not folded (`foldBatchNorm` folds it): two blocks of Conv 3×3 (no bias) → BatchNormalization →
 * Relu → MaxPool 2×2, then Flatten → Gemm 1568→64 → Relu → Gemm 64→10. Input `input` f32[N, 1, 28, 28],
 * output `logits` f32[N, 10].
 */
import { DataType } from '../ir/dtype.js';
import type { Model } from '../ir/graph.js';
import { Layers, type LayerOptions } from './layers.js';

export function buildCnnSmall(w: LayerOptions): Model {
  const l = new Layers(w);
  let x = l.input('input', DataType.FLOAT, ['N', 1, 28, 28]);
  const channels = [1, 16, 32];
  for (let i = 1; i < channels.length; i++) {
    x = l.convBn(`conv${i}`, `bn${i}`, x, { inC: channels[i - 1]!, outC: channels[i]!, kernel: 3, pad: 1 });
    x = l.relu(`relu${i}`, x);
    x = l.maxPool(`pool${i}`, x, 2, 2, 0);
  }
  x = l.op('flatten', 'Flatten', [x], { axis: 1 });
  x = l.relu('relu3', l.gemm('fc1', x, 32 * 7 * 7, 64, Math.sqrt(2 / (32 * 7 * 7))));
  x = l.gemm('fc2', x, 64, 10);
  l.output(x, 'logits', DataType.FLOAT, ['N', 10]);
  return l.model('inferopt zoo: cnn-small (2×Conv+BN+Relu+MaxPool, 2×Gemm; random weights)');
}
