import { DataType } from '../ir/dtype.js';
import type { Node } from '../ir/graph.js';
import type { Tensor } from '../ir/tensor.js';
import type { Dim } from '../ir/types.js';
import { registerOp, type InferContext } from './registry.js';
import {
  broadcast, constInts, INT64, intsAttrOrInput, isNum, like, movementCost, normAxis, prodDims, rankIn, shapeIn, tensorOf,
  ZERO_COST,
} from './util.js';

/**
 * Ops that reshape or make shapes: Reshape, Flatten, Squeeze, Unsqueeze, Transpose, Expand, Tile, Shape, Size,
 * Constant, ConstantOfShape, Range. They also carry known values (`partialValue`), which is how a
 * Shape → Gather → Concat → Reshape chain of an exported transformer ends in a known Reshape target.
 */

/** Largest tensor whose contents the constant evaluator carries. */
export const MAX_VALUE_ELEMS = 1024;

// ---- symbolic products (for Reshape's -1) ----------------------------------------------------------------------

/** A product of dims as a number times a multiset of symbols; null when a factor is unknown. */
interface SymProduct {
  coeff: number;
  syms: string[];
}

function symProduct(dims: readonly Dim[]): SymProduct | null {
  const p: SymProduct = { coeff: 1, syms: [] };
  for (const d of dims) {
    if (d === null) return null;
    if (isNum(d)) p.coeff *= d;
    else p.syms.push(d);
  }
  return p;
}

/** total / part as a dim: a number, a single symbol, or null when it cannot be written as one. */
function divideProducts(total: SymProduct | null, part: SymProduct | null): Dim {
  if (!total || !part || part.coeff === 0) return null;
  const syms = [...total.syms];
  for (const s of part.syms) {
    const k = syms.indexOf(s);
    if (k < 0) return null;
    syms.splice(k, 1);
  }
  const coeff = total.coeff / part.coeff;
  if (!Number.isInteger(coeff)) return null;
  if (syms.length === 0) return coeff;
  return syms.length === 1 && coeff === 1 ? syms[0]! : null;
}

// ---- Reshape, Flatten ----------------------------------------------------------------------------------------------

export function reshapeShape(x: Dim[] | undefined, target: Dim[], allowZero: boolean): Dim[] {
  const out = target.map((t, i): Dim => (t === 0 && !allowZero ? (x?.[i] ?? null) : t === -1 ? -1 : t));
  const k = out.indexOf(-1);
  if (k >= 0) {
    const rest = out.filter((_, i) => i !== k);
    out[k] = x ? divideProducts(symProduct(x), symProduct(rest)) : null;
  }
  return out;
}

/** Value of a shape input: known entries, or `rank` unknowns when only its length is known. */
function shapeValue(ctx: InferContext, i: number): Dim[] | undefined {
  const v = ctx.inputValue(i);
  if (v) return v;
  const s = shapeIn(ctx, i);
  return s && s.length === 1 && isNum(s[0]) ? new Array<Dim>(s[0]).fill(null) : undefined;
}

registerOp({
  domain: '',
  opType: 'Reshape',
  traits: { quant: { passThrough: true } },
  infer: (ctx) => {
    const target = ctx.opset < 5 ? ctx.node.attrInts('shape') : shapeValue(ctx, 1);
    return [like(ctx, 0, target && reshapeShape(shapeIn(ctx, 0), target, ctx.node.attrInt('allowzero', 0) === 1))];
  },
  partialValue: (ctx) => [ctx.inputValue(0)],
  cost: movementCost,
});

registerOp({
  domain: '',
  opType: 'Flatten',
  infer: (ctx) => {
    const x = shapeIn(ctx, 0);
    if (!x) return [like(ctx, 0)];
    const axis = ctx.node.attrInt('axis', 1);
    const a = axis < 0 ? axis + x.length : axis;
    return [like(ctx, 0, [prodDims(x.slice(0, a)), prodDims(x.slice(a))])];
  },
  partialValue: (ctx) => [ctx.inputValue(0)],
  cost: movementCost,
});

