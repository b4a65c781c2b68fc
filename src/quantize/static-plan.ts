import type { Graph, Node, Value } from '../ir/graph.js';
import { opsWith, opTraits, outputRange } from '../ops/index.js';
import { isFloatTensor } from './weights.js';
import { nodeSelected, type NodeFilter } from './select.js';

/**
 * Where static (QDQ) quantization puts Q/DQ pairs so that ONNX Runtime fuses them into integer kernels
 * (QLinearConv, QLinearMatMul, QGemm, QLinearAdd, QLinearConcat, QLinearGlobalAveragePool…):
 *
 *   DQ(x) ─┐
 *   DQ(W) ─┼─ Conv ─ [Relu] ─ Q ─ DQ ─ next quantized op
 *   DQ(b) ─┘
 *
 * - weights: quantized constants behind a DequantizeLinear (per channel for Conv by default);
 * - biases of Conv/Gemm: int32 with scale x_scale·w_scale, which the fused kernels require;
 * - a Relu/Clip right after a quantized op is left to the Q after it: ORT drops it when the asymmetric
 *   range starts at 0 (ReluQuantFusion/ClipQuantFusion), so Conv+Relu becomes one QLinearConv;
 * - ops that only move data (MaxPool, Reshape, Transpose, Flatten…) get a Q/DQ on their output with the
 *   input's parameters, which ORT removes as redundant, so they run on int8 data;
 * - Concat inputs and output share one range, making QLinearConcat a copy.
 */

/**
 * Ops whose float inputs and outputs are quantized (registry trait `quant.qdq`), with the inputs holding
 * their weight and bias.
 */
export const QUANTIZED_OPS: Readonly<Record<string, { weightInput?: number; biasInput?: number }>> = Object.fromEntries(
  opsWith((t) => t.quant?.qdq === true).map((op) => {
    const q = opTraits('', op).quant;
    return [op, { weightInput: q?.weightInput, biasInput: q?.biasInput }];
  }),
);

/** Ops that move or select data without changing values (`quant.passThrough`): their output reuses the input's parameters. */
const isPassThrough = (n: Node) => opTraits(n.domain, n.opType).quant?.passThrough === true;

/** Activations the Q after them can absorb when the quantized range starts at zero (`quant.absorbedByQ`). */
const isAbsorbedByQ = (n: Node) => opTraits(n.domain, n.opType).quant?.absorbedByQ === true;

export interface StaticPlan {
  /** Nodes whose inputs/outputs are quantized. */
  nodes: Node[];
  /** Activation tensors that get a Q/DQ pair with their own calibrated range. */
  activations: Set<Value>;
  /** Pass-through outputs → the tensor whose parameters they reuse. */
  shared: Map<Value, Value>;
  /** Constant inputs to quantize: value → channel axis (undefined: per tensor), and whether it is an op weight. */
  weights: Map<Value, { axis?: number; isWeight: boolean }>;
  /** Bias constants → [activation input, weight] their scale derives from. */
  biases: Map<Value, [Value, Value]>;
  /** Groups of tensors calibrated to one shared range (Concat). */
  tiedRanges: Value[][];
}

export interface PlanOptions extends NodeFilter {
  opTypes: readonly string[];
  /** Per-channel weights for Conv only ('conv'), for every weighted op ('all') or none. */
  perChannel: 'conv' | 'all' | 'none';
  /** Asymmetric activations let Relu/Clip fold into the preceding Q. */
  symmetricActivations: boolean;
  /** Whether a non-constant value carries float data (from calibration); default: assume so. */
  isFloat?: (v: Value) => boolean;
  /** Nodes left float although their op type is quantized (e.g. depthwise Conv for wasm). */
  keepFloat?: (n: Node) => boolean;
}

