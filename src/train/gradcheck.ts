import { DataType } from '../ir/dtype.js';
import type { Model, Value } from '../ir/graph.js';
import { loadModel, modelToBytes } from '../ir/io.js';
import type { Tensor } from '../ir/tensor.js';
import { rng } from '../runtime/inputs.js';
import { Session } from '../runtime/session.js';
import { buildBackward } from './backward.js';
import { GraphEmitter } from './emitter.js';
import { probeShapes } from './shapes.js';
import { applyTrainingForms } from './training-graph.js';

/**
 * Checks gradient rules against central finite differences, both computed by ONNX Runtime. The scalar
 * probed is L = Σ_outputs Σ y·R with a fixed random R per output, so every output element matters; it is
 * summed in float64 even for float32 outputs, so that the finite difference only carries the outputs' own
 * rounding (not that of a float32 sum over every element), which is what lets float32 cases use tight bounds.
 */
export interface GradCheckResult {
  input: string;
  /** Largest |analytic − numeric| / max(1, |numeric|) over the checked elements. */
  maxError: number;
  checked: number;
  worst?: { index: number; analytic: number; numeric: number };
  /** The whole analytic gradient of the probed scalar (its weights R: `rng(seed)`, `2·u − 1` per output element). */
  analytic: Float32Array | Float64Array;
}

export interface GradCheckOptions {
  feeds: Record<string, Tensor>;
  /** Graph inputs to differentiate (default: every float input). */
  wrt?: string[];
  /** Finite-difference step (default 1e-6 for float64, 1e-2 for float32). */
  eps?: number;
  /** Elements checked per input (a random subset when the input has more; default: all, up to 4096). */
  samples?: number;
  seed?: number;
  /** Check the training form of the graph (batch statistics for BatchNormalization, …). */
  training?: boolean;
  /** Which outputs enter the probed scalar (default: every float output). */
  outputs?: number[];
  /**
   * Take the finite differences of this model instead (same inputs and outputs): a straight-through rule is
   * checked against the function whose gradient it stands for (fake quantization against a clamp).
   */
  surrogate?: Model;
  /** Check only these elements of every input (default: a random subset). */
  elements?: number[];
}

/** The model with its outputs replaced by the probed scalar L = Σ y·R (R seeded, so the same for a surrogate). */
async function withProbeLoss(model: Model, opts: GradCheckOptions, seed: number) {
  const m = loadModel(modelToBytes(model));
  m.requireOpset('', 17);
  const facts = await probeShapes(m, opts.feeds);
  const em = new GraphEmitter(m.graph, facts);
  if (opts.training) {
    applyTrainingForms(m.graph, em);
    for (const [v, f] of await probeShapes(m, opts.feeds)) facts.set(v, f);
  }
  const rand = rng(seed);
  const terms: Value[] = [];
  // a float64 value to type the loss's constants by
  const double = em.op('Cast', [em.scalar(0)], { to: DataType.DOUBLE });
  em.facts.set(double, { dims: [], dtype: DataType.DOUBLE });
  for (const [k, y] of m.graph.outputs.entries()) {
    const f = facts.get(y)!;
    if (opts.outputs && !opts.outputs.includes(k)) continue;
    if (f.dtype !== DataType.FLOAT && f.dtype !== DataType.DOUBLE) continue;
    const r = Array.from({ length: f.dims.reduce((a, b) => a * b, 1) }, () => rand() * 2 - 1);
    const y64 = f.dtype === DataType.DOUBLE ? y : em.setShape(em.op('Cast', [y], { to: DataType.DOUBLE }), f.dims, double);
    terms.push(em.op('ReduceSum', [em.op('Mul', [y64, em.constant(f.dims, r, double)])], { keepdims: 0 }));
  }
  // a chain of Adds (Sum has no gradient rule), each a float64 scalar
  const loss = terms.reduce((a, b) => em.setShape(em.op('Add', [a, b]), [], double));
  em.setShape(loss, [], double);
  m.graph.outputs = [loss];
  for (const [v, f] of await probeShapes(m, opts.feeds)) facts.set(v, f);
  return { m, em, facts, loss, rand };
}

export async function gradCheck(model: Model, opts: GradCheckOptions): Promise<GradCheckResult[]> {
  const seed = opts.seed ?? 7;
  const { m, em, facts, loss, rand } = await withProbeLoss(model, opts, seed);
  const wrtNames = opts.wrt ?? m.graph.inputs.filter((v) => [DataType.FLOAT, DataType.DOUBLE].includes(facts.get(v)!.dtype)).map((v) => v.name);
  const wrt = wrtNames.map((n) => m.graph.inputs.find((v) => v.name === n)!);

  const numericModel = opts.surrogate ? (await withProbeLoss(opts.surrogate, opts, seed)).m : m;
  const lossOnly = await Session.create(loadModel(modelToBytes(numericModel)), { threads: 1 });
  const lossName = numericModel.graph.outputs[0]!.name;
  const grads = buildBackward(m.graph, em, loss, wrt);
  m.graph.outputs = [loss, ...wrt.map((w) => grads.get(w)!)];
  m.graph.topologicalSort();
  const withGrads = await Session.create(m, { threads: 1, optLevel: 'basic' });
  const analytic = await withGrads.run(opts.feeds);
  const lossAt = async (feeds: Record<string, Tensor>) => Number((await lossOnly.run(feeds))[lossName]!.view()[0]!);

  const results: GradCheckResult[] = [];
  for (const w of wrt) {
    const base = opts.feeds[w.name]!;
    const isDouble = base.dtype === DataType.DOUBLE;
    const eps = opts.eps ?? (isDouble ? 1e-6 : 1e-2);
    const g = analytic[grads.get(w)!.name]!;
    const gv = isDouble ? (g.view() as Float64Array) : g.toFloat32();
    const n = base.size;
    const limit = opts.samples ?? 4096;
    const picks = opts.elements ?? (n <= limit ? [...Array(n).keys()] : Array.from({ length: limit }, () => Math.floor(rand() * n)));
    let maxError = 0;
    let worst: GradCheckResult['worst'];
    for (const j of picks) {
      const shifted = async (delta: number) => {
        const t = base.clone();
        const v = t.view() as Float32Array | Float64Array;
        v[j] = v[j]! + delta;
        return lossAt({ ...opts.feeds, [w.name]: t });
      };
      const central = async (h: number) => ((await shifted(h)) - (await shifted(-h))) / (2 * h);
      // float32 needs a large step; Richardson extrapolation cancels its O(h²) error (curvature), leaving O(h⁴)
      // (only with the default step: a step given by the caller, e.g. a quantization step, is used as it is)
      const numeric = isDouble || opts.eps !== undefined ? await central(eps) : (4 * (await central(eps / 2)) - (await central(eps))) / 3;
      const err = Math.abs(gv[j]! - numeric) / Math.max(1, Math.abs(numeric));
      if (err >= maxError) {
        maxError = err;
        worst = { index: j, analytic: gv[j]!, numeric };
      }
    }
    results.push({ input: w.name, maxError, checked: picks.length, worst, analytic: gv });
  }
  await lossOnly.release();
  await withGrads.release();
  return results;
}
