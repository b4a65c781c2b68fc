import { InputError } from '../errors.js';
import { DataType } from '../ir/dtype.js';
import { Node, type Graph, type Model, type Value } from '../ir/graph.js';
import { loadModel, modelToBytes } from '../ir/io.js';
import { Tensor } from '../ir/tensor.js';
import { roundHalfEven } from './qparams.js';
import { dropIfUnused } from './select.js';
import { opArithmetic, opTraits, outputRange } from '../ops/index.js';

/**
 * Quantization-aware training on top of static quantization. The trainable model is the PTQ model itself
 * with its quantized constants turned back into float weights:
 *
 *   PTQ:  DQ(W_int8, s, z) ─ Conv ─ …          QAT:  Q(W_float, s, z) ─ DQ ─ Conv ─ …
 *         DQ(b_int32, sx·sw, 0) ─┘                    b_float ───────────────┘
 *
 * so fake quantization sits exactly where the static planner put Q/DQ (activation pairs stay as they are),
 * with the ranges PTQ calibrated. The gradient rules of QuantizeLinear/DequantizeLinear (src/ops/grad/quantize.ts)
 * make the pairs straight-through estimators. `exportQat` rounds the trained weights with the (trained) scales
 * and writes the int32 biases back: the result is node for node the PTQ model's graph, with other numbers.
 * With `lsq`, scales train too (LSQ) as log-scales (s = exp(ℓ) stays positive under Adam's steps).
 */
export interface QatPlan {
  /** The trainable forward model (standard ONNX; runs in ONNX Runtime as is). */
  model: Model;
  weights: { float: string; quantized: string; quantizer: string; limit?: number }[];
  biases: { float: string; quantized: string; scale: string; zeroPoint: string; xScale: string; wScale: string; perChannel: boolean }[];
  /** LSQ: trainable log-scale initializer → the scale initializer name it becomes at export. */
  logScales: { log: string; scale: string; exp: string }[];
  /** Initializers that must stay fixed in training (scales without LSQ). */
  frozen: string[];
  /** Initializers that train although they are scalars (LSQ log-scales of activations). */
  extraParams: string[];
  /** BatchNorm kept frozen in training (running statistics fixed) and folded at export; see `freezeBatchNorm`. */
  batchNorm: FrozenBatchNorm[];
}

/** A BatchNormalization after a Conv, as it was before folding (the statistics QAT keeps frozen). */
export interface BatchNormParams {
  gamma: Float32Array;
  beta: Float32Array;
  mean: Float32Array;
  variance: Float32Array;
  epsilon: number;
}

/** The QAT-graph names of one frozen BatchNorm: trained γ, β, raw weight and bias; frozen 1/σ and μ. */
export interface FrozenBatchNorm {
  weight: string;
  bias: string;
  raw: string;
  rawBias: string;
  gamma: string;
  beta: string;
  invStd: string;
  mean: string;
  /** The nodes computing the folded weight and bias in training (gone at export). */
  foldedWeight: string;
  foldedBias: string;
}

const BASE = (name: string) => name.replace(/_quantized$/, '');

/** A per-axis parameter (or scalar) value for element i of a tensor of `dims` quantized along `axis`. */
export function paramAt(values: ArrayLike<number>, dims: readonly number[], axis: number | undefined, i: number): number {
  if (values.length === 1 || axis === undefined) return values[0]!;
  const inner = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  return values[Math.floor(i / inner) % dims[axis]!]!;
}

export function axisOf(n: Node, rank: number): number | undefined {
  const scale = n.input(1)!;
  const st = scale.initializer ?? scale.constTensor();
  if (st && st.size <= 1) return undefined;
  return (n.attrInt('axis', 1)! + rank) % rank;
}

/**
 * `weightBits` < 8 (a narrower grid stored in int8, as `static --weight-bits` writes it): the float weights that
 * would round beyond ±(2^(bits−1) − 1) are set to that limit before QuantizeLinear (Where nodes, so the
 * gradient is masked there too; see `clampToGrid`).
 */
export interface PrepareQatOptions {
  lsq?: boolean;
  weightBits?: number;
  /**
   * Initial weight scales: 'ptq' keeps the calibrated (min-max) ones; 'mse' picks, per channel, the clipping
   * range with the least squared rounding error (symmetric int8-stored weights only; LSQ then starts there).
   */
  weightScales?: 'ptq' | 'mse';
}

