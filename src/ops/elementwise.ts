import { DataType, dtypeInfo } from '../ir/dtype.js';
import type { Dim } from '../ir/types.js';
import type { Node } from '../ir/graph.js';
import { defineTraits, registerOp, type InferContext, type ValueRange } from './registry.js';
import { BOOL, broadcast, elemIn, hasInput, isNum, like, movementCost, perElementCost, shapeIn, tensorOf } from './util.js';

/**
 * Elementwise ops: n-ary ops with numpy broadcasting, unary ops, Where, Cast. Their cost is the default of
 * one operation per output element. Integer arithmetic on known values (`partialValue`) covers what shape
 * subgraphs compute: Add/Sub/Mul/Div on dims, Equal + Where for Reshape's 0 / -1 handling, Cast.
 */

/** Shape of the broadcast of every present input among `indices`; undefined when one is unknown. */
function broadcastInputs(ctx: InferContext, indices: number[]): Dim[] | undefined {
  const shapes: Dim[][] = [];
  for (const i of indices) {
    if (!hasInput(ctx, i)) continue;
    const s = shapeIn(ctx, i);
    if (!s) return undefined;
    shapes.push(s);
  }
  return broadcast(shapes);
}

const allInputs = (ctx: InferContext) => ctx.node.inputs.map((_, i) => i);

type Scalar = number | string | null;

/**
 * Combines the known values of inputs elementwise (a single-element value broadcasts); symbolic entries
 * pass through `fn` as strings so that e.g. N·1 stays N.
 */
function combineValues(ctx: InferContext, indices: number[], fn: (xs: Scalar[]) => Scalar): Dim[] | undefined {
  const vals: Dim[][] = [];
  for (const i of indices) {
    const v = ctx.inputValue(i);
    if (!v) return undefined;
    vals.push(v);
  }
  const n = Math.max(...vals.map((v) => v.length));
  if (vals.some((v) => v.length !== n && v.length !== 1)) return undefined;
  const out: Dim[] = [];
  for (let k = 0; k < n; k++) {
    const r = fn(vals.map((v) => (v.length === 1 ? v[0]! : v[k]!)));
    out.push(r === undefined ? null : r);
  }
  return out;
}

const isFloatIn = (ctx: InferContext, i: number) => {
  const e = elemIn(ctx, i);
  return e !== undefined && dtypeInfo(e).isFloat;
};

type Arith = (a: Scalar, b: Scalar, float: boolean) => Scalar;

const ARITH: Record<string, Arith> = {
  Add: (a, b) => (isNum(a) && isNum(b) ? a + b : a === 0 ? b : b === 0 ? a : null),
  Sub: (a, b) => (isNum(a) && isNum(b) ? a - b : b === 0 ? a : a !== null && a === b ? 0 : null),
  Mul: (a, b) => (isNum(a) && isNum(b) ? a * b : a === 1 ? b : b === 1 ? a : a === 0 || b === 0 ? 0 : null),
  Div: (a, b, float) => (isNum(a) && isNum(b) && b !== 0 ? (float ? a / b : Math.trunc(a / b)) : b === 1 ? a : null),
  Mod: (a, b) => (isNum(a) && isNum(b) && b !== 0 ? ((a % b) + b) % b : null),
  Max: (a, b) => (isNum(a) && isNum(b) ? Math.max(a, b) : a === b ? a : null),
  Min: (a, b) => (isNum(a) && isNum(b) ? Math.min(a, b) : a === b ? a : null),
  // a symbol comes from Shape, so it is a size (>= 0): never equal to a negative number such as -1
  Equal: (a, b) => (a === null || b === null ? null : a === b ? 1 : isNum(a) && isNum(b) ? 0 : (isNum(a) && a < 0) || (isNum(b) && b < 0) ? 0 : null),
  Less: (a, b) => (isNum(a) && isNum(b) ? +(a < b) : null),
  Greater: (a, b) => (isNum(a) && isNum(b) ? +(a > b) : null),
  LessOrEqual: (a, b) => (isNum(a) && isNum(b) ? +(a <= b) : null),
  GreaterOrEqual: (a, b) => (isNum(a) && isNum(b) ? +(a >= b) : null),
  And: (a, b) => (isNum(a) && isNum(b) ? +(a !== 0 && b !== 0) : a === 0 || b === 0 ? 0 : null),
  Or: (a, b) => (isNum(a) && isNum(b) ? +(a !== 0 || b !== 0) : a === 1 || b === 1 ? 1 : null),
};

