import type { Value } from '../../ir/graph.js';
import type { GradContext, GradRule } from '../grad-rule.js';
import { defineGrad } from '../registry.js';

/** Gradients of reductions and of the normalising activations (Softmax, LogSoftmax). Training needs opset ≥ 13. */

/** Normalised axes of a reduction: from the `axes` input (opset 13/18+) or attribute; empty = all. */
export function reduceAxes(c: GradContext, rank: number): number[] {
  const fromInput = c.has(1) ? c.x(1).constTensor()?.toNumbers() : undefined;
  if (c.has(1) && !fromInput) throw new Error(`${c.node.opType} '${c.node.name}': axes must be constant to train through it`);
  const axes = fromInput ?? c.node.attrInts('axes') ?? [];
  if (axes.length === 0) return c.node.attrInt('noop_with_empty_axes', 0) ? [] : [...Array(rank).keys()];
  return axes.map((a) => (a < 0 ? a + rank : a)).sort((a, b) => a - b);
}

/** Broadcasts a reduced gradient back over the reduced axes. */
function expandBack(c: GradContext, dy: Value, axes: number[], scale: number): Value {
  const xs = c.shape(c.x(0));
  const kept = xs.map((d, i) => (axes.includes(i) ? 1 : d));
  let g = c.node.attrInt('keepdims', 1) ? dy : c.op('Reshape', [dy, c.ints(kept)]);
  if (scale !== 1) g = c.op('Mul', [g, c.scalar(scale, dy)]);
  return c.op('Expand', [g, c.ints(xs)]);
}

function reduceRule(mean: boolean): GradRule {
  return {
    grads: (c) => [
      () => {
        const xs = c.shape(c.x(0));
        const axes = reduceAxes(c, xs.length);
        const count = axes.reduce((n, a) => n * xs[a]!, 1);
        return expandBack(c, c.dy()!, axes, mean ? 1 / count : 1);
      },
      null,
    ],
  };
}

const globalAveragePool: GradRule = {
  grads: (c) => [
    () => {
      const xs = c.shape(c.x(0));
      const spatial = xs.slice(2).reduce((a, b) => a * b, 1);
      return c.op('Expand', [c.op('Mul', [c.dy()!, c.scalar(1 / spatial, c.x(0))]), c.ints(xs)]);
    },
  ],
};

function softmaxAxis(c: GradContext): number {
  const rank = c.shape(c.x(0)).length;
  const a = c.node.attrInt('axis', -1);
  return a < 0 ? a + rank : a;
}

// y = softmax(x): dx = y·(dy − Σ dy·y)
const softmax: GradRule = {
  saves: { outputs: [0] },
  grads: (c) => [
    () => {
      const dy = c.dy()!;
      const y = c.y(0);
      const s = c.op('ReduceSum', [c.op('Mul', [dy, y]), c.ints([softmaxAxis(c)])], { keepdims: 1 });
      return c.op('Mul', [y, c.op('Sub', [dy, s])]);
    },
  ],
};

// y = log softmax(x): dx = dy − exp(y)·Σ dy
const logSoftmax: GradRule = {
  saves: { outputs: [0] },
  grads: (c) => [
    () => {
      const dy = c.dy()!;
      const s = c.op('ReduceSum', [dy, c.ints([softmaxAxis(c)])], { keepdims: 1 });
      return c.op('Sub', [dy, c.op('Mul', [c.op('Exp', [c.y(0)]), s])]);
    },
  ],
};

defineGrad('', 'ReduceSum', reduceRule(false));
defineGrad('', 'ReduceMean', reduceRule(true));
defineGrad('', 'GlobalAveragePool', globalAveragePool);
defineGrad('', 'Softmax', softmax);
defineGrad('', 'LogSoftmax', logSoftmax);