export function prepareQat(ptq: Model, opts: PrepareQatOptions = {}): QatPlan {
  const model = loadModel(modelToBytes(ptq));
  const g = model.graph;
  const plan: QatPlan = { model, weights: [], biases: [], logScales: [], frozen: [], extraParams: [], batchNorm: [] };
  const dqs = g.nodes.filter((n) => n.opType === 'DequantizeLinear' && n.domain === '' && n.input(0)?.initializer);
  if (!dqs.length && !g.nodes.some((n) => n.opType === 'QuantizeLinear')) throw new InputError('the model has no QuantizeLinear/DequantizeLinear nodes: quantize it statically first');
  // biases first: they read the scales of their op's input and weight DQs, which stay
  for (const dq of dqs) {
    const q = dq.input(0)!;
    if (q.initializer!.dtype !== DataType.INT32) continue;
    const user = dq.outputs[0]!.uses[0]?.node;
    const dqX = user?.input(0)?.producer;
    const dqW = user?.input(1)?.producer;
    if (!user || dqX?.opType !== 'DequantizeLinear' || dqW?.opType !== 'DequantizeLinear') continue;
    const t = q.initializer!;
    const s = dq.input(1)!.initializer!.toFloat32();
    const ints = t.toFloat32();
    const axis = axisOf(dq, t.rank);
    const values = Float32Array.from(ints, (v, i) => v * paramAt(s, t.dims, axis, i));
    const floatName = g.uniqueName(BASE(q.name));
    const fv = g.addInitializer(Tensor.float([...t.dims], values), floatName);
    plan.biases.push({ float: floatName, quantized: q.name, scale: dq.input(1)!.name, zeroPoint: dq.input(2)?.name ?? '', xScale: dqX.input(1)!.name, wScale: dqW.input(1)!.name, perChannel: axis !== undefined });
    dq.outputs[0]!.replaceAllUsesWith(fv);
    g.removeNode(dq);
    for (const v of [q, ...dq.inputs]) dropIfUnused(g, v);
  }
  for (const dq of g.nodes.filter((n) => dqs.includes(n))) {
    const q = dq.input(0)!;
    const t = q.initializer!;
    const s = dq.input(1)!.initializer!.toFloat32();
    const z = dq.input(2)?.initializer?.toFloat32() ?? [0];
    const ints = t.toFloat32();
    const axis = axisOf(dq, t.rank);
    const values = Float32Array.from(ints, (v, i) => (v - paramAt(z, t.dims, axis, i)) * paramAt(s, t.dims, axis, i));
    const floatName = g.uniqueName(BASE(q.name));
    const fv = g.addInitializer(Tensor.float([...t.dims], values), floatName);
    const qv = g.newValue(`${floatName}_fake_quantized`);
    let input: Value = fv;
    // a narrow grid only where static quantization put one: a weight it kept at 8 bits (`wideEnds`: the first and
    // last layers) has integers beyond ±limit (min-max scales put its largest weight at ±127)
    const narrow = opts.weightBits !== undefined && opts.weightBits < 8 && t.dtype === DataType.INT8 ? 2 ** (opts.weightBits - 1) - 1 : undefined;
    const limit = narrow !== undefined && ints.every((v) => Math.abs(v) <= narrow) ? narrow : undefined;
    if (opts.weightScales === 'mse' && t.dtype === DataType.INT8 && z.every((v) => v === 0)) {
      const scale = dq.input(1)!;
      scale.initializer = Tensor.float([...scale.initializer!.dims], mseScales(values, t.dims, axis, limit ?? 127));
    }
    if (limit !== undefined) input = clampToGrid(g, fv, dq, limit, t.rank, axis, dq);
    const quantizer = new Node('QuantizeLinear', [input, dq.input(1), dq.input(2)], [qv], { name: g.uniqueName(`${floatName}_QuantizeLinear`), attrs: dq.attrs.values() });
    g.addNode(quantizer, dq);
    dq.setInput(0, qv);
    g.removeInitializer(q);
    plan.weights.push({ float: floatName, quantized: q.name, quantizer: quantizer.name, limit });
  }
  const scales = new Set<Value>();
  for (const n of g.nodes) if ((n.opType === 'QuantizeLinear' || n.opType === 'DequantizeLinear') && n.input(1)?.initializer) scales.add(n.input(1)!);
  if (opts.lsq) learnableScales(g, [...scales], plan);
  else plan.frozen.push(...[...scales].map((v) => v.name));
  g.topologicalSort();
  return plan;
}

