import { DataType } from '../ir/dtype.js';
import type { Model, Node } from '../ir/graph.js';
import { Node as GraphNode } from '../ir/graph.js';
import { Tensor } from '../ir/tensor.js';
import { Session } from '../runtime/session.js';
import { analyzeChannels, type AnalyzeOptions } from './channels.js';
import { loadModel, modelToBytes } from '../ir/io.js';
import type { Cut, PruneGroup, PruneSpace } from './space.js';

/**
 * Mean compensation: a removed channel is replaced by its mean instead of by zero. For every layer that reads
 * removed channels (a Conv's input channels, a Gemm/MatMul's input features: the `in` cuts), the mean of each
 * removed input position over calibration data, times the weights that read it, is added to that layer's
 * bias. A channel whose output is (nearly) constant — a BatchNorm with a small γ, whose β passes through the
 * ReLU — then goes without changing the model; in general this is the least-squares constant, which is what
 * removing a channel should cost. (Zero padding makes it approximate at a Conv's borders.)
 */

/** Mean of each reader input's positions along its reduction axis: value name → means. */
export type InputMeans = ReadonlyMap<string, Float32Array>;

/** Means and variances of each reader input's positions (value name → per-position statistics). */
export interface InputStats {
  means: Map<string, Float32Array>;
  variances: Map<string, Float32Array>;
}

/** The reduction axis of a weighted reader's activation input (input 0). */
function activationAxis(node: Node, rank: number): number {
  if (node.opType === 'MatMul') return rank - 1;
  return 1; // Conv, ConvTranspose (channels), Gemm without transA (features)
}

/** Per-position means and variances of the activations read by every `in` cut of `model`'s channel analysis. */
export async function readerStats(model: Model, feeds: Iterable<Record<string, Tensor>> | AsyncIterable<Record<string, Tensor>>, opts: AnalyzeOptions & { threads?: number } = {}): Promise<InputStats> {
  const m = loadModel(modelToBytes(model));
  const a = analyzeChannels(m, opts);
  const wanted = new Map<string, Node>();
  for (const c of a.space.cuts) {
    if (c.role !== 'in') continue;
    const x = c.node.inputs[0];
    if (!x || x.constTensor() || (c.node.opType === 'Gemm' && c.node.attrInt('transA', 0) === 1)) continue;
    wanted.set(x.name, c.node);
    if (!m.graph.outputs.includes(x) && !m.graph.inputs.includes(x)) m.graph.outputs.push(x);
  }
  const sums = new Map<string, { sum: Float64Array; sq: Float64Array; count: number }>();
  if (wanted.size === 0) return { means: new Map(), variances: new Map() };
  const session = await Session.create(m, { threads: opts.threads ?? 2 });
  try {
    for await (const f of feeds as AsyncIterable<Record<string, Tensor>>) {
      const out = await session.run(f, [...wanted.keys()].filter((k) => !(k in f)));
      for (const [name, node] of wanted) {
        const t = out[name] ?? f[name];
        if (!t) continue;
        const axis = activationAxis(node, t.dims.length);
        const n = t.dims[axis]!;
        const inner = t.dims.slice(axis + 1).reduce((x, y) => x * y, 1);
        const d = t.toFloat32();
        const acc = sums.get(name) ?? { sum: new Float64Array(n), sq: new Float64Array(n), count: 0 };
        for (let i = 0; i < d.length; i++) {
          const p = Math.floor(i / inner) % n;
          acc.sum[p] = acc.sum[p]! + d[i]!;
          acc.sq[p] = acc.sq[p]! + d[i]! * d[i]!;
        }
        acc.count += d.length / n;
        sums.set(name, acc);
      }
    }
  } finally {
    await session.release();
  }
  const means = new Map<string, Float32Array>();
  const variances = new Map<string, Float32Array>();
  for (const [k, v] of sums) {
    const c = Math.max(1, v.count);
    means.set(k, Float32Array.from(v.sum, (s) => s / c));
    variances.set(k, Float32Array.from(v.sq, (q, i) => Math.max(0, q / c - (v.sum[i]! / c) ** 2)));
  }
  return { means, variances };
}

interface Pending {
  node: Node;
  /** The reader's output cut (its own units), to slice the delta when some of them go too. */
  outCut?: Cut;
  delta: Float64Array;
}

/**
 * Bias corrections for removing `groups` (computed on the unpruned weights; call before `space.apply`), and a
 * function that adds them after it. Readers whose activation has no measured means are left alone.
 */
