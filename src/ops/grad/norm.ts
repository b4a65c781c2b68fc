import { InputError } from '../../errors.js';
import type { Node, Value } from '../../ir/graph.js';
import type { GradContext, GradRule } from '../grad-rule.js';

type Ctx = Omit<GradContext, 'dy' | 'reduceTo'>;
import { defineGrad } from '../registry.js';

/**
 * Normalisation and Dropout. Their training forms differ from inference: BatchNormalization normalises with
 * the batch's statistics (computed in-graph and fed to the inference kernel, running averages written back),
 * LayerNormalization also returns Mean and InvStdDev for the backward pass, Dropout drops.
 */

const range = (a: number, b: number) => Array.from({ length: b - a }, (_, i) => a + i);

/** Shape [1, C, 1, …] for per-channel vectors of an NC… tensor. */
const channelShape = (xs: number[]) => xs.map((d, i) => (i === 1 ? d : 1));

/** BatchNormalization nodes made by the training form: their mean and var are the batch statistics of x. */
const batchStatNodes = new WeakSet<Node>();

/** Per-channel vector → [1, C, 1, …] for broadcasting against x. */
const perChannel = (c: Ctx, v: Value, xs: number[]) => c.op('Reshape', [v, c.ints(channelShape(xs))]);

// y = (x − mean)·scale/√(var + ε) + B, per channel; mean and var are inputs 3 and 4
const batchNorm: GradRule = {
  saves: { inputs: [0, 1, 3, 4] },
  trainingForm: (c) => {
    const x = c.x(0);
    const xs = c.shape(x);
    const axes = c.ints([0, ...range(2, xs.length)]);
    const count = xs.reduce((a, b) => a * b, 1) / xs[1]!;
    const inv = c.scalar(1 / count, x);
    // two reductions over x: Σx and Σx² (var = E[x²] − mean²)
    const mean = c.op('Mul', [c.op('ReduceSum', [x, axes], { keepdims: 0 }), inv]);
    const meanSq = c.op('Mul', [c.op('ReduceSum', [c.op('Mul', [x, x]), axes], { keepdims: 0 }), inv]);
    const variance = c.op('Relu', [c.op('Sub', [meanSq, c.op('Mul', [mean, mean])])]);
    for (const v of [mean, variance]) c.setShape(v, [xs[1]!], x);
    const y = c.op('BatchNormalization', [x, c.x(1), c.x(2), mean, variance], { epsilon: { type: 'float', value: c.node.attrFloat('epsilon', 1e-5) } });
    batchStatNodes.add(y.producer!);
    c.setShape(y, xs, x);
    // running averages as PyTorch keeps them: momentum m weights the old value, the variance is unbiased
    const m = c.node.attrFloat('momentum', 0.9);
    const blend = (old: Value, batch: Value) => c.op('Add', [c.op('Mul', [old, c.scalar(m, x)]), c.op('Mul', [batch, c.scalar(1 - m, x)])]);
    const unbiased = c.op('Mul', [variance, c.scalar(count / Math.max(1, count - 1), x)]);
    return {
      outputs: [y],
      stateUpdates: [
        { state: c.x(3), next: blend(c.x(3), mean) },
        { state: c.x(4), next: blend(c.x(4), unbiased) },
      ],
    };
  },
  grads: (c) => {
    const x = c.x(0);
    const xs = c.shape(x);
    const axes = c.ints([0, ...range(2, xs.length)]);
    const once = <T>(f: () => T) => {
      let v: T | undefined;
      return () => (v ??= f());
    };
    const dy = () => c.dy()!;
    const mul = (a: Value, b: Value) => c.op('Mul', [a, b]);
    const invstd = once(() => c.op('Reciprocal', [c.op('Sqrt', [c.op('Add', [c.x(4), c.scalar(c.node.attrFloat('epsilon', 1e-5), x)])])]));
    const sumDy = once(() => c.op('ReduceSum', [dy(), axes], { keepdims: 0 }));
    // Σ dy·(x − mean) = Σ dy·x − mean·Σ dy, per channel
    const sumDyXc = once(() => c.op('Sub', [c.op('ReduceSum', [mul(dy(), x), axes], { keepdims: 0 }), mul(c.x(3), sumDy())]));
    const scaleInv = once(() => mul(c.x(1), invstd()));
    const dScale = () => mul(sumDyXc(), invstd());
    if (batchStatNodes.has(c.node)) {
      // mean and var are functions of x: the closed form dx = k·(dy − mean(dy) − x̂·mean(dy·x̂)), k = scale·invstd,
      // written as dy·A + x·B + C with per-channel A, B, C; x·B + C is one BatchNormalization pass
      const n = xs.reduce((a, b) => a * b, 1) / xs[1]!;
      const dx = () => {
        const meanDy = mul(sumDy(), c.scalar(1 / n, x));
        const meanDyXhat = mul(dScale(), c.scalar(1 / n, x));
        const slope = c.op('Neg', [mul(scaleInv(), mul(invstd(), meanDyXhat))]);
        const offset = mul(scaleInv(), c.op('Sub', [mul(mul(invstd(), meanDyXhat), c.x(3)), meanDy]));
        const zeros = c.constant([xs[1]!], new Array<number>(xs[1]!).fill(0), x);
        const unit = c.constant([xs[1]!], new Array<number>(xs[1]!).fill(1 - c.node.attrFloat('epsilon', 1e-5)), x);
        const xPart = c.op('BatchNormalization', [x, slope, offset, zeros, unit], { epsilon: { type: 'float', value: c.node.attrFloat('epsilon', 1e-5) } });
        return c.op('Add', [mul(dy(), perChannel(c, scaleInv(), xs)), xPart]);
      };
      return [dx, dScale, sumDy, null, null];
    }
    return [
      () => mul(dy(), perChannel(c, scaleInv(), xs)),
      dScale,
      sumDy,
      () => c.op('Neg', [mul(sumDy(), scaleInv())]),
      () => {
        const cube = mul(invstd(), mul(invstd(), invstd()));
        return mul(mul(sumDyXc(), mul(c.x(1), cube)), c.scalar(-0.5, x));
      },
    ];
  },
};