/**
 * Per-channel (or one) symmetric scales minimising Σ (w − s·clamp(round(w/s), −limit, limit))²: the clipping
 * range searched from max|w| down to 30% of it in 2% steps.
 */
export function mseScales(w: Float32Array, dims: readonly number[], axis: number | undefined, limit: number): Float32Array {
  const channels = axis === undefined ? 1 : dims[axis]!;
  const inner = axis === undefined ? w.length : dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const groups: number[][] = Array.from({ length: channels }, () => []);
  w.forEach((_, i) => groups[axis === undefined ? 0 : Math.floor(i / inner) % channels]!.push(i));
  return Float32Array.from(groups, (idx) => {
    const max = idx.reduce((m, i) => Math.max(m, Math.abs(w[i]!)), 0);
    if (max === 0) return 1;
    let best = max / limit;
    let bestErr = Infinity;
    for (let r = 1; r >= 0.3; r -= 0.02) {
      const s = Math.fround((r * max) / limit);
      let err = 0;
      for (const i of idx) {
        const q = Math.min(limit, Math.max(-limit, roundHalfEven(Math.fround(w[i]! / s))));
        err += (w[i]! - q * s) ** 2;
      }
      if (err < bestErr) [best, bestErr] = [s, err];
    }
    return best;
  });
}

/**
 * BatchNorm frozen, then folded: the Conv weight and bias of a plan (folded before PTQ) are trained as the
 * unfolded weight W and bias b with BatchNorm's γ and β, running mean μ and 1/σ fixed:
 *
 *   W_folded = W · γ/σ (per output channel),   b_folded = β + (b − μ) · γ/σ
 *
 * computed in the graph, so fake quantization sees the folded weight as it will be exported. The starting
 * point is exactly the PTQ model (W and b are solved from its folded values). `exportQat` folds the trained
 * values back. `params` maps a folded-weight initializer name to the BatchNorm it came from; weights without
 * one (or whose Conv bias is not a plain float initializer, or with a zero γ) stay folded-first.
 */
export function freezeBatchNorm(plan: QatPlan, params: ReadonlyMap<string, BatchNormParams>): number {
  const g = plan.model.graph;
  let count = 0;
  for (const w of plan.weights) {
    const bn = params.get(w.float);
    const wv = g.initializers.get(w.float);
    if (!bn || !wv) continue;
    const conv = findConsumer(wv, 'Conv');
    const bv = conv?.input(2);
    if (!conv || !bv?.initializer || !plan.biases.some((b) => b.float === bv.name) || bv.uses.length !== 1) continue;
    const C = bn.gamma.length;
    const t = wv.initializer!;
    if (t.dims[0] !== C) continue;
    const invStd = Float32Array.from(bn.variance, (v) => 1 / Math.sqrt(v + bn.epsilon));
    const factor = Float32Array.from(bn.gamma, (gm, c) => gm * invStd[c]!);
    if (factor.some((f) => !(Math.abs(f) > 1e-8))) continue;
    const inner = t.size / C;
    const raw = Float32Array.from(t.toFloat32(), (v, i) => v / factor[Math.floor(i / inner)]!);
    const folded = bv.initializer.toFloat32();
    const rawBias = Float32Array.from(folded, (v, c) => bn.mean[c]! + (v - bn.beta[c]!) / factor[c]!);
    const name = (suffix: string) => g.uniqueName(`${w.float}_bn_${suffix}`);
    const init = (values: Float32Array, suffix: string, dims: number[] = [C]) => g.addInitializer(Tensor.float(dims, values), name(suffix));
    const [rawV, rawBiasV, gammaV, betaV, invStdV, meanV] = [init(raw, 'raw', [...t.dims]), init(rawBias, 'raw_bias'), init(bn.gamma, 'gamma'), init(bn.beta, 'beta'), init(invStd, 'inv_std'), init(bn.mean, 'mean')];
    const first = g.nodes[0]!;
    const add = (op: string, inputs: Value[], suffix: string) => {
      const out = g.newValue(name(suffix));
      g.addNode(new Node(op, inputs, [out], { name: name(`${suffix}_${op}`) }), first);
      return out;
    };
    const f = add('Mul', [gammaV, invStdV], 'factor');
    const shape = g.addInitializer(Tensor.int64([t.rank], [C, ...new Array<number>(t.rank - 1).fill(1)]), name('factor_shape'));
    const wFolded = add('Mul', [rawV, add('Reshape', [f, shape], 'factor_b')], 'folded');
    const bFolded = add('Add', [betaV, add('Mul', [add('Sub', [rawBiasV, meanV], 'centred'), f], 'shift')], 'folded_bias');
    wv.replaceAllUsesWith(wFolded);
    bv.replaceAllUsesWith(bFolded);
    g.removeInitializer(wv);
    g.removeInitializer(bv);
    plan.frozen.push(invStdV.name, meanV.name);
    plan.extraParams.push(gammaV.name, betaV.name, rawBiasV.name);
    plan.batchNorm.push({ weight: w.float, bias: bv.name, raw: rawV.name, rawBias: rawBiasV.name, gamma: gammaV.name, beta: betaV.name, invStd: invStdV.name, mean: meanV.name, foldedWeight: wFolded.name, foldedBias: bFolded.name });
    count++;
  }
  g.topologicalSort();
  return count;
}