const BOOL_RESULT = new Set(['Equal', 'Less', 'Greater', 'LessOrEqual', 'GreaterOrEqual', 'And', 'Or', 'Xor']);

function registerBroadcast(opType: string): void {
  const arith = ARITH[opType];
  const boolOut = BOOL_RESULT.has(opType);
  registerOp({
    domain: '',
    opType,
    infer: (ctx) => [tensorOf(boolOut ? BOOL : elemIn(ctx, 0), broadcastInputs(ctx, allInputs(ctx)))],
    partialValue: arith
      ? (ctx) => {
          const float = isFloatIn(ctx, 0);
          return [combineValues(ctx, allInputs(ctx), (xs) => xs.reduce((a, b) => arith(a, b, float)))];
        }
      : undefined,
    cost: perElementCost(1),
  });
}

for (const op of ['Add', 'Sub', 'Mul', 'Div', 'Pow', 'Mod', 'Max', 'Min', 'Mean', 'Sum', 'BitShift', 'BitwiseAnd', 'BitwiseOr', 'BitwiseXor']) {
  registerBroadcast(op);
}
for (const op of BOOL_RESULT) registerBroadcast(op);
defineTraits('', ['Add', 'Mul', 'Max', 'Min', 'Sum', 'And', 'Or', 'Xor', 'Equal', 'BitwiseAnd', 'BitwiseOr', 'BitwiseXor'], { commutative: true });
defineTraits('', ['Add', 'Mul'], { quant: { qdq: true } }); // QLinearAdd, QLinearMul

// the slope broadcasts to X (from opset 7; before, it ran along the channel axis): Y always has X's shape
registerOp({ domain: '', opType: 'PRelu', infer: (ctx) => [like(ctx, 0, shapeIn(ctx, 0))], cost: perElementCost(1) });

registerOp({
  domain: '',
  opType: 'Where',
  infer: (ctx) => [like(ctx, 1, broadcastInputs(ctx, [0, 1, 2]))],
  partialValue: (ctx) => [combineValues(ctx, [0, 1, 2], ([c, a, b]) => (c === null || !isNum(c) ? (a === b ? a! : null) : c !== 0 ? a! : b!))],
  cost: perElementCost(1),
});

// ---- unary ------------------------------------------------------------------------------------------------

const UNARY = [
  'Relu', 'LeakyRelu', 'Sigmoid', 'Tanh', 'Erf', 'Gelu', 'Sqrt', 'Exp', 'Log', 'Neg', 'Abs', 'Reciprocal',
  'HardSigmoid', 'HardSwish', 'Softplus', 'Softsign', 'Floor', 'Ceil', 'Round', 'Sign', 'Sin', 'Cos', 'Tan',
  'Asin', 'Acos', 'Atan', 'Sinh', 'Cosh', 'Asinh', 'Acosh', 'Atanh', 'Elu', 'Selu', 'Celu', 'Mish',
  'ThresholdedRelu', 'Shrink', 'Clip', 'BitwiseNot',
];

const unaryValue: Record<string, (a: number) => number> = { Neg: (a) => -a, Abs: Math.abs, Relu: (a) => Math.max(a, 0), Floor: Math.floor, Ceil: Math.ceil };