// Y = x̂·scale + B over the trailing axes from `axis`; dx = invstd·(dx̂ − mean(dx̂) − x̂·mean(dx̂·x̂))
const layerNorm: GradRule = {
  saves: { inputs: [0, 1], outputs: [1, 2] },
  trainingForm: (c) => {
    if (c.node.outputs.length >= 3) return { outputs: [...c.node.outputs] };
    const attrs = Object.fromEntries([...c.node.attrs.values()].map((a) => [a.name, a.value]));
    const [y] = c.opN('LayerNormalization', c.node.inputs, attrs, 3);
    c.setShape(y!, c.shape(c.y(0)), c.x(0));
    return { outputs: [y!] };
  },
  grads: (c) => {
    if (c.node.outputs.length < 3) throw new Error(`LayerNormalization '${c.node.name}': its gradient needs the Mean and InvStdDev outputs`);
    // the rule differentiates Y only: a loss that reads Mean or InvStdDev would get a silently wrong gradient
    if (c.dy(1) || c.dy(2)) throw new InputError(`LayerNormalization '${c.node.name}': no gradient through its Mean/InvStdDev outputs (only Y is differentiated), and the loss depends on them`);
    const x = c.x(0);
    const xs = c.shape(x);
    const a0 = c.node.attrInt('axis', -1);
    const axis = a0 < 0 ? a0 + xs.length : a0;
    const normAxes = c.ints(range(axis, xs.length));
    const lead = c.ints(range(0, axis));
    const invD = c.scalar(1 / xs.slice(axis).reduce((a, b) => a * b, 1), x);
    let xhatV: Value | undefined;
    const xhat = () => (xhatV ??= c.op('Mul', [c.op('Sub', [x, c.y(1)]), c.y(2)]));
    const meanOver = (v: Value) => c.op('Mul', [c.op('ReduceSum', [v, normAxes], { keepdims: 1 }), invD]);
    const dy = () => c.dy()!;
    const dx = () => {
      const dxhat = c.op('Mul', [dy(), c.x(1)]);
      const inner = c.op('Sub', [c.op('Sub', [dxhat, meanOver(dxhat)]), c.op('Mul', [xhat(), meanOver(c.op('Mul', [dxhat, xhat()]))])]);
      return c.op('Mul', [c.y(2), inner]);
    };
    const sumLead = (v: Value, i: number) => (axis === 0 ? v : c.reduceTo(c.op('ReduceSum', [v, lead], { keepdims: 0 }), i, xs.slice(axis)));
    return [dx, () => sumLead(c.op('Mul', [dy(), xhat()]), 1), () => sumLead(dy(), 2)];
  },
};

/** A deterministic seed per node, so that a seeded run drops the same units every time. */
function nodeSeed(name: string): number {
  let h = 2166136261;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 16777619);
  return (h >>> 0) % 1000003;
}

function dropoutRatio(c: Omit<GradContext, 'dy' | 'reduceTo'>): number {
  const t = c.has(1) ? c.x(1).constTensor() : undefined;
  if (c.has(1) && !t) throw new Error(`Dropout '${c.node.name}': the ratio must be constant to train`);
  return t ? t.toNumbers()[0]! : c.node.attrFloat('ratio', 0.5);
}

const dropout: GradRule = {
  saves: { outputs: [1] },
  trainingForm: (c) => {
    const ratio = dropoutRatio(c);
    const seed = c.node.attrInt('seed') ?? nodeSeed(c.node.name);
    const on = c.constant([], [1], c.ints([0]));
    const boolOn = c.op('Cast', [on], { to: 9 });
    const [y] = c.opN('Dropout', [c.x(0), c.scalar(ratio, c.x(0)), boolOn], { seed }, 2);
    c.setShape(y!, c.shape(c.x(0)), c.x(0));
    return { outputs: [y!] };
  },
  grads: (c) => [
    () => {
      const ratio = dropoutRatio(c);
      const mask = c.node.outputs[1];
      if (!mask || ratio === 0) return c.dy()!;
      const kept = c.op('Cast', [mask], { to: c.dtype(c.x(0)) });
      return c.op('Mul', [c.dy()!, c.op('Mul', [kept, c.scalar(1 / (1 - ratio), c.x(0))])]);
    },
    null,
    null,
  ],
};

defineGrad('', 'BatchNormalization', batchNorm);
defineGrad('', 'LayerNormalization', layerNorm);
defineGrad('', 'Dropout', dropout);
