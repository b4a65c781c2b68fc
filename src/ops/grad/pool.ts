import type { GradRule } from '../grad-rule.js';
import { defineGrad } from '../registry.js';
import { convGeometry } from './conv.js';

/**
 * Pooling gradients. MaxPool routes dy to the argmax through its Indices output (the training form asks
 * for it); AveragePool spreads dy/count over each window with a ConvTranspose of ones.
 */

const maxPool: GradRule = {
  saves: { outputs: [1] },
  trainingForm: (c) => {
    if (c.node.outputs.length > 1) return { outputs: [...c.node.outputs] };
    const attrs = Object.fromEntries([...c.node.attrs.values()].map((a) => [a.name, a.value]));
    const [y, indices] = c.opN('MaxPool', [c.x(0)], attrs, 2);
    c.setShape(y!, c.shape(c.y(0)), c.x(0));
    void indices; // read by the gradient rule through the new node's second output
    return { outputs: [y!] };
  },
  grads: (c) => [
    () => {
      if (c.node.outputs.length < 2) throw new Error(`MaxPool '${c.node.name}': its gradient needs the Indices output (training form)`);
      const xs = c.shape(c.x(0));
      const numel = xs.reduce((a, b) => a * b, 1);
      const zeros = c.op('Expand', [c.scalar(0, c.x(0)), c.ints([numel])]);
      const flatIdx = c.op('Reshape', [c.y(1), c.ints([-1])]);
      const flatDy = c.op('Reshape', [c.dy()!, c.ints([-1])]);
      const g = c.op('ScatterElements', [zeros, flatIdx, flatDy], { axis: 0, reduction: 'add' });
      return c.op('Reshape', [g, c.ints(xs)]);
    },
  ],
};

/** How many input elements each output window averages over, along one axis. */
function windowCounts(out: number, size: number, k: number, s: number, padBegin: number, padEnd: number, includePad: boolean): number[] {
  return Array.from({ length: out }, (_, o) => {
    const start = o * s - padBegin;
    const end = start + k;
    const lo = includePad ? -padBegin : 0;
    const hi = includePad ? size + padEnd : size;
    return Math.min(end, hi) - Math.max(start, lo);
  });
}

const averagePool: GradRule = {
  grads: (c) => [
    () => {
      const xs = c.shape(c.x(0));
      const ys = c.shape(c.y(0));
      const kernel = c.node.attrInts('kernel_shape')!;
      const geo = convGeometry(c, xs.slice(2), kernel);
      if (geo.dilations.some((d) => d !== 1)) throw new Error(`AveragePool '${c.node.name}': no gradient for dilations`);
      const nd = kernel.length;
      const includePad = c.node.attrInt('count_include_pad', 0) === 1;
      const counts = kernel.map((k, i) => windowCounts(ys[i + 2]!, xs[i + 2]!, k, geo.strides[i]!, geo.pads[i]!, geo.pads[i + nd]!, includePad));
      const divisor = outer(counts);
      const dy = c.op('Reshape', [c.dy()!, c.ints([xs[0]! * xs[1]!, 1, ...ys.slice(2)])]);
      const scaled = c.op('Div', [dy, c.constant([1, 1, ...ys.slice(2)], divisor, c.x(0))]);
      const ones = c.constant([1, 1, ...kernel], new Array<number>(kernel.reduce((a, b) => a * b, 1)).fill(1), c.x(0));
      const natural = ys.slice(2).map((o, i) => (o - 1) * geo.strides[i]! + kernel[i]! - geo.pads[i]! - geo.pads[i + nd]!);
      const outputPadding = natural.map((v, i) => Math.max(0, xs[i + 2]! - v));
      let g = c.op('ConvTranspose', [scaled, ones], {
        strides: geo.strides,
        pads: geo.pads,
        output_padding: outputPadding.some((p) => p > 0) ? outputPadding : undefined,
      });
      if (natural.some((v, i) => v > xs[i + 2]!)) {
        const axes = kernel.map((_, i) => i + 2);
        g = c.op('Slice', [g, c.ints(axes.map(() => 0)), c.ints(xs.slice(2)), c.ints(axes)]);
      }
      return c.op('Reshape', [g, c.ints(xs)]);
    },
  ],
};

/** Outer product of per-axis counts, flattened row-major. */
function outer(counts: number[][]): number[] {
  return counts.reduce<number[]>((acc, axis) => acc.flatMap((a) => axis.map((b) => a * b)), [1]);
}

defineGrad('', 'MaxPool', maxPool);
defineGrad('', 'AveragePool', averagePool);