for (const opType of UNARY) {
  const fn = unaryValue[opType];
  registerOp({
    domain: '',
    opType,
    infer: (ctx) => [like(ctx, 0, shapeIn(ctx, 0))],
    partialValue: fn ? (ctx) => [combineValues(ctx, [0], ([a]) => (isNum(a!) ? fn(a) : null))] : undefined,
    cost: perElementCost(1),
  });
}
defineTraits('', ['Sigmoid', 'LeakyRelu'], { quant: { qdq: true } }); // QLinearSigmoid, QLinearLeakyRelu
defineTraits('', ['Relu', 'Clip'], { quant: { absorbedByQ: true } });

/**
 * Clip's bounds: inputs 1 and 2 from opset 11 (an absent or empty one: no bound), attributes `min`/`max` before
 * (absent: the float's lowest/highest, taken as no bound). A bound input that is not a constant: null.
 */
function clipRange(n: Node): ValueRange {
  const bound = (input: number, attr: string, none: number): number | null => {
    const v = n.input(input);
    if (v) {
      const t = v.constTensor();
      return t ? t.toFloat32()[0]! : null;
    }
    return n.attrFloat(attr) ?? none;
  };
  return { min: bound(1, 'min', -Infinity), max: bound(2, 'max', Infinity) };
}
defineTraits('', 'Clip', {
  outputRange: clipRange,
  // Clip-11: min and max are optional scalar inputs 1 and 2 of the data's type (an absent attribute: no input)
  signatureChanges: [{ at: 11, attrsToInputs: [{ attr: 'min', input: 1, dtype: 'data', shape: 'scalar' }, { attr: 'max', input: 2, dtype: 'data', shape: 'scalar' }] }],
});
const fixedRange = (min: number, max: number) => (): ValueRange => ({ min, max });
defineTraits('', 'Relu', { outputRange: fixedRange(0, Infinity) });
defineTraits('', ['Sigmoid', 'HardSigmoid'], { outputRange: fixedRange(0, 1) });
defineTraits('', 'Tanh', { outputRange: fixedRange(-1, 1) });

for (const opType of ['Not', 'IsNaN', 'IsInf']) {
  registerOp({
    domain: '',
    opType,
    infer: (ctx) => [tensorOf(BOOL, shapeIn(ctx, 0))],
    partialValue: opType === 'Not' ? (ctx) => [combineValues(ctx, [0], ([a]) => (isNum(a!) ? +(a === 0) : null))] : undefined,
    cost: perElementCost(1),
  });
}

registerOp({
  domain: '',
  opType: 'Identity',
  infer: (ctx) => [ctx.inputs[0]],
  partialValue: (ctx) => [ctx.inputValue(0)],
  cost: movementCost,
});

registerOp({
  domain: '',
  opType: 'Dropout',
  infer: (ctx) => [like(ctx, 0, shapeIn(ctx, 0)), tensorOf(BOOL, shapeIn(ctx, 0))],
  partialValue: (ctx) => [ctx.inputValue(0)],
  cost: movementCost,
});

/** Converts a known value to the target element type (integer casts truncate, bool is != 0). */
function castValue(v: Dim[] | undefined, to: DataType): Dim[] | undefined {
  if (!v) return undefined;
  if (to === BOOL) return v.map((x) => (isNum(x) ? +(x !== 0) : null));
  if (dtypeInfo(to).isInt) return v.map((x) => (isNum(x) ? Math.trunc(x) : x));
  if (dtypeInfo(to).isFloat) return v.map((x) => (isNum(x) ? x : null));
  return undefined;
}

registerOp({
  domain: '',
  opType: 'Cast',
  infer: (ctx) => [tensorOf(ctx.node.attrInt('to') as DataType | undefined, shapeIn(ctx, 0))],
  partialValue: (ctx) => [castValue(ctx.inputValue(0), ctx.node.attrInt('to', 0) as DataType)],
  cost: perElementCost(1),
});

registerOp({
  domain: '',
  opType: 'CastLike',
  infer: (ctx) => [tensorOf(elemIn(ctx, 1), shapeIn(ctx, 0))],
  partialValue: (ctx) => {
    const to = elemIn(ctx, 1);
    return [to === undefined ? undefined : castValue(ctx.inputValue(0), to)];
  },
  cost: perElementCost(1),
});

