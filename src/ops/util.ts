import { DataType, byteSize } from '../ir/dtype.js';
import type { Node } from '../ir/graph.js';
import { isTensorType, type Dim, type TensorType, type ValueType } from '../ir/types.js';
import type { AttrToInput, Cost, InferContext } from './registry.js';

/**
 * The model's shapes contradict an op's rules (MatMul inner dims differ, an axis out of range, shapes that do
 * not broadcast): a fact about the model, reported by inference as a failed node. Any other exception thrown
 * by an op's `infer`, `partialValue` or `cost` is a bug in inferopt and is not swallowed.
 */
export class ShapeError extends Error {}

/** Helpers shared by the op definitions: typed access to inputs, dim arithmetic, broadcasting, cost. */

export type Outputs = (TensorType | ValueType | undefined)[];

export function tensorIn(ctx: InferContext, i: number): TensorType | undefined {
  const t = ctx.inputs[i];
  return isTensorType(t) ? t : undefined;
}

export function shapeIn(ctx: InferContext, i: number): Dim[] | undefined {
  return tensorIn(ctx, i)?.shape;
}

export function elemIn(ctx: InferContext, i: number): DataType | undefined {
  return tensorIn(ctx, i)?.elemType;
}

export function rankIn(ctx: InferContext, i: number): number | undefined {
  return shapeIn(ctx, i)?.length;
}

/** A tensor type; shape undefined means rank unknown. Undefined when the element type is unknown. */
export function tensorOf(elemType: DataType | undefined, shape?: readonly Dim[]): TensorType | undefined {
  if (elemType === undefined) return undefined;
  return shape ? { kind: 'tensor', elemType, shape: [...shape] } : { kind: 'tensor', elemType };
}

/** Same element type as input `i`, with a new shape. */
export function like(ctx: InferContext, i: number, shape?: readonly Dim[]): TensorType | undefined {
  return tensorOf(elemIn(ctx, i), shape);
}

/** Input `i` present (not a missing optional input)? */
export function hasInput(ctx: InferContext, i: number): boolean {
  return !!ctx.node.inputs[i];
}

// ---- dims ----------------------------------------------------------------------------------------------

export const isNum = (d: Dim | undefined): d is number => typeof d === 'number';

export function mulDim(a: Dim, b: Dim): Dim {
  if (isNum(a) && isNum(b)) return a * b;
  if (a === 1) return b;
  if (b === 1) return a;
  return null;
}

export function addDim(a: Dim, b: Dim): Dim {
  if (isNum(a) && isNum(b)) return a + b;
  if (a === 0) return b;
  if (b === 0) return a;
  return null;
}

/** Product of dims: a number, a lone symbol (times ones), or null. */
export function prodDims(ds: readonly Dim[]): Dim {
  let out: Dim = 1;
  for (const d of ds) out = mulDim(out, d);
  return out;
}

/** Normalizes a possibly negative axis; throws when out of range. */
export function normAxis(axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) throw new ShapeError(`axis ${axis} out of range for rank ${rank}`);
  return a;
}

/** Numpy broadcasting of several shapes. Two different symbols give null (unknown). */
export function broadcast(shapes: readonly (readonly Dim[])[]): Dim[] {
  const rank = Math.max(0, ...shapes.map((s) => s.length));
  const out: Dim[] = [];
  for (let k = 0; k < rank; k++) {
    let d: Dim = 1;
    for (const s of shapes) {
      const i = s.length - rank + k;
      const e = i < 0 ? 1 : s[i]!; // null (unknown) must stay null, not become a missing leading 1
      d = broadcastDim(d, e);
    }
    out.push(d);
  }
  return out;
}

function broadcastDim(a: Dim, b: Dim): Dim {
  if (a === 1) return b;
  if (b === 1) return a;
  if (a === b) return a;
  if (isNum(a) && isNum(b)) throw new ShapeError(`cannot broadcast ${a} with ${b}`);
  if (isNum(a)) return a; // a symbol broadcast against a fixed size > 1 must equal it (or be 1)
  if (isNum(b)) return b;
  return null;
}