/**
 * The first node of `opType` reached from `v` through the fake-quantizer path: the clamp this file builds
 * and the Q/DQ pair, none of which carries multiply-adds (`arithmetic` in the op registry).
 */
function findConsumer(v: Value, opType: string): Node | undefined {
  const seen = new Set<Value>();
  const queue = [v];
  while (queue.length) {
    const x = queue.shift()!;
    if (seen.has(x)) continue;
    seen.add(x);
    for (const u of x.uses) {
      if (u.node.opType === opType) return u.node;
      if (opArithmetic(u.node.domain, u.node.opType) === undefined) queue.push(...u.node.outputs);
    }
  }
  return undefined;
}

/**
 * The narrow grid's saturation: w stays as it is while round(w/s) is within ±limit (|w| < (limit + ½)·s, where
 * the int8 QuantizeLinear after it rounds to the grid by itself) and becomes ±limit·s beyond. So the gradient's
 * mask is the straight-through estimator's own, round(w/s) within [−limit, limit] (as PyTorch's fake_quantize
 * with quant_min −limit, quant_max limit), not a clamp at ±limit·s: weights in (limit, limit + ½)·s round to
 * ±limit too, and a clamp there gave them no gradient, so they could never move back inside. The edge sits a
 * hair below (limit + ½)·s so that a float w/s never rounds to ±(limit + 1). Per channel when s is.
 */
function clampToGrid(g: Graph, w: Value, dq: Node, limit: number, rank: number, axis: number | undefined, before: Node): Value {
  const s = dq.input(1)!;
  const add = (op: string, inputs: Value[], name: string) => {
    const out = g.newValue(name);
    g.addNode(new Node(op, inputs, [out], { name: g.uniqueName(name) }), before);
    return out;
  };
  let sb = s;
  if (axis !== undefined) {
    const shape = Array.from({ length: rank }, (_, i) => (i === axis ? -1 : 1));
    sb = add('Reshape', [s, g.addInitializer(Tensor.int64([rank], shape), g.uniqueName(`${w.name}_scale_shape`))], `${w.name}_scale_b`);
  }
  const times = (k: number, name: string) => add('Mul', [sb, g.addInitializer(Tensor.float([], [k]), g.uniqueName(`${w.name}_${name}_k`))], `${w.name}_${name}`);
  const hi = times(limit, 'hi');
  const lo = add('Neg', [hi], `${w.name}_lo`);
  const edge = times(limit + 0.5 - 1 / 1024, 'edge');
  const upper = add('Where', [add('Less', [w, edge], `${w.name}_below_edge`), w, hi], `${w.name}_clamped_hi`);
  return add('Where', [add('Greater', [upper, add('Neg', [edge], `${w.name}_neg_edge`)], `${w.name}_above_neg_edge`), upper, lo], `${w.name}_clamped`);
}

/**
 * Replaces every scale initializer by exp(log-scale). Activation scales with the same value and zero point
 * (pass-through ops and Concat share them: ORT then runs those on int8) share one log-scale, so they stay tied.
 */
