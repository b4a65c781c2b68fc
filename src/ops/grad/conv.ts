import type { Value } from '../../ir/graph.js';
import type { GradContext, GradRule } from '../grad-rule.js';
import { defineGrad } from '../registry.js';

/**
 * Conv and ConvTranspose gradients, as ops ONNX Runtime runs natively:
 * - Conv's input gradient is a ConvTranspose of dy with the same weight (the adjoint);
 * - a weight gradient is itself a Conv: batch and channel axes of x swapped, dy (channels first) as the
 *   kernel, stride and dilation exchanged, grouped convs through a [Cin/g, g·N, …] layout.
 */

export interface ConvGeometry {
  strides: number[];
  dilations: number[];
  /** Explicit pads [begin…, end…] (auto_pad resolved). */
  pads: number[];
  group: number;
  kernel: number[];
}

/** Resolves a Conv-like node's attributes to explicit numbers for input spatial dims `spatial`. */
export function convGeometry(c: GradContext, spatial: number[], kernel: number[]): ConvGeometry {
  const n = spatial.length;
  const strides = c.node.attrInts('strides') ?? new Array<number>(n).fill(1);
  const dilations = c.node.attrInts('dilations') ?? new Array<number>(n).fill(1);
  const autoPad = c.node.attrString('auto_pad', 'NOTSET');
  let pads = c.node.attrInts('pads') ?? new Array<number>(2 * n).fill(0);
  if (autoPad === 'VALID') pads = new Array<number>(2 * n).fill(0);
  else if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
    pads = new Array<number>(2 * n).fill(0);
    for (let i = 0; i < n; i++) {
      const out = Math.ceil(spatial[i]! / strides[i]!);
      const total = Math.max(0, (out - 1) * strides[i]! + (kernel[i]! - 1) * dilations[i]! + 1 - spatial[i]!);
      const small = Math.floor(total / 2);
      pads[i] = autoPad === 'SAME_UPPER' ? small : total - small;
      pads[i + n] = total - pads[i]!;
    }
  }
  return { strides, dilations, pads, group: c.node.attrInt('group', 1), kernel };
}

const range = (a: number, b: number) => Array.from({ length: b - a }, (_, i) => a + i);

/**
 * dW of a Conv with input `x` [N, C, *S] and output gradient `dy` [N, Co, *So] → [Co, C/g, *K].
 */
export function convWeightGrad(c: GradContext, x: Value, xs: number[], dy: Value, ys: number[], geo: ConvGeometry): Value {
  const [n, ch] = [xs[0]!, xs[1]!];
  const g = geo.group;
  const spatial = range(2, xs.length);
  let xt: Value;
  if (g === 1) xt = c.op('Transpose', [x], { perm: [1, 0, ...spatial] });
  else {
    const grouped = c.op('Reshape', [x, c.ints([n, g, ch / g, ...xs.slice(2)])]);
    const moved = c.op('Transpose', [grouped], { perm: [2, 1, 0, ...spatial.map((d) => d + 1)] });
    xt = c.op('Reshape', [moved, c.ints([ch / g, g * n, ...xs.slice(2)])]);
  }
  const kernel = c.op('Transpose', [dy], { perm: [1, 0, ...spatial] });
  const w = c.op('Conv', [xt, kernel], { strides: geo.dilations, dilations: geo.strides, pads: geo.pads, group: g });
  const full = c.op('Transpose', [w], { perm: [1, 0, ...spatial] });
  // the result can be larger than the kernel when the padded input has rows no output read: drop them
  const got = spatial.map((d) => Math.floor((xs[d]! + geo.pads[d - 2]! + geo.pads[d - 2 + spatial.length]! - ((ys[d]! - 1) * geo.strides[d - 2]! + 1)) / geo.dilations[d - 2]!) + 1);
  if (got.every((k, i) => k === geo.kernel[i])) return full;
  const zeros = spatial.map(() => 0);
  return c.op('Slice', [full, c.ints(zeros), c.ints(geo.kernel), c.ints(spatial)]);
}

/** Bias gradient: dy summed over batch and spatial axes. */
function biasGrad(c: GradContext, dy: Value, rank: number): Value {
  return c.op('ReduceSum', [dy, c.ints([0, ...range(2, rank)])], { keepdims: 0 });
}

const conv: GradRule = {
  saves: { inputs: [0, 1] },
  grads: (c) => {
    const xs = c.shape(c.x(0));
    const ws = c.shape(c.x(1));
    const ys = c.shape(c.y(0));
    const geo = convGeometry(c, xs.slice(2), ws.slice(2));
    const dy = () => c.dy()!;
    const dx = () => {
      const natural = ys.slice(2).map((o, i) => (o - 1) * geo.strides[i]! + (geo.kernel[i]! - 1) * geo.dilations[i]! + 1 - geo.pads[i]! - geo.pads[i + ys.length - 2]!);
      const outputPadding = natural.map((v, i) => xs[i + 2]! - v);
      return c.op('ConvTranspose', [dy(), c.x(1)], {
        strides: geo.strides,
        dilations: geo.dilations,
        pads: geo.pads,
        group: geo.group,
        output_padding: outputPadding.some((p) => p !== 0) ? outputPadding : undefined,
      });
    };
    return [dx, () => convWeightGrad(c, c.x(0), xs, dy(), ys, geo), () => biasGrad(c, dy(), ys.length)];
  },
};

// ConvTranspose is the adjoint of Conv: dx = Conv(dy, W); dW is Conv's weight gradient with x and dy exchanged
const convTranspose: GradRule = {
  saves: { inputs: [0, 1] },
  grads: (c) => {
    if (c.node.attrString('auto_pad', 'NOTSET') !== 'NOTSET' || c.node.attr('output_shape')) {
      throw new Error(`ConvTranspose '${c.node.name}': gradient needs explicit pads (no auto_pad/output_shape)`);
    }
    const xs = c.shape(c.x(0));
    const ws = c.shape(c.x(1));
    const ys = c.shape(c.y(0));
    const geo = convGeometry(c, ys.slice(2), ws.slice(2));
    const dy = () => c.dy()!;
    const dx = () => c.op('Conv', [dy(), c.x(1)], { strides: geo.strides, dilations: geo.dilations, pads: geo.pads, group: geo.group });
    return [dx, () => convWeightGrad(c, dy(), ys, c.x(0), xs, geo), () => biasGrad(c, dy(), ys.length)];
  },
};

defineGrad('', 'Conv', conv);
defineGrad('', 'ConvTranspose', convTranspose);