// ---- attributes and constant inputs --------------------------------------------------------------------

/** Integers of a constant input as numbers (axes, pads, shapes), or undefined when not all known. */
export function constInts(ctx: InferContext, i: number): number[] | undefined {
  if (!hasInput(ctx, i)) return undefined;
  const v = ctx.inputValue(i);
  if (!v || !v.every(isNum)) return undefined;
  return v as number[];
}

/**
 * An int list given as an attribute in old opsets and as an input in new ones (axes, split, pads…): the
 * attribute when present, else the constant input; `missing` when neither is there, `unknown` when the input
 * exists but its value is not known.
 */
export function intsAttrOrInput(node: Node, ctx: InferContext, name: string, input: number): number[] | 'missing' | 'unknown' {
  const a = node.attrInts(name);
  if (a) return a;
  if (!hasInput(ctx, input)) return 'missing';
  return constInts(ctx, input) ?? 'unknown';
}

// ---- cost -----------------------------------------------------------------------------------------------

/** Static element count of a tensor type, or undefined. */
export function numel(t: ValueType | undefined): number | undefined {
  if (!isTensorType(t) || !t.shape) return undefined;
  let n = 1;
  for (const d of t.shape) {
    if (!isNum(d)) return undefined;
    n *= d;
  }
  return n;
}

export function tensorBytes(t: ValueType | undefined): number | undefined {
  const n = numel(t);
  return n === undefined || !isTensorType(t) ? undefined : byteSize(t.elemType, n);
}

/** Bytes of all present inputs and all outputs; undefined when a shape is not static. */
export function ioBytes(ctx: InferContext, outputs: readonly (ValueType | undefined)[]): { read: number; written: number } | undefined {
  let read = 0;
  for (let i = 0; i < ctx.inputs.length; i++) {
    if (!hasInput(ctx, i)) continue;
    const b = tensorBytes(ctx.inputs[i]);
    if (b === undefined) return undefined;
    read += b;
  }
  let written = 0;
  for (let i = 0; i < outputs.length; i++) {
    if (!ctx.node.outputs[i]?.name) continue;
    const b = tensorBytes(outputs[i]);
    if (b === undefined) return undefined;
    written += b;
  }
  return { read, written };
}

/** Cost of an op doing `flopsPerElem` operations per element of output 0 (elementwise and friends). */
export function perElementCost(flopsPerElem: number) {
  return (ctx: InferContext, outputs: readonly (ValueType | undefined)[]): Cost | undefined => {
    const io = ioBytes(ctx, outputs);
    const n = numel(outputs[0]);
    if (!io || n === undefined) return undefined;
    return { macs: 0, flops: flopsPerElem * n, bytesRead: io.read, bytesWritten: io.written };
  };
}

/** Cost of a GEMM-like op with `macs` multiply-accumulates (flops = 2·macs + `extraFlops`). */
export function gemmCost(ctx: InferContext, outputs: readonly (ValueType | undefined)[], macs: number | undefined, extraFlops = 0): Cost | undefined {
  const io = ioBytes(ctx, outputs);
  if (!io || macs === undefined || !Number.isFinite(macs)) return undefined;
  return { macs, flops: 2 * macs + extraFlops, bytesRead: io.read, bytesWritten: io.written };
}

/** Data movement only (Reshape, Transpose, Concat…): no arithmetic, bytes in and out. */
export function movementCost(ctx: InferContext, outputs: readonly (ValueType | undefined)[]): Cost | undefined {
  const io = ioBytes(ctx, outputs);
  return io && { macs: 0, flops: 0, bytesRead: io.read, bytesWritten: io.written };
}

export const ZERO_COST: Cost = { macs: 0, flops: 0, bytesRead: 0, bytesWritten: 0 };

export const BOOL = DataType.BOOL;
export const INT64 = DataType.INT64;

/** An ints attribute that became a 1-D int64 input at some opset (see OpTraits.signatureChanges). */
export const int64Input = (attr: string, input: number): AttrToInput => ({ attr, input, dtype: INT64, shape: 'vector' });
export const FLOAT = DataType.FLOAT;
