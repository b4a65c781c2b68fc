import { DataType } from '../ir/dtype.js';
import type { Model, Node, Value } from '../ir/graph.js';
import { isStaticShape, isTensorType, type Dim } from '../ir/types.js';
import { opTraits } from '../ops/index.js';

/** Small helpers the passes share: what is known about a value (type, shape, constant contents). */

export function shapeOf(v: Value | null | undefined): Dim[] | undefined {
  return isTensorType(v?.type) ? v!.type.shape : undefined;
}

export function staticShapeOf(v: Value | null | undefined): number[] | undefined {
  const s = shapeOf(v);
  return isStaticShape(s) ? s : undefined;
}

export function rankOf(v: Value | null | undefined): number | undefined {
  const c = v?.constTensor();
  if (c) return c.rank;
  return shapeOf(v)?.length;
}

export function elemTypeOf(v: Value | null | undefined): DataType | undefined {
  const c = v?.constTensor();
  if (c) return c.dtype;
  return isTensorType(v?.type) ? v!.type.elemType : undefined;
}

/** An integer constant's values as numbers. */
export function intConst(v: Value | null | undefined): number[] | undefined {
  const t = v?.constTensor();
  if (!t || (t.dtype !== DataType.INT64 && t.dtype !== DataType.INT32)) return undefined;
  return t.toNumbers();
}

/** A scalar-like constant (one element), as a number. */
export function scalarConst(v: Value | null | undefined): number | undefined {
  const t = v?.constTensor();
  if (!t || t.size !== 1 || t.dtype === DataType.STRING) return undefined;
  return t.toNumbers()[0];
}

/** The opset of the default domain. */
export function opsetOf(model: Model): number {
  return model.opset('') ?? 1;
}

/** True for ops whose result differs from run to run (never folded or merged). */
export function isNondeterministic(n: Node): boolean {
  return opTraits(n.domain, n.opType).nondeterministic === true;
}

/** The axes of a reduce node (attribute before opset 18, input after). */
export function reduceAxes(n: Node): number[] | undefined {
  return n.attrInts('axes') ?? intConst(n.input(1));
}
