import { DataType } from '../../ir/dtype.js';
import type { Value } from '../../ir/graph.js';
import type { GradContext, GradRule } from '../grad-rule.js';
import { defineGrad } from '../registry.js';

/**
 * Fake quantization for quantization-aware training: a QuantizeLinear → DequantizeLinear pair in a
 * training graph runs the exact integer rounding ONNX Runtime uses in the exported model, and these rules
 * give it the straight-through estimator (Bengio et al. 2013) with the clipping mask, as PyTorch's
 * fake_quantize does:
 *
 *   q = saturate(round(x/s) + z)        y = (q − z)·s
 *   ∂y/∂x = 1 where qmin ≤ round(x/s) + z ≤ qmax, else 0
 *   ∂y/∂s = (q − z) − mask·x/s          (LSQ, Esser et al. 2020: round passes the gradient straight through)
 *
 * The integer tensor q carries a float gradient (in integer steps) from DequantizeLinear back to
 * QuantizeLinear — `integerOutputGrads` tells the backward builder so. Zero points get no gradient.
 */

const INT_LIMITS: Partial<Record<DataType, [number, number]>> = {
  [DataType.INT8]: [-128, 127],
  [DataType.UINT8]: [0, 255],
  [DataType.INT16]: [-32768, 32767],
  [DataType.UINT16]: [0, 65535],
  [DataType.INT4]: [-8, 7],
  [DataType.UINT4]: [0, 15],
};

/** The integer range of a QuantizeLinear (its zero point's type, else `output_dtype`, else uint8). */
export function quantizeLimits(c: GradContext): [number, number] {
  const zt = c.has(2) ? c.dtype(c.x(2)) : (c.node.attrInt('output_dtype', DataType.UINT8) as DataType);
  const lim = INT_LIMITS[zt];
  if (!lim) throw new Error(`QuantizeLinear '${c.node.name}': no straight-through gradient for output type ${zt}`);
  return lim;
}

/** Per-axis parameters ([C]) reshaped to broadcast against x; scalars as they are. */
function broadcastParam(c: GradContext, p: Value, x: Value): Value {
  const pd = c.shape(p);
  if (pd.length === 0 || pd.every((d) => d === 1)) return p;
  if (c.node.attrInt('block_size', 0)) throw new Error(`${c.node.opType} '${c.node.name}': no gradient rule for blocked quantization`);
  const rank = c.shape(x).length;
  const axis = (c.node.attrInt('axis', 1) + rank) % rank;
  const dims = Array.from({ length: rank }, (_, i) => (i === axis ? pd[0]! : 1));
  return c.setShape(c.op('Reshape', [p, c.ints(dims)]), dims, p);
}

/** Sums `g` (x's shape) down to the parameter's shape: everything for a scalar, all but the axis per channel. */
function sumToParam(c: GradContext, g: Value, x: Value, p: Value): Value {
  const pd = c.shape(p);
  const rank = c.shape(x).length;
  if (pd.length === 0 || pd.every((d) => d === 1)) {
    const s = c.op('ReduceSum', [g], { keepdims: 0 });
    return pd.length === 0 ? s : c.op('Reshape', [s, c.ints(pd)]);
  }
  const axis = (c.node.attrInt('axis', 1) + rank) % rank;
  const axes = Array.from({ length: rank }, (_, i) => i).filter((i) => i !== axis);
  return c.op('Reshape', [c.op('ReduceSum', [g, c.ints(axes)], { keepdims: 0 }), c.ints(pd)]);
}

const asFloat = (c: GradContext, v: Value) => (c.dtype(v) === DataType.FLOAT ? v : c.op('Cast', [v], { to: DataType.FLOAT }));

const quantizeLinear: GradRule = {
  integerOutputGrads: true,
  saves: { inputs: [0, 1, 2] },
  grads: (c) => {
    const dq = c.dy();
    if (!dq) return [null, null, null];
    const x = c.x(0);
    const s = broadcastParam(c, c.x(1), x);
    const [qmin, qmax] = quantizeLimits(c);
    const scaled = c.op('Div', [x, s]);
    // the mask of the values that did not saturate: round(x/s) + z within [qmin, qmax]
    let r = c.op('Round', [scaled]);
    if (c.has(2)) r = c.op('Add', [r, asFloat(c, broadcastParam(c, c.x(2), x))]);
    const inside = c.op('And', [c.op('GreaterOrEqual', [r, c.scalar(qmin)]), c.op('LessOrEqual', [r, c.scalar(qmax)])]);
    const passed = c.op('Where', [inside, dq, c.scalar(0)]);
    return [
      () => c.op('Div', [passed, s]),
      // round is straight-through: ∂q/∂s = −x/s² where not saturated
      () => sumToParam(c, c.op('Neg', [c.op('Mul', [passed, c.op('Div', [scaled, s])])]), x, c.x(1)),
      null,
    ];
  },
};

const dequantizeLinear: GradRule = {
  saves: { inputs: [0, 1, 2] },
  grads: (c) => {
    const dy = c.dy()!;
    const q = c.x(0);
    const s = broadcastParam(c, c.x(1), q);
    return [
      () => c.op('Mul', [dy, s]),
      () => {
        let centred = asFloat(c, q);
        if (c.has(2)) centred = c.op('Sub', [centred, asFloat(c, broadcastParam(c, c.x(2), q))]);
        return sumToParam(c, c.op('Mul', [dy, centred]), q, c.x(1));
      },
      null,
    ];
  },
};

defineGrad('', 'QuantizeLinear', quantizeLinear);
defineGrad('', 'DequantizeLinear', dequantizeLinear);
