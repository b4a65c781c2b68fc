/**
 * `mobilenetv2`: torchvision's MobileNetV2 (width 1.0), input `input` f32[N, 3, 224, 224], output `logits`
 * f32[N, 1000]. Pattern choices, as torch exports it in eval mode without BN folding: every Conv is followed
 * by BatchNormalization (or folded into it with `foldBatchNorm`); ReLU6 is `Clip(x, 0, 6)` with min/max as Constant inputs; the depthwise 3×3 conv
 * has `group` = channels; inverted residual blocks add `Add(x, branch)` when stride is 1 and widths match,
 * with a linear (activation-free) projection; head: GlobalAveragePool → Flatten → Gemm (dropout vanishes).
 * Names follow the torchvision state dict (`features.3.conv.1.0.weight`); float initializers =
 * 3,504,872 parameters + the BN running statistics.
 */
import { DataType } from '../ir/dtype.js';
import type { Model, Value } from '../ir/graph.js';
import { Layers, type ConvSpec, type LayerOptions } from './layers.js';

/** torchvision's inverted residual settings: expansion t, output channels c, repeats n, first stride s. */
const SETTINGS: [t: number, c: number, n: number, s: number][] = [
  [1, 16, 1, 1],
  [6, 24, 2, 2],
  [6, 32, 3, 2],
  [6, 64, 4, 2],
  [6, 96, 3, 1],
  [6, 160, 3, 2],
  [6, 320, 1, 1],
];

/** Conv2dNormActivation: Conv (no bias) → BN → ReLU6, at `<scope>.0` / `<scope>.1`. */
function convBnRelu6(l: Layers, scope: string, x: Value, spec: ConvSpec): Value {
  return l.relu6(`${scope}.2`, l.convBn(`${scope}.0`, `${scope}.1`, x, spec));
}

function invertedResidual(l: Layers, scope: string, x: Value, inC: number, outC: number, stride: number, t: number): Value {
  const hidden = Math.round(inC * t);
  const residual = stride === 1 && inC === outC;
  let k = 0;
  let y = x;
  if (t !== 1) y = convBnRelu6(l, `${scope}.conv.${k++}`, y, { inC, outC: hidden, kernel: 1 });
  y = convBnRelu6(l, `${scope}.conv.${k++}`, y, { inC: hidden, outC: hidden, kernel: 3, stride, pad: 1, group: hidden });
  y = l.convBn(`${scope}.conv.${k}`, `${scope}.conv.${k + 1}`, y, { inC: hidden, outC, kernel: 1 }, residual ? 0.5 : 1);
  return residual ? l.op(scope, 'Add', [x, y]) : y;
}

export function buildMobileNetV2(w: LayerOptions): Model {
  const l = new Layers(w);
  let x = l.input('input', DataType.FLOAT, ['N', 3, 224, 224]);
  x = convBnRelu6(l, 'features.0', x, { inC: 3, outC: 32, kernel: 3, stride: 2, pad: 1 });
  let inC = 32;
  let index = 1;
  for (const [t, c, n, s] of SETTINGS) {
    for (let i = 0; i < n; i++) {
      x = invertedResidual(l, `features.${index++}`, x, inC, c, i === 0 ? s : 1, t);
      inC = c;
    }
  }
  x = convBnRelu6(l, `features.${index}`, x, { inC, outC: 1280, kernel: 1 });
  const logits = l.gemm('classifier.1', l.globalPoolFlatten('pool', x), 1280, 1000);
  l.output(logits, 'logits', DataType.FLOAT, ['N', 1000]);
  return l.model('inferopt zoo: mobilenetv2 (torchvision structure, BatchNormalization unfolded; random weights)');
}
