import type { Value } from '../../ir/graph.js';
import type { GradContext, GradRule } from '../grad-rule.js';
import { defineGrad } from '../registry.js';

/** Gradients of data-movement ops: they route the gradient back, never compute with it. */

/** Reshape-like ops (Reshape, Flatten, Squeeze, Unsqueeze): the gradient takes the input's shape back. */
const reshapeBack: GradRule = {
  grads: (c) => [() => c.op('Reshape', [c.dy()!, c.ints(c.shape(c.x(0)))]), null],
};

const transpose: GradRule = {
  grads: (c) => [
    () => {
      const rank = c.shape(c.x(0)).length;
      const perm = c.node.attrInts('perm') ?? [...Array(rank).keys()].reverse();
      const inverse = perm.map((_, i) => perm.indexOf(i));
      return c.op('Transpose', [c.dy()!], { perm: inverse });
    },
  ],
};

function axisOf(c: GradContext, rank: number): number {
  const a = c.node.attrInt('axis', 0);
  return a < 0 ? a + rank : a;
}

/** Concat: one Split of the gradient, built once, shared by the inputs' builders. */
const concat: GradRule = {
  grads: (c) => {
    let parts: Value[] | undefined;
    const split = () => {
      if (parts) return parts;
      const axis = axisOf(c, c.shape(c.y(0)).length);
      const sizes = c.node.inputs.map((v) => c.shape(v!)[axis]!);
      parts = c.opN('Split', [c.dy()!, c.ints(sizes)], { axis }, sizes.length);
      return parts;
    };
    return c.node.inputs.map((_, i) => () => split()[i]!);
  },
};

/** Split: the outputs' gradients concatenated (zeros for outputs nothing used). */
const split: GradRule = {
  grads: (c) => [
    () => {
      const axis = axisOf(c, c.shape(c.x(0)).length);
      const pieces = c.node.outputs.map((o, i) => {
        const g = c.dy(i);
        if (g) return g;
        const s = c.shape(o);
        return c.op('Expand', [c.scalar(0, c.x(0)), c.ints(s)]);
      });
      return pieces.length === 1 ? pieces[0]! : c.op('Concat', pieces, { axis });
    },
    null,
  ],
};

/** Slice: the gradient lands where the slice was read; zeros elsewhere (Pad for unit steps, ScatterND otherwise). */
const slice: GradRule = {
  grads: (c) => [
    () => {
      const xs = c.shape(c.x(0));
      const sel = sliceSelection(c, xs);
      const dy = c.dy()!;
      if (sel.every((s) => s.step === 1)) {
        const pads = [...sel.map((s) => s.start), ...sel.map((s, i) => xs[i]! - s.start - s.count)];
        return c.op('Pad', [dy, c.ints(pads), c.scalar(0, dy)]);
      }
      const ys = sel.map((s) => s.count);
      const total = ys.reduce((a, b) => a * b, 1);
      const idx = new Array<number>(total * xs.length);
      for (let flat = 0; flat < total; flat++) {
        let r = flat;
        for (let d = xs.length - 1; d >= 0; d--) {
          const k = r % ys[d]!;
          r = Math.floor(r / ys[d]!);
          idx[flat * xs.length + d] = sel[d]!.start + k * sel[d]!.step;
        }
      }
      const indices = c.op('Reshape', [c.constant([total * xs.length], idx, c.ints([0])), c.ints([...ys, xs.length])]);
      return c.op('ScatterND', [c.op('Expand', [c.scalar(0, dy), c.ints(xs)]), indices, dy]);
    },
    null,
    null,
    null,
    null,
  ],
};

/** Per axis: first index, count and step of a constant Slice. */
function sliceSelection(c: GradContext, xs: number[]): { start: number; count: number; step: number }[] {
  const constant = (i: number) => {
    if (!c.has(i)) return undefined;
    const t = c.x(i).constTensor();
    if (!t) throw new Error(`Slice '${c.node.name}': starts/ends/axes/steps must be constant to train through it`);
    return t.toNumbers();
  };
  const starts = constant(1)!;
  const ends = constant(2)!;
  const axes = constant(3) ?? starts.map((_, i) => i);
  const steps = constant(4) ?? starts.map(() => 1);
  const sel = xs.map((d) => ({ start: 0, count: d, step: 1 }));
  axes.forEach((a0, k) => {
    const a = a0 < 0 ? a0 + xs.length : a0;
    const d = xs[a]!;
    const step = steps[k]!;
    const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v < 0 ? v + d : v, lo), hi);
    const start = step > 0 ? clamp(starts[k]!, 0, d) : clamp(starts[k]!, -1, d - 1);
    const end = step > 0 ? clamp(ends[k]!, 0, d) : clamp(ends[k]!, -1, d - 1);
    const count = Math.max(0, Math.ceil((end - start) / step));
    sel[a] = { start, count, step };
  });
  return sel;
}

/**
 * Gather (embeddings): ScatterND with reduction 'add' into zeros — repeated indices accumulate. Other axes
 * are moved to the front first, and the result moved back.
 */
const gather: GradRule = {
  grads: (c) => [
    () => {
      const xs = c.shape(c.x(0));
      const rank = xs.length;
      const axis = axisOf(c, rank);
      const q = c.shape(c.x(1)).length;
      let dy = c.dy()!;
      const front = [axis, ...[...Array(rank).keys()].filter((i) => i !== axis)];
      if (axis !== 0) {
        const ys = c.shape(c.y(0));
        const perm = [...Array(q).keys()].map((i) => axis + i);
        for (let i = 0; i < ys.length; i++) if (i < axis || i >= axis + q) perm.push(i);
        dy = c.op('Transpose', [dy], { perm });
      }
      const table = front.map((i) => xs[i]!);
      const indices = c.op('Unsqueeze', [c.op('Cast', [c.x(1)], { to: 7 }), c.ints([-1])]);
      const zeros = c.op('Expand', [c.scalar(0, c.x(0)), c.ints(table)]);
      const g = c.op('ScatterND', [zeros, indices, dy], { reduction: 'add' });
      return axis === 0 ? g : c.op('Transpose', [g], { perm: front.map((_, i) => front.indexOf(i)) });
    },
    null,
  ],
};

/** Pad (constant mode, non-negative pads): the gradient is the un-padded window. */
const pad: GradRule = {
  grads: (c) => [
    () => {
      const xs = c.shape(c.x(0));
      const pads = c.has(1) ? c.x(1).constTensor()?.toNumbers() : c.node.attrInts('pads');
      if (!pads || pads.some((p) => p < 0) || c.node.attrString('mode', 'constant') !== 'constant' || c.has(3)) {
        throw new Error(`Pad '${c.node.name}': gradient needs constant non-negative pads, constant mode, all axes`);
      }
      const starts = xs.map((_, i) => pads[i]!);
      return c.op('Slice', [c.dy()!, c.ints(starts), c.ints(starts.map((s, i) => s + xs[i]!))]);
    },
    null,
    null,
    null,
  ],
};

const expand: GradRule = { grads: (c) => [() => c.reduceTo(c.dy()!, 0), null] };

for (const op of ['Reshape', 'Flatten', 'Squeeze', 'Unsqueeze']) defineGrad('', op, reshapeBack);
defineGrad('', 'Transpose', transpose);
defineGrad('', 'Concat', concat);
defineGrad('', 'Split', split);
defineGrad('', 'Slice', slice);
defineGrad('', 'Gather', gather);
defineGrad('', 'Pad', pad);
defineGrad('', 'Expand', expand);
