/**
 * `resnet18`, `resnet50`: torchvision's ResNet (v1.5: the stride sits on the 3×3 conv of a bottleneck),
 * ImageNet shapes: input `input` f32[N, 3, 224, 224], output `logits` f32[N, 1000].
 * Pattern choices: BatchNormalization nodes are kept after every Conv (bias-free convs), as an eval-mode
 * export with BN folding switched off emits them — so a Conv+BN fold pass has work to do (`foldBatchNorm`
 * gives the folded form torch exports by default: Conv with bias, no BN); residual joins are
 * `Add(branch, identity)` followed by Relu; the projection shortcut is Conv 1×1 + BN (`downsample.0/1`);
 * the head is GlobalAveragePool → Flatten → Gemm. Initializer names follow the torchvision state dict, so
 * float initializers = torchvision's parameter count + the BN running statistics
 * (resnet50: 25,557,032 + 53,120).
 * The last BN of each residual branch gets γ ≈ 0.5 so that the variance of random activations stays
 * bounded through 8–16 blocks (torchvision's `zero_init_residual` idea, softened so branches still matter).
 */
import { DataType } from '../ir/dtype.js';
import type { Model, Value } from '../ir/graph.js';
import { Layers, type LayerOptions } from './layers.js';

export type ResNetDepth = 18 | 50;

const BLOCKS: Record<ResNetDepth, number[]> = { 18: [2, 2, 2, 2], 50: [3, 4, 6, 3] };
const RESIDUAL_GAMMA = 0.5;

export function buildResNet(depth: ResNetDepth, w: LayerOptions): Model {
  const l = new Layers(w);
  const bottleneck = depth === 50;
  const expansion = bottleneck ? 4 : 1;
  let x = l.input('input', DataType.FLOAT, ['N', 3, 224, 224]);
  x = l.relu('relu', l.convBn('conv1', 'bn1', x, { inC: 3, outC: 64, kernel: 7, stride: 2, pad: 3 }));
  x = l.maxPool('maxpool', x, 3, 2, 1);
  let inC = 64;
  BLOCKS[depth].forEach((count, stage) => {
    const planes = 64 << stage;
    for (let i = 0; i < count; i++) {
      const stride = i === 0 && stage > 0 ? 2 : 1;
      const scope = `layer${stage + 1}.${i}`;
      const branch = bottleneck ? bottleneckBranch(l, scope, x, inC, planes, stride) : basicBranch(l, scope, x, inC, planes, stride);
      const outC = planes * expansion;
      const identity =
        stride !== 1 || inC !== outC
          ? l.convBn(`${scope}.downsample.0`, `${scope}.downsample.1`, x, { inC, outC, kernel: 1, stride })
          : x;
      x = l.relu(`${scope}.relu`, l.op(scope, 'Add', [branch, identity]));
      inC = outC;
    }
  });
  const logits = l.gemm('fc', l.globalPoolFlatten('avgpool', x), inC, 1000);
  l.output(logits, 'logits', DataType.FLOAT, ['N', 1000]);
  return l.model(`inferopt zoo: resnet${depth} (torchvision structure, BatchNormalization unfolded; random weights)`);
}

function basicBranch(l: Layers, scope: string, x: Value, inC: number, planes: number, stride: number): Value {
  const y = l.relu(`${scope}.relu`, l.convBn(`${scope}.conv1`, `${scope}.bn1`, x, { inC, outC: planes, kernel: 3, stride, pad: 1 }));
  return l.convBn(`${scope}.conv2`, `${scope}.bn2`, y, { inC: planes, outC: planes, kernel: 3, pad: 1 }, RESIDUAL_GAMMA);
}

function bottleneckBranch(l: Layers, scope: string, x: Value, inC: number, planes: number, stride: number): Value {
  let y = l.relu(`${scope}.relu`, l.convBn(`${scope}.conv1`, `${scope}.bn1`, x, { inC, outC: planes, kernel: 1 }));
  y = l.relu(`${scope}.relu`, l.convBn(`${scope}.conv2`, `${scope}.bn2`, y, { inC: planes, outC: planes, kernel: 3, stride, pad: 1 }));
  return l.convBn(`${scope}.conv3`, `${scope}.bn3`, y, { inC: planes, outC: planes * 4, kernel: 1 }, RESIDUAL_GAMMA);
}