// ---- Squeeze, Unsqueeze -------------------------------------------------------------------------------------------

function squeezeShape(node: Node, ctx: InferContext): Dim[] | undefined {
  const x = shapeIn(ctx, 0);
  const axes = intsAttrOrInput(node, ctx, 'axes', 1);
  if (!x || axes === 'unknown') return undefined;
  if (axes === 'missing') return x.every(isNum) ? x.filter((d) => d !== 1) : undefined;
  const drop = new Set(axes.map((a) => normAxis(a, x.length)));
  return x.filter((_, i) => !drop.has(i));
}

function unsqueezeShape(node: Node, ctx: InferContext): Dim[] | undefined {
  const x = shapeIn(ctx, 0);
  const axes = intsAttrOrInput(node, ctx, 'axes', 1);
  if (!x || typeof axes === 'string') return undefined;
  const rank = x.length + axes.length;
  const ones = new Set(axes.map((a) => normAxis(a, rank)));
  const out: Dim[] = [];
  let j = 0;
  for (let i = 0; i < rank; i++) out.push(ones.has(i) ? 1 : x[j++]!);
  return out;
}

registerOp({
  domain: '',
  opType: 'Squeeze',
  traits: { quant: { passThrough: true } },
  infer: (ctx) => [like(ctx, 0, squeezeShape(ctx.node, ctx))],
  partialValue: (ctx) => [ctx.inputValue(0)],
  cost: movementCost,
});

registerOp({
  domain: '',
  opType: 'Unsqueeze',
  traits: { quant: { passThrough: true } },
  infer: (ctx) => [like(ctx, 0, unsqueezeShape(ctx.node, ctx))],
  partialValue: (ctx) => [ctx.inputValue(0)],
  cost: movementCost,
});

// ---- Transpose, Expand, Tile ---------------------------------------------------------------------------------------

registerOp({
  domain: '',
  opType: 'Transpose',
  traits: { quant: { passThrough: true } },
  infer: (ctx) => {
    const x = shapeIn(ctx, 0);
    if (!x) return [like(ctx, 0)];
    const perm = ctx.node.attrInts('perm') ?? x.map((_, i) => x.length - 1 - i);
    return [like(ctx, 0, perm.map((p) => x[p] ?? null))];
  },
  cost: movementCost,
});

registerOp({
  domain: '',
  opType: 'Expand',
  traits: { sizeInflating: true },
  infer: (ctx) => {
    const x = shapeIn(ctx, 0);
    const target = shapeValue(ctx, 1);
    return [like(ctx, 0, x && target ? broadcast([x, target]) : undefined)];
  },
  cost: movementCost,
});

registerOp({
  domain: '',
  opType: 'Tile',
  traits: { sizeInflating: true },
  infer: (ctx) => {
    const x = shapeIn(ctx, 0);
    const reps = ctx.inputValue(1);
    return [like(ctx, 0, x && reps ? x.map((d, i) => (reps[i] === 1 ? d : isNum(d) && isNum(reps[i]) ? d * reps[i] : null)) : undefined)];
  },
  cost: movementCost,
});

// ---- Shape, Size ---------------------------------------------------------------------------------------------------

function shapeRange(node: Node, rank: number): [number, number] {
  const clamp = (a: number) => Math.min(rank, Math.max(0, a < 0 ? a + rank : a));
  return [clamp(node.attrInt('start', 0)), clamp(node.attrInt('end', rank))];
}

registerOp({
  domain: '',
  opType: 'Shape',
  infer: (ctx) => {
    const r = rankIn(ctx, 0);
    if (r === undefined) return [tensorOf(INT64, [null])];
    const [s, e] = shapeRange(ctx.node, r);
    return [tensorOf(INT64, [Math.max(0, e - s)])];
  },
  partialValue: (ctx) => {
    const x = shapeIn(ctx, 0);
    if (!x) return [undefined];
    const [s, e] = shapeRange(ctx.node, x.length);
    return [x.slice(s, e)];
  },
  cost: () => ZERO_COST,
});

