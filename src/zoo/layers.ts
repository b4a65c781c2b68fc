/**
 * Building blocks for the zoo, written the way torch.onnx.export emits them (opset 17):
 * - weights are initializers named like the torch state dict (`layer1.0.conv1.weight`); node names are
 *   `<module path>/<OpType>`;
 * - small constants (eps, 0.5, shapes, axes) are `Constant` nodes, one per use, as the exporter does;
 * - nn.Linear on a 2-D input is `Gemm(transB=1)` with a [out, in] weight; on 3-D input `MatMul` with the
 *   weight stored transposed ([in, out]) followed by `Add(bias, y)` (bias first, as exported);
 * - Conv carries every attribute explicitly (dilations, group, kernel_shape, pads, strides).
 *
 * Initialisation keeps activations finite and outputs non-degenerate with random weights: He (fan-in) for
 * layers followed by ReLU, LeCun/Xavier-like for the rest, and BatchNormalization with non-trivial
 * statistics (so folding it into Conv changes the numbers) close to identity (so depth does not blow up).
 */
import { DataType } from '../ir/dtype.js';
import type { Value } from '../ir/graph.js';
import { GraphBuilder, attr } from '../ir/builder.js';
import { Tensor } from '../ir/tensor.js';
import type { Dim } from '../ir/types.js';
import { tensorType } from '../ir/types.js';
import { WeightRng } from './random.js';

export interface ConvSpec {
  inC: number;
  outC: number;
  kernel: number;
  stride?: number;
  pad?: number;
  group?: number;
  bias?: boolean;
}

export type LayerNormForm = 'decomposed' | 'fused';

export interface WeightOptions {
  seed: number;
  /** Zero-filled weights: the structure only (fast; outputs are degenerate). */
  zeroWeights?: boolean;
}

/** A GraphBuilder plus a seeded weight source and exporter-style layer helpers. */
export class Layers {
  readonly b = new GraphBuilder();
  readonly w: WeightRng;

  constructor(opts: WeightOptions) {
    this.w = new WeightRng(opts.seed, opts.zeroWeights);
  }

  // ---- values --------------------------------------------------------------------------------------

  input(name: string, elemType: DataType, shape: Dim[]): Value {
    return this.b.input(name, elemType, shape);
  }

  output(v: Value, name: string, elemType: DataType, shape: Dim[]): Value {
    return this.b.output(v, name, tensorType(elemType, shape));
  }

  param(name: string, t: Tensor): Value {
    return this.b.init(name, t);
  }

  /** A `Constant` node holding `t` (one per use, as exporters emit). */
  constant(scope: string, t: Tensor): Value {
    return this.b.op('Constant', [], { value: t }, { name: `${scope}/Constant` });
  }

  scalar(scope: string, value: number): Value {
    return this.constant(scope, Tensor.scalar(DataType.FLOAT, value));
  }

  ints(scope: string, values: number[]): Value {
    return this.constant(scope, Tensor.int64([values.length], values));
  }

  intScalar(scope: string, value: number): Value {
    return this.constant(scope, Tensor.scalar(DataType.INT64, value));
  }

  op(scope: string, opType: string, inputs: (Value | null)[], attrs: Parameters<GraphBuilder['op']>[2] = {}): Value {
    return this.b.op(opType, inputs, attrs, { name: `${scope}/${opType}` });
  }

  // ---- CNN blocks ----------------------------------------------------------------------------------

  /** Conv with He-normal (fan-in) weights; bias only when asked (convs before BN have none). */
  conv(scope: string, x: Value, s: ConvSpec): Value {
    const group = s.group ?? 1;
    const k = s.kernel;
    const fanIn = (s.inC / group) * k * k;
    const weight = this.param(`${scope}.weight`, this.w.normal([s.outC, s.inC / group, k, k], Math.sqrt(2 / fanIn)));
    const inputs = [x, weight];
    if (s.bias) inputs.push(this.param(`${scope}.bias`, this.w.normal([s.outC], 0.01)));
    const pad = s.pad ?? 0;
    return this.op(scope, 'Conv', inputs, {
      dilations: [1, 1],
      group,
      kernel_shape: [k, k],
      pads: [pad, pad, pad, pad],
      strides: [s.stride ?? 1, s.stride ?? 1],
    });
  }

  /**
   * BatchNormalization (eval). Statistics are random but close to identity: scale ~ gammaScale·U(0.8, 1.2),
   * bias ~ N(0, 0.05), mean ~ N(0, 0.05), var ~ U(0.8, 1.2). gammaScale < 1 on the last BN of a residual
   * branch keeps the variance growth of deep residual stacks in check.
   */
  batchNorm(scope: string, x: Value, channels: number, gammaScale = 1): Value {
    const scale = this.param(`${scope}.weight`, this.w.uniformTensor([channels], 0.8 * gammaScale, 1.2 * gammaScale));
    const bias = this.param(`${scope}.bias`, this.w.normal([channels], 0.05));
    const mean = this.param(`${scope}.running_mean`, this.w.normal([channels], 0.05));
    const variance = this.param(`${scope}.running_var`, this.w.uniformTensor([channels], 0.8, 1.2));
    return this.op(scope, 'BatchNormalization', [x, scale, bias, mean, variance], {
      epsilon: attr.float(1e-5),
      momentum: attr.float(0.9),
    });
  }

