import { DataType, dtypeName } from './dtype.js';

/** A dimension: a fixed size, a symbolic name (dim_param), or unknown (null). */
export type Dim = number | string | null;

export type ValueType =
  | { kind: 'tensor'; elemType: DataType; shape?: Dim[]; denotation?: string }
  | { kind: 'sparse_tensor'; elemType: DataType; shape?: Dim[]; denotation?: string }
  | { kind: 'sequence'; elem?: ValueType; denotation?: string }
  | { kind: 'optional'; elem?: ValueType; denotation?: string }
  | { kind: 'map'; keyType: DataType; value?: ValueType; denotation?: string }
  /** A TypeProto we do not model (opaque types, future kinds): its bytes, re-emitted as they were. */
  | { kind: 'raw'; bytes: Uint8Array };

export type TensorType = Extract<ValueType, { kind: 'tensor' }>;

export function tensorType(elemType: DataType, shape?: Dim[]): TensorType {
  return shape ? { kind: 'tensor', elemType, shape: [...shape] } : { kind: 'tensor', elemType };
}

export function isTensorType(t: ValueType | undefined): t is TensorType {
  return t?.kind === 'tensor';
}

/** True when every dimension is a known number. */
export function isStaticShape(shape: readonly Dim[] | undefined): shape is number[] {
  return !!shape && shape.every((d) => typeof d === 'number');
}

export function formatDim(d: Dim): string {
  return d === null ? '?' : String(d);
}

export function formatShape(shape: readonly Dim[] | undefined): string {
  return shape ? `[${shape.map(formatDim).join(',')}]` : '[?]';
}

export function formatType(t: ValueType | undefined): string {
  if (!t) return '?';
  switch (t.kind) {
    case 'tensor':
      return `${dtypeName(t.elemType)}${formatShape(t.shape)}`;
    case 'sparse_tensor':
      return `sparse ${dtypeName(t.elemType)}${formatShape(t.shape)}`;
    case 'sequence':
      return `seq(${formatType(t.elem)})`;
    case 'optional':
      return `optional(${formatType(t.elem)})`;
    case 'map':
      return `map(${dtypeName(t.keyType)},${formatType(t.value)})`;
    case 'raw':
      return 'opaque';
  }
}

export function numElements(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}