registerOp({
  domain: '',
  opType: 'Size',
  infer: () => [tensorOf(INT64, [])],
  partialValue: (ctx) => {
    const x = shapeIn(ctx, 0);
    return [x ? [prodDims(x)] : undefined];
  },
  cost: () => ZERO_COST,
});

// ---- Constant, ConstantOfShape, Range ---------------------------------------------------------------------------

/** The tensor a Constant node holds, or its type and values for the scalar/list attribute forms. */
function constantOf(node: Node): { elem: DataType; shape: number[]; values?: number[] } | undefined {
  const t: Tensor | undefined = node.attrTensor('value');
  if (t) return { elem: t.dtype, shape: [...t.dims] };
  const a = node.attrs.values().next().value?.value;
  switch (a?.type) {
    case 'int':
      return { elem: INT64, shape: [], values: [a.value] };
    case 'ints':
      return { elem: INT64, shape: [a.value.length], values: a.value };
    case 'float':
      return { elem: DataType.FLOAT, shape: [], values: [a.value] };
    case 'floats':
      return { elem: DataType.FLOAT, shape: [a.value.length], values: a.value };
    case 'string':
      return { elem: DataType.STRING, shape: [] };
    case 'strings':
      return { elem: DataType.STRING, shape: [a.value.length] };
    default:
      return undefined;
  }
}

registerOp({
  domain: '',
  opType: 'Constant',
  traits: { neverFold: true },
  infer: (ctx) => {
    const c = constantOf(ctx.node);
    return [c && tensorOf(c.elem, c.shape)];
  },
  // the value of the `value` tensor form is read by the inference walker through Value.constTensor()
  partialValue: (ctx) => [constantOf(ctx.node)?.values],
  cost: () => ZERO_COST,
});

registerOp({
  domain: '',
  opType: 'ConstantOfShape',
  traits: { sizeInflating: true },
  infer: (ctx) => {
    const fill = ctx.node.attrTensor('value');
    return [tensorOf(fill?.dtype ?? DataType.FLOAT, shapeValue(ctx, 0))];
  },
  partialValue: (ctx) => {
    const dims = constInts(ctx, 0);
    const fill = ctx.node.attrTensor('value');
    const n = dims?.reduce((a, b) => a * b, 1);
    if (n === undefined || n > MAX_VALUE_ELEMS) return [undefined];
    const v = fill && fill.dtype !== DataType.STRING ? fill.toNumbers()[0]! : 0;
    return [new Array<Dim>(n).fill(v)];
  },
  cost: movementCost,
});

function rangeLength(start: Dim | undefined, limit: Dim | undefined, delta: Dim | undefined): Dim {
  if (isNum(start) && isNum(limit) && isNum(delta) && delta !== 0) return Math.max(0, Math.ceil((limit - start) / delta));
  if (start === 0 && delta === 1 && typeof limit === 'string') return limit;
  return null;
}

registerOp({
  domain: '',
  opType: 'Range',
  traits: { sizeInflating: true, halfUnsafe: 'start/limit/delta in fp16 change the number of elements produced' },
  infer: (ctx) => {
    const [s, l, d] = [0, 1, 2].map((i) => ctx.inputValue(i)?.[0]);
    return [like(ctx, 0, [rangeLength(s, l, d)])];
  },
  partialValue: (ctx) => {
    const [s, l, d] = [0, 1, 2].map((i) => ctx.inputValue(i)?.[0]);
    const n = rangeLength(s, l, d);
    if (!isNum(n) || n > MAX_VALUE_ELEMS || !isNum(s) || !isNum(d)) return [undefined];
    return [Array.from({ length: n }, (_, i) => s + i * d)];
  },
  cost: movementCost,
});