  relu(scope: string, x: Value): Value {
    return this.op(scope, 'Relu', [x]);
  }

  /** ReLU6 as torch exports it: Clip with min/max as Constant inputs. */
  relu6(scope: string, x: Value): Value {
    return this.op(scope, 'Clip', [x, this.scalar(scope, 0), this.scalar(scope, 6)]);
  }

  maxPool(scope: string, x: Value, kernel: number, stride: number, pad: number): Value {
    return this.op(scope, 'MaxPool', [x], {
      ceil_mode: 0,
      dilations: [1, 1],
      kernel_shape: [kernel, kernel],
      pads: [pad, pad, pad, pad],
      strides: [stride, stride],
    });
  }

  /** AdaptiveAvgPool2d(1) + flatten(1), as exported. */
  globalPoolFlatten(scope: string, x: Value): Value {
    return this.op(scope, 'Flatten', [this.op(scope, 'GlobalAveragePool', [x])], { axis: 1 });
  }

  // ---- linear layers -------------------------------------------------------------------------------

  /**
   * nn.Linear on a 2-D input: Gemm(transB=1), weight [out, in]. `std` defaults to torch's default init
   * scale (U(±1/√in) has std 1/√(3·in)); pass √(2/in) for a layer followed by ReLU.
   */
  gemm(scope: string, x: Value, inF: number, outF: number, std = 1 / Math.sqrt(3 * inF)): Value {
    const weight = this.param(`${scope}.weight`, this.w.normal([outF, inF], std));
    const bias = this.param(`${scope}.bias`, this.w.normal([outF], 0.01));
    return this.op(scope, 'Gemm', [x, weight, bias], { alpha: attr.float(1), beta: attr.float(1), transB: 1 });
  }

  /** nn.Linear on an N-D input: MatMul with the weight stored [in, out], then Add(bias, y). */
  linear(scope: string, x: Value, inF: number, outF: number, std: number): Value {
    const weight = this.param(`${scope}.weight`, this.w.normal([inF, outF], std));
    const bias = this.param(`${scope}.bias`, this.w.normal([outF], std));
    return this.op(scope, 'Add', [bias, this.op(scope, 'MatMul', [x, weight])]);
  }

  // ---- transformer pieces --------------------------------------------------------------------------

  /**
   * LayerNorm over the last axis. 'fused' is one LayerNormalization (opset 17); 'decomposed' is what
   * exporters before opset 17 emit: ReduceMean, Sub, Pow 2, ReduceMean, Add eps, Sqrt, Div, Mul γ, Add β.
   * γ ~ 1 + N(0, 0.05) and β ~ N(0, 0.02), so a fusion that drops or swaps them shows in the numbers.
   */
  layerNorm(scope: string, x: Value, d: number, form: LayerNormForm, eps = 1e-12): Value {
    const gamma = this.param(`${scope}.weight`, this.w.normal([d], 0.05, 1));
    const beta = this.param(`${scope}.bias`, this.w.normal([d], 0.02));
    if (form === 'fused') return this.op(scope, 'LayerNormalization', [x, gamma, beta], { axis: -1, epsilon: attr.float(eps) });
    const mean = this.op(scope, 'ReduceMean', [x], { axes: [-1], keepdims: 1 });
    const centered = this.op(scope, 'Sub', [x, mean]);
    const squared = this.op(scope, 'Pow', [centered, this.scalar(scope, 2)]);
    const variance = this.op(scope, 'ReduceMean', [squared], { axes: [-1], keepdims: 1 });
    const std = this.op(scope, 'Sqrt', [this.op(scope, 'Add', [variance, this.scalar(scope, eps)])]);
    const normed = this.op(scope, 'Div', [centered, std]);
    return this.op(scope, 'Add', [this.op(scope, 'Mul', [normed, gamma]), beta]);
  }

  /** Exact GELU as exported from torch: x · 0.5 · (1 + Erf(x / √2)) → Div, Erf, Add, Mul, Mul. */
  gelu(scope: string, x: Value): Value {
    const erf = this.op(scope, 'Erf', [this.op(scope, 'Div', [x, this.scalar(scope, Math.SQRT2)])]);
    const onePlus = this.op(scope, 'Add', [erf, this.scalar(scope, 1)]);
    return this.op(scope, 'Mul', [this.op(scope, 'Mul', [x, onePlus]), this.scalar(scope, 0.5)]);
  }

  /** `x.size(axis)` as the exporter writes it: Shape → Gather(scalar index) → a 0-d int64. */
  dimOf(scope: string, x: Value, axis: number): Value {
    return this.op(scope, 'Gather', [this.op(scope, 'Shape', [x]), this.intScalar(scope, axis)], { axis: 0 });
  }

  /** Unsqueeze with axes as an input (opset ≥ 13). */
  unsqueeze(scope: string, x: Value, axes: number[]): Value {
    return this.op(scope, 'Unsqueeze', [x, this.ints(scope, axes)]);
  }

  model(docString: string): ReturnType<GraphBuilder['model']> {
    const m = this.b.model({ opset: 17, irVersion: 8, producer: 'inferopt-zoo' });
    m.docString = docString;
    return m;
  }
}