function learnableScales(g: Graph, scales: Value[], plan: QatPlan): void {
  const groups = new Map<string, Value[]>();
  for (const s of scales) {
    const t = s.initializer!;
    const readers = s.uses.map((u) => u.node);
    const zp = readers[0]?.input(2)?.initializer;
    const key = t.size === 1 ? `${t.toFloat32()[0]}|${zp ? zp.dtype + ':' + zp.toFloat32()[0] : ''}` : `tensor:${s.name}`;
    (groups.get(key) ?? groups.set(key, []).get(key)!).push(s);
  }
  for (const group of groups.values()) {
    const first = group[0]!;
    const t = first.initializer!;
    const log = g.addInitializer(Tensor.float([...t.dims], Array.from(t.toFloat32(), Math.log)), g.uniqueName(`${first.name}_log`));
    for (const s of group) {
      const out = g.newValue(`${s.name}_learned`);
      const exp = new Node('Exp', [log], [out], { name: g.uniqueName(`${s.name}_Exp`) });
      g.addNode(exp, g.nodes[0]);
      s.replaceAllUsesWith(out);
      g.removeInitializer(s);
      plan.logScales.push({ log: log.name, scale: s.name, exp: exp.name });
    }
    if (t.size <= 1) plan.extraParams.push(log.name);
  }
}

/** Removes the nodes that only computed from `v` (the weight clamp) and `v` itself once nothing else reads them. */
function removeDeadChain(g: Graph, v: Value): void {
  let changed = true;
  while (changed) {
    changed = false;
    for (const n of [...g.nodes]) {
      if (n.outputs.every((o) => o.uses.length === 0 && !g.isOutput(o))) {
        const ins = [...n.inputs];
        g.removeNode(n);
        for (const x of ins) dropIfUnused(g, x);
        changed = true;
      }
    }
  }
  dropIfUnused(g, v);
}

/** Trained W, b, γ, β → folded weight and bias initializers under their PTQ names; the fold nodes go. */
function foldFrozenBatchNorm(g: Graph, bn: FrozenBatchNorm, init: (name: string) => Value): void {
  const get = (n: string) => init(n).initializer!.toFloat32();
  const [raw, rawBias, gamma, beta, invStd, mean] = [get(bn.raw), get(bn.rawBias), get(bn.gamma), get(bn.beta), get(bn.invStd), get(bn.mean)];
  const factor = Float32Array.from(gamma, (gm, c) => Math.fround(gm * invStd[c]!));
  const inner = raw.length / gamma.length;
  const dims = [...init(bn.raw).initializer!.dims];
  const w = g.addInitializer(Tensor.float(dims, Float32Array.from(raw, (v, i) => v * factor[Math.floor(i / inner)]!)), bn.weight);
  const b = g.addInitializer(Tensor.float([gamma.length], Float32Array.from(beta, (v, c) => v + (rawBias[c]! - mean[c]!) * factor[c]!)), bn.bias);
  for (const [name, value] of [[bn.foldedWeight, w], [bn.foldedBias, b]] as const) g.findValue(name)!.replaceAllUsesWith(value);
  removeDeadChain(g, init(bn.raw));
}

/**
 * A learned activation scale `s` (one value, shared by its tied group) whose QuantizeLinear reads a Clip's output:
 * when the Clip's max lands within half a step below the grid's top (max/s + z in [qmax − ½, qmax): it rounds to
 * the top integer without being on it), `s` becomes max/(qmax − z), the top exactly at the max, as PTQ's min-max
 * calibration puts it. ONNX Runtime 1.30 refuses such a model at optimization level extended and above ("two
 * nodes with same node name" of the Conv before the Clip): LSQ moved the ReLU6 scale of the Fashion-MNIST
 * MobileNet from 6/255 to 6.00004/255 in three steps; tops of 6.000001–6.0117 fail, 5.99999 and 6.0118 load. The grid
 * moves by less than half a step at the top (less below it); the values beyond the max it gives up never occur.
 */
function alignToClip(s: Float32Array, scaleOut: Value): void {
  if (s.length !== 1) return;
  for (const { node: q } of scaleOut.uses) {
    if (q.opType !== 'QuantizeLinear' || q.input(1) !== scaleOut) continue;
    // an activation the Q absorbs (ORT's Relu/ClipQuantFusion) whose range has a finite top (Clip's max, from
    // its input at opset 11+ or its attribute before: the op registry's outputRange)
    const act = q.input(0)?.producer;
    if (!act || act.domain !== '' || opTraits(act.domain, act.opType).quant?.absorbedByQ !== true) continue;
    const max = outputRange(act)?.max ?? undefined;
    const zt = q.input(2)?.constTensor();
    const qmax = zt?.dtype === DataType.INT8 ? 127 : zt?.dtype === DataType.UINT8 ? 255 : undefined;
    if (max === undefined || !(max > 0) || max === Infinity || qmax === undefined || zt!.size !== 1) continue;
    const z = zt!.toFloat32()[0]!;
    const top = max / s[0]! + z;
    if (top >= qmax - 0.5 && top < qmax) s[0] = Math.fround(max / (qmax - z));
  }
}

