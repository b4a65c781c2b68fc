/**
 * The Fashion-MNIST ResNet-style CNN (the model `inferopt demo` uses by default): a 3×3 stem, three basic
 * residual blocks (16 → 32 → 64 channels, the last two with stride 2 and a 1×1 projection shortcut), each
 * conv followed by BatchNormalization, global average pooling and a linear classifier. ~78k parameters.
 * Input `image` [N, 1, 28, 28] = pixels / 255; the model normalises with the training set's mean and std.
 * He-normal initialisation from a seeded generator: same seed, same bytes.
 */
import { GraphBuilder } from '../../src/ir/builder.js';
import { DataType } from '../../src/ir/dtype.js';
import type { Model, Value } from '../../src/ir/graph.js';
import { Tensor } from '../../src/ir/tensor.js';
import { WeightRng } from '../../src/zoo/random.js';

export const FASHION_CLASSES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];
export const FASHION_MEAN = 0.286;
export const FASHION_STD = 0.353;

export function buildFashionResNet(seed = 0, widths: [number, number, number] = [16, 32, 64]): Model {
  const b = new GraphBuilder();
  const w = new WeightRng(seed);
  const x = b.input('image', DataType.FLOAT, ['N', 1, 28, 28]);
  const ones = (n: number) => Tensor.float([n], new Float32Array(n).fill(1));
  const zeros = (n: number) => Tensor.float([n], new Float32Array(n));

  const convBn = (name: string, input: Value, cin: number, cout: number, k: number, stride: number): Value => {
    const weight = b.init(`${name}.weight`, w.normal([cout, cin, k, k], Math.sqrt(2 / (cin * k * k))));
    const pad = (k - 1) / 2;
    const y = b.op('Conv', [input, weight], { kernel_shape: [k, k], strides: [stride, stride], pads: [pad, pad, pad, pad] }, { name: `${name}.conv` });
    const bn = [ones(cout), zeros(cout), zeros(cout), ones(cout)].map((t, i) => b.init(`${name}.bn.${['weight', 'bias', 'running_mean', 'running_var'][i]}`, t));
    return b.op('BatchNormalization', [y, ...bn], { epsilon: { type: 'float', value: 1e-5 }, momentum: { type: 'float', value: 0.9 } }, { name: `${name}.bn` });
  };
  const relu = (v: Value) => b.op('Relu', [v]);
  const block = (name: string, input: Value, cin: number, cout: number, stride: number): Value => {
    const h = relu(convBn(`${name}.a`, input, cin, cout, 3, stride));
    const main = convBn(`${name}.b`, h, cout, cout, 3, 1);
    const shortcut = stride === 1 && cin === cout ? input : convBn(`${name}.proj`, input, cin, cout, 1, stride);
    return relu(b.op('Add', [main, shortcut], {}, { name: `${name}.add` }));
  };

  const normalised = b.op('Mul', [b.op('Sub', [x, b.scalar('pixel_mean', FASHION_MEAN)]), b.scalar('pixel_inv_std', 1 / FASHION_STD)]);
  let h = relu(convBn('stem', normalised, 1, widths[0], 3, 1));
  h = block('block1', h, widths[0], widths[0], 1);
  h = block('block2', h, widths[0], widths[1], 2);
  h = block('block3', h, widths[1], widths[2], 2);
  const pooled = b.op('Flatten', [b.op('GlobalAveragePool', [h])], { axis: 1 });
  const fcW = b.init('fc.weight', w.uniformTensor([10, widths[2]], -1 / Math.sqrt(widths[2]), 1 / Math.sqrt(widths[2])));
  const fcB = b.init('fc.bias', zeros(10));
  const logits = b.op('Gemm', [pooled, fcW, fcB], { transB: 1 }, { name: 'fc' });
  b.output(logits, 'logits', { kind: 'tensor', elemType: DataType.FLOAT, shape: ['N', 10] });
  return b.model({ opset: 17 });
}