export function planCompensation(space: PruneSpace, groups: Iterable<PruneGroup>, means: InputMeans): (model: Model) => number {
  const removed = new Set<number>();
  for (const g of groups) for (const id of g.ids) removed.add(id);
  const pending = new Map<Node, Pending>();
  for (const c of space.cuts) {
    if (c.role !== 'in') continue;
    const x = c.node.inputs[0];
    const mu = x ? means.get(x.name) : undefined;
    if (!mu || mu.length !== c.ids.length || !c.ids.some((id) => removed.has(id))) continue;
    const outCut = space.cuts.find((o) => o.node === c.node && o.input === c.input && o.role === 'out');
    const w = c.node.inputs[c.input]!.constTensor()!;
    const outAxis = outCut?.axis ?? (c.axis === 0 ? 1 : 0);
    const nOut = w.dims[outAxis]!;
    const data = w.toFloat32();
    const dims = w.dims;
    const strides = dims.map((_, i) => dims.slice(i + 1).reduce((a, b) => a * b, 1));
    const p = pending.get(c.node) ?? { node: c.node, outCut, delta: new Float64Array(nOut) };
    for (let i = 0; i < data.length; i++) {
      const pos = Math.floor(i / strides[c.axis]!) % dims[c.axis]!;
      if (!removed.has(c.ids[pos]!)) continue;
      const o = Math.floor(i / strides[outAxis]!) % nOut;
      p.delta[o] = p.delta[o]! + data[i]! * mu[pos]!;
    }
    pending.set(c.node, p);
  }
  return (model) => {
    let n = 0;
    for (const p of pending.values()) {
      let delta = p.delta;
      if (p.outCut) {
        const keep = Array.from(p.outCut.ids, (id) => !removed.has(id));
        if (keep.length === delta.length) delta = Float64Array.from(delta.filter((_, i) => keep[i]));
      }
      if (delta.every((d) => d === 0)) continue;
      addBias(model, p.node, Float32Array.from(delta));
      n++;
    }
    return n;
  };
}

/** Adds `delta` (one value per output unit) to a reader's bias, creating the bias where there is none. */
function addBias(model: Model, node: Node, delta: Float32Array): void {
  const g = model.graph;
  const n = delta.length;
  const plus = (t: Tensor | undefined) => {
    const base = t ? t.toFloat32() : new Float32Array(n);
    return Tensor.float([n], Float32Array.from(delta, (d, i) => d + base[i]!));
  };
  const setBias = (i: number, t: Tensor) => node.setInput(i, g.addInitializer(t, g.uniqueName(`${node.name || node.opType}_bias_comp`)));
  if (node.opType === 'Conv' || node.opType === 'ConvTranspose') {
    const b = node.inputs[2]?.constTensor();
    if (!node.inputs[2] || (b && b.size === n)) return setBias(2, plus(b));
  }
  if (node.opType === 'Gemm') {
    const c = node.inputs[2]?.constTensor();
    const beta = node.attrFloat('beta', 1);
    if (!node.inputs[2] || (c && c.size === n && c.dims[c.dims.length - 1] === n)) {
      node.setAttr('beta', { type: 'float', value: 1 });
      return setBias(2, plus(c ? Tensor.float([n], Float32Array.from(c.toFloat32(), (x) => x * beta)) : undefined));
    }
  }
  // MatMul (or a bias of another form): a following Add of a per-feature constant takes it, else a new Add
  const y = node.outputs[0]!;
  const use = y.uses.length === 1 && !g.outputs.includes(y) ? y.uses[0]! : undefined;
  if (use && use.node.opType === 'Add') {
    const other = use.node.inputs[1 - use.index]?.constTensor();
    if (other && other.size === n && other.dims[other.dims.length - 1] === n && other.dtype === DataType.FLOAT) {
      use.node.setInput(1 - use.index, g.addInitializer(plus(other), g.uniqueName(`${use.node.name || 'Add'}_bias_comp`)));
      return;
    }
  }
  const out = g.newValue(`${y.name}_comp`, y.type);
  const biasV = g.addInitializer(plus(undefined), g.uniqueName(`${node.name || node.opType}_bias_comp`));
  y.replaceAllUsesWith(out);
  const add = new GraphNode('Add', [y, biasV], [out], { name: g.uniqueName(`${node.name || node.opType}_comp_add`) });
  const idx = g.nodes.indexOf(node);
  g.addNode(add, g.nodes[idx + 1]);
  if (g.outputs.includes(y)) g.outputs[g.outputs.indexOf(y)] = out;
}