/**
 * The trained model back in PTQ's QDQ form: integer weights and int32 biases from the trained floats.
 * `alignToClip: false` writes learned scales as learned (tests compare the two exports; ORT may refuse it).
 */
export function exportQat(trained: Model, plan: QatPlan, opts: { alignToClip?: boolean } = {}): Model {
  const m = loadModel(modelToBytes(trained));
  const g = m.graph;
  const init = (name: string) => {
    const v = g.initializers.get(name);
    if (!v) throw new Error(`QAT export: initializer '${name}' is missing from the trained model`);
    return v;
  };
  for (const bn of plan.batchNorm) foldFrozenBatchNorm(g, bn, init);
  const nodeByName = new Map(g.nodes.map((n) => [n.name, n]));
  const learned = new Map<string, Float32Array>();
  for (const { log } of plan.logScales) if (!learned.has(log)) learned.set(log, Float32Array.from(init(log).initializer!.toFloat32(), Math.exp));
  if (opts.alignToClip !== false) for (const { log, exp } of plan.logScales) alignToClip(learned.get(log)!, nodeByName.get(exp)!.outputs[0]!);
  for (const { log, scale, exp } of plan.logScales) {
    const node = nodeByName.get(exp)!;
    const sv = g.addInitializer(Tensor.float([...init(log).initializer!.dims], Array.from(learned.get(log)!)), scale);
    node.outputs[0]!.replaceAllUsesWith(sv);
    g.removeNode(node);
  }
  for (const { log } of plan.logScales) dropIfUnused(g, g.initializers.get(log) ?? null);
  for (const w of plan.weights) {
    const qn = nodeByName.get(w.quantizer)!;
    const wf = init(w.float);
    const t = wf.initializer!;
    const s = qn.input(1)!.initializer!.toFloat32();
    const zt = qn.input(2)?.initializer;
    const z = zt?.toFloat32() ?? [0];
    const dtype = zt?.dtype ?? DataType.UINT8;
    const [qmin, qmax] = w.limit !== undefined ? [-w.limit, w.limit] : dtype === DataType.INT8 ? [-128, 127] : [0, 255];
    const axis = axisOf(qn, t.rank);
    const x = t.toFloat32();
    const ints = Array.from(x, (v, i) => Math.min(qmax, Math.max(qmin, roundHalfEven(Math.fround(v / paramAt(s, t.dims, axis, i))) + paramAt(z, t.dims, axis, i))));
    const qv = g.addInitializer(Tensor.fromArray(dtype, [...t.dims], ints), w.quantized);
    qn.outputs[0]!.replaceAllUsesWith(qv);
    g.removeNode(qn);
    removeDeadChain(g, wf);
  }
  for (const b of plan.biases) {
    const bv = init(b.float);
    const values = bv.initializer!.toFloat32();
    const xs = init(b.xScale).initializer!.toFloat32()[0]!;
    const ws = init(b.wScale).initializer!.toFloat32();
    const scales = Array.from(values, (_, i) => xs * ws[ws.length === 1 ? 0 : i]!);
    const ints = Array.from(values, (v, i) => Math.max(-(2 ** 31), Math.min(2 ** 31 - 1, roundHalfEven(v / scales[i]!))));
    const n = values.length;
    const inputs = [
      g.addInitializer(Tensor.fromArray(DataType.INT32, [n], ints), b.quantized),
      g.addInitializer(Tensor.float(b.perChannel ? [n] : [], b.perChannel ? scales : [scales[0]!]), b.scale),
      g.addInitializer(Tensor.fromArray(DataType.INT32, b.perChannel ? [n] : [], b.perChannel ? new Array<number>(n).fill(0) : [0]), b.zeroPoint || g.uniqueName(`${b.float}_zero_point`)),
    ];
    const out = g.newValue(`${b.float}_dequantized`);
    const attrs = b.perChannel ? [{ name: 'axis', value: { type: 'int' as const, value: 0 } }] : [];
    const dq = new Node('DequantizeLinear', inputs, [out], { name: g.uniqueName(`${b.float}_DequantizeLinear`), attrs });
    bv.replaceAllUsesWith(out);
    g.addNode(dq, g.nodes[0]);
    dropIfUnused(g, bv);
  }
  g.topologicalSort();
  return m;
}