export function planStatic(g: Graph, opts: PlanOptions): StaticPlan {
  const isFloat = opts.isFloat ?? (() => true);
  const isFloatValue = (v: Value | null): v is Value => !!v && (v.constTensor() ? isFloatTensor(v.constTensor()) : isFloat(v));
  const plan: StaticPlan = { nodes: [], activations: new Set(), shared: new Map(), weights: new Map(), biases: new Map(), tiedRanges: [] };
  for (const n of g.nodes) {
    const spec = QUANTIZED_OPS[n.opType];
    if (!spec || (n.domain !== '' && n.domain !== 'ai.onnx') || !opts.opTypes.includes(n.opType) || !nodeSelected(n, opts) || opts.keepFloat?.(n)) continue;
    const data = n.inputs.filter((v, i) => v && i !== spec.biasInput);
    const out = n.outputs[0]!;
    const quantizedOut = foldActivation(out, opts) ?? out;
    // every op here computes in its input type, so float inputs mean a float output
    if (!data.every(isFloatValue)) continue;
    if (n.opType === 'Gemm' && (n.attrInt('transA', 0) !== 0)) continue;
    plan.nodes.push(n);
    n.inputs.forEach((v, i) => {
      if (!v) return;
      if (i === spec.biasInput) {
        if (!(v.constTensor() && isFloatTensor(v.constTensor()) && spec.weightInput !== undefined)) return;
        const need: [Value, Value] = [n.input(0)!, n.input(spec.weightInput)!];
        const other = plan.biases.get(v);
        if (other && (other[0] !== need[0] || other[1] !== need[1])) {
          // one bias tensor shared by layers with different input/weight scales (identical biases merged by
          // CSE, common in exported ResNets): its int32 form needs one scale per consumer, so each gets a copy
          // — with a single scale ORT cannot fuse the others into QLinearConv and they run in float
          const copy = g.addInitializer(v.constTensor()!.clone(), g.uniqueName(`${v.name}_${n.name || n.opType}`));
          n.setInput(i, copy);
          plan.biases.set(copy, need);
          return;
        }
        plan.biases.set(v, need);
        return;
      }
      if (v.constTensor()) plan.weights.set(v, { axis: weightAxis(n, i, opts.perChannel), isWeight: i === spec.weightInput });
      else plan.activations.add(v);
    });
    // a model output stays float: quantizing it adds error and gains nothing
    if (!g.isOutput(quantizedOut)) plan.activations.add(quantizedOut);
    if (n.opType === 'Concat') plan.tiedRanges.push([...n.inputs.filter((v): v is Value => !!v && !v.constTensor()), out]);
  }
  // pass-through ops inherit parameters from a quantized input, in graph order so chains propagate
  const quantized = (v: Value) => plan.activations.has(v) || plan.shared.has(v);
  for (const n of g.nodes) {
    if (!isPassThrough(n) || !nodeSelected(n, { exclude: opts.exclude })) continue;
    const x = n.input(0);
    if (!x || !quantized(x)) continue;
    for (const o of n.outputs) {
      if (g.isOutput(o)) continue;
      // even where a quantized op reads it, the output keeps the input's parameters: ORT then drops the pair
      plan.activations.delete(o);
      plan.shared.set(o, plan.shared.get(x) ?? x);
    }
  }
  return plan;
}

/** Channel axis of a weight constant: Conv out-channels, MatMul/Gemm output columns. */
function weightAxis(n: Node, input: number, perChannel: PlanOptions['perChannel']): number | undefined {
  if (perChannel === 'none' || input !== QUANTIZED_OPS[n.opType]?.weightInput) return undefined;
  if (n.opType === 'Conv') return 0;
  if (perChannel !== 'all') return undefined;
  if (n.opType === 'Gemm') return n.attrInt('transB', 0) ? 0 : 1;
  const rank = n.input(input)!.constTensor()!.rank;
  return rank === 2 ? 1 : undefined;
}

/** The Relu/Clip output to quantize instead of `out`, when the activation is its only reader. */
function foldActivation(out: Value, opts: PlanOptions): Value | undefined {
  if (opts.symmetricActivations || out.uses.length !== 1 || out.producer?.graph?.isOutput(out)) return undefined;
  const act = out.uses[0]!.node;
  if (!isAbsorbedByQ(act) || act.domain !== '' || !nodeSelected(act, { exclude: opts.exclude })) return undefined;
  // a bound that is not a constant (Clip's min/max inputs): the range the Q must absorb is not known here
  const range = outputRange(act);
  if (range && (range.min === null || range.max === null)) return undefined;
  return act.outputs[0];
}
