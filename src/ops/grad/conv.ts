import type { Value } from '../../ir/graph.js';
import type { GradContext, GradRule } from '../grad-rule.js';
import { defineGrad } from '../registry.js';

/**
 * Conv and ConvTranspose gradients, as ops ONNX Runtime runs natively:
 * - Conv's input gradient is a ConvTranspose of dy with the same weight (the adjoint);
 * - a weight gradient is patches of x (strided slices) contracted with dy by a batched MatMul.
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
 * Patches of x at every output position, [N, C, K, P] for K kernel offsets and P output positions: one
 * strided Slice of the padded input per kernel offset, concatenated — pure data movement.
 */
function patchesOf(c: GradContext, x: Value, xs: number[], ys: number[], geo: ConvGeometry): Value {
  const nd = geo.kernel.length;
  const spatialAxes = range(2, 2 + nd);
  const positions = ys.slice(2).reduce((a, b) => a * b, 1);
  const padded = geo.pads.some((p) => p !== 0) ? c.op('Pad', [x, c.ints([0, 0, ...geo.pads.slice(0, nd), 0, 0, ...geo.pads.slice(nd)])]) : x;
  const offsets: number[][] = [[]];
  for (const k of geo.kernel) offsets.splice(0, offsets.length, ...offsets.flatMap((o) => range(0, k).map((i) => [...o, i])));
  const parts = offsets.map((o) => {
    const starts = o.map((i, a) => i * geo.dilations[a]!);
    const ends = starts.map((st, a) => st + (ys[a + 2]! - 1) * geo.strides[a]! + 1);
    const slice = c.op('Slice', [padded, c.ints(starts), c.ints(ends), c.ints(spatialAxes), c.ints(geo.strides)]);
    return c.op('Reshape', [slice, c.ints([xs[0]!, xs[1]!, 1, positions])]);
  });
  return parts.length === 1 ? parts[0]! : c.op('Concat', parts, { axis: 2 });
}

/**
 * dW of a Conv with input `x` [N, C, *S] and output gradient `dy` [N, Co, *So] → [Co, C/g, *K]: patches of x
 * (strided slices) contracted with dy over the output positions by one batched MatMul per group, then
 * summed over the batch. Measured here ~1.5–4× faster than a Conv over batch/channel-swapped tensors.
 */
export function convWeightGrad(c: GradContext, x: Value, xs: number[], dy: Value, ys: number[], geo: ConvGeometry): Value {
  const [n, ch] = [xs[0]!, xs[1]!];
  const g = geo.group;
  const k = geo.kernel.reduce((a, b) => a * b, 1);
  const positions = ys.slice(2).reduce((a, b) => a * b, 1);
  const co = ys[1]!;
  const p = c.op('Reshape', [patchesOf(c, x, xs, ys, geo), c.ints([n, g, (ch / g) * k, positions])]);
  const dyT = c.op('Transpose', [c.op('Reshape', [dy, c.ints([n, g, co / g, positions])])], { perm: [0, 1, 3, 2] });
  const summed = c.op('ReduceSum', [c.op('MatMul', [p, dyT]), c.ints([0])], { keepdims: 0 });
  const perGroup = c.op('Transpose', [summed], { perm: [0, 2, 1] });
  return c.op('Reshape', [perGroup, c.ints([co, ch / g, ...geo.kernel])]);
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
