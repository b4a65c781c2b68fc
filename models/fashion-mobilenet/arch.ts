/**
 * A MobileNetV2-style CNN for Fashion-MNIST: a 3×3 stem, five inverted-residual blocks (1×1 expansion ×4,
 * 3×3 depthwise, linear 1×1 projection; residual adds where shape allows), ReLU6 as Clip(0, 6), every conv
 * followed by BatchNormalization, a 1×1 head conv, global average pooling and a linear classifier. ~40k
 * parameters. Input `image` [N, 1, 28, 28] = pixels / 255. Depthwise convs followed by BatchNorm are the classic
 * case where post-training quantization loses accuracy (per-channel ranges differ by orders of magnitude).
 * He-normal initialisation from a seeded generator: same seed, same bytes.
 */
import { GraphBuilder } from '../../src/ir/builder.js';
import { DataType } from '../../src/ir/dtype.js';
import type { Model, Value } from '../../src/ir/graph.js';
import { Tensor } from '../../src/ir/tensor.js';
import { WeightRng } from '../../src/zoo/random.js';
import { FASHION_MEAN, FASHION_STD } from '../fashion-mnist/arch.js';

/** [out channels, stride] of each inverted-residual block. */
export const BLOCKS: [number, number][] = [
  [24, 2],
  [24, 1],
  [32, 2],
  [32, 1],
  [64, 1],
];

export function buildFashionMobileNet(seed = 0, expansion = 4): Model {
  const b = new GraphBuilder();
  const w = new WeightRng(seed);
  const x = b.input('image', DataType.FLOAT, ['N', 1, 28, 28]);
  const ones = (n: number) => Tensor.float([n], new Float32Array(n).fill(1));
  const zeros = (n: number) => Tensor.float([n], new Float32Array(n));

  const convBn = (name: string, input: Value, cin: number, cout: number, k: number, stride: number, group = 1): Value => {
    const weight = b.init(`${name}.weight`, w.normal([cout, cin / group, k, k], Math.sqrt(2 / ((cin / group) * k * k))));
    const pad = (k - 1) / 2;
    const y = b.op('Conv', [input, weight], { kernel_shape: [k, k], strides: [stride, stride], pads: [pad, pad, pad, pad], group }, { name: `${name}.conv` });
    const bn = [ones(cout), zeros(cout), zeros(cout), ones(cout)].map((t, i) => b.init(`${name}.bn.${['weight', 'bias', 'running_mean', 'running_var'][i]}`, t));
    return b.op('BatchNormalization', [y, ...bn], { epsilon: { type: 'float', value: 1e-5 }, momentum: { type: 'float', value: 0.9 } }, { name: `${name}.bn` });
  };
  const relu6 = (v: Value) => b.op('Clip', [v, b.scalar('zero', 0), b.scalar('six', 6)]);

  const normalised = b.op('Mul', [b.op('Sub', [x, b.scalar('pixel_mean', FASHION_MEAN)]), b.scalar('pixel_inv_std', 1 / FASHION_STD)]);
  let h = relu6(convBn('stem', normalised, 1, 16, 3, 1));
  let cin = 16;
  BLOCKS.forEach(([cout, stride], i) => {
    const name = `block${i + 1}`;
    const hidden = cin * expansion;
    const e = relu6(convBn(`${name}.expand`, h, cin, hidden, 1, 1));
    const d = relu6(convBn(`${name}.dw`, e, hidden, hidden, 3, stride, hidden));
    const p = convBn(`${name}.project`, d, hidden, cout, 1, 1);
    h = stride === 1 && cin === cout ? b.op('Add', [h, p], {}, { name: `${name}.add` }) : p;
    cin = cout;
  });
  h = relu6(convBn('head', h, cin, 128, 1, 1));
  const pooled = b.op('Flatten', [b.op('GlobalAveragePool', [h])], { axis: 1 });
  const fcW = b.init('fc.weight', w.uniformTensor([10, 128], -1 / Math.sqrt(128), 1 / Math.sqrt(128)));
  const logits = b.op('Gemm', [pooled, fcW, b.init('fc.bias', zeros(10))], { transB: 1 }, { name: 'fc' });
  b.output(logits, 'logits', { kind: 'tensor', elemType: DataType.FLOAT, shape: ['N', 10] });
  return b.model({ opset: 17 });
}
