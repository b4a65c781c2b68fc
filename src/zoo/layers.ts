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
import { WeightRng, floatTensor } from './random.js';

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

export interface LayerOptions {
  seed: number;
  /** Zero-filled weights: the structure only (fast; outputs are degenerate). */
  zeroWeights?: boolean;
  /** Fold BatchNormalization into the preceding Conv (torch's default eval export) instead of keeping it. */
  foldBatchNorm?: boolean;
}

const BN_EPS = 1e-5;

/** A GraphBuilder plus a seeded weight source and exporter-style layer helpers. */
export class Layers {
  readonly b = new GraphBuilder();
  readonly w: WeightRng;
  readonly foldBatchNorm: boolean;

  constructor(opts: LayerOptions) {
    this.w = new WeightRng(opts.seed, opts.zeroWeights);
    this.foldBatchNorm = opts.foldBatchNorm ?? false;
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
    const inputs = [x, this.param(`${scope}.weight`, this.convWeight(s))];
    if (s.bias) inputs.push(this.param(`${scope}.bias`, this.w.normal([s.outC], 0.01)));
    return this.convNode(scope, inputs, s);
  }

  /**
   * BatchNormalization (eval). Statistics are random but close to identity: scale ~ gammaScale·U(0.8, 1.2),
   * bias ~ N(0, 0.05), mean ~ N(0, 0.05), var ~ U(0.8, 1.2). gammaScale < 1 on the last BN of a residual
   * branch keeps the variance growth of deep residual stacks in check.
   */
  batchNorm(scope: string, x: Value, channels: number, gammaScale = 1): Value {
    const st = this.bnStats(channels, gammaScale);
    const inputs = [x, ...(['weight', 'bias', 'running_mean', 'running_var'] as const).map((k) => this.param(`${scope}.${k}`, st[k]))];
    return this.op(scope, 'BatchNormalization', inputs, { epsilon: attr.float(BN_EPS), momentum: attr.float(0.9) });
  }

  /**
   * Conv (no bias) → BatchNormalization; with `foldBatchNorm`, one Conv with the BN folded into its weight
   * and bias, as torch.onnx.export emits eval models by default. Both draw the same random numbers, so the
   * two forms of one seed compute the same function.
   */
  convBn(convScope: string, bnScope: string, x: Value, s: ConvSpec, gammaScale = 1): Value {
    if (!this.foldBatchNorm) return this.batchNorm(bnScope, this.conv(convScope, x, s), s.outC, gammaScale);
    const weight = this.convWeight(s);
    const st = this.bnStats(s.outC, gammaScale);
    const w = weight.view() as Float32Array;
    const [gamma, beta, mean, variance] = [st.weight, st.bias, st.running_mean, st.running_var].map((t) => t.view() as Float32Array);
    const bias = new Float32Array(s.outC);
    const perChannel = w.length / s.outC;
    for (let c = 0; c < s.outC; c++) {
      const k = gamma![c]! / Math.sqrt(variance![c]! + BN_EPS);
      for (let i = c * perChannel; i < (c + 1) * perChannel; i++) w[i]! *= k;
      bias[c] = beta![c]! - mean![c]! * k;
    }
    const inputs = [x, this.param(`${convScope}.weight`, weight), this.param(`${convScope}.bias`, floatTensor([s.outC], bias))];
    return this.convNode(convScope, inputs, s);
  }

  private convWeight(s: ConvSpec): Tensor {
    const k = s.kernel;
    const group = s.group ?? 1;
    return this.w.normal([s.outC, s.inC / group, k, k], Math.sqrt(2 / ((s.inC / group) * k * k)));
  }

  private convNode(scope: string, inputs: Value[], s: ConvSpec): Value {
    const pad = s.pad ?? 0;
    const stride = s.stride ?? 1;
    return this.op(scope, 'Conv', inputs, {
      dilations: [1, 1],
      group: s.group ?? 1,
      kernel_shape: [s.kernel, s.kernel],
      pads: [pad, pad, pad, pad],
      strides: [stride, stride],
    });
  }

  private bnStats(channels: number, gammaScale: number): Record<'weight' | 'bias' | 'running_mean' | 'running_var', Tensor> {
    return {
      weight: this.w.uniformTensor([channels], 0.8 * gammaScale, 1.2 * gammaScale),
      bias: this.w.normal([channels], 0.05),
      running_mean: this.w.normal([channels], 0.05),
      running_var: this.w.uniformTensor([channels], 0.8, 1.2),
    };
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
