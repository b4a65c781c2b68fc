/** ONNX element types (TensorProto.DataType), with the facts every module needs about each. */
export enum DataType {
  UNDEFINED = 0,
  FLOAT = 1,
  UINT8 = 2,
  INT8 = 3,
  UINT16 = 4,
  INT16 = 5,
  INT32 = 6,
  INT64 = 7,
  STRING = 8,
  BOOL = 9,
  FLOAT16 = 10,
  DOUBLE = 11,
  UINT32 = 12,
  UINT64 = 13,
  COMPLEX64 = 14,
  COMPLEX128 = 15,
  BFLOAT16 = 16,
  FLOAT8E4M3FN = 17,
  FLOAT8E4M3FNUZ = 18,
  FLOAT8E5M2 = 19,
  FLOAT8E5M2FNUZ = 20,
  UINT4 = 21,
  INT4 = 22,
  FLOAT4E2M1 = 23,
  FLOAT8E8M0 = 24,
  UINT2 = 25,
  INT2 = 26,
}

export type TypedArray =
  | Float32Array
  | Float64Array
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array;

type TypedArrayCtor = {
  new (buffer: ArrayBufferLike, byteOffset: number, length: number): TypedArray;
  new (length: number): TypedArray;
  BYTES_PER_ELEMENT: number;
};

export interface DTypeInfo {
  /** ONNX name, lower case as ORT and numpy spell it (float, float16, int8, …). */
  name: string;
  /** Bits per element (4 for int4; 0 for string). */
  bits: number;
  /** Typed array used for views of the raw little-endian bytes, when there is one. */
  array?: TypedArrayCtor;
  isFloat: boolean;
  isInt: boolean;
  signed: boolean;
}

const info = (
  name: string,
  bits: number,
  array: TypedArrayCtor | undefined,
  kind: 'float' | 'int' | 'uint' | 'other',
): DTypeInfo => ({
  name,
  bits,
  array,
  isFloat: kind === 'float',
  isInt: kind === 'int' || kind === 'uint',
  signed: kind === 'int' || kind === 'float',
});

const TABLE: Record<number, DTypeInfo> = {
  [DataType.UNDEFINED]: info('undefined', 0, undefined, 'other'),
  [DataType.FLOAT]: info('float32', 32, Float32Array as TypedArrayCtor, 'float'),
  [DataType.UINT8]: info('uint8', 8, Uint8Array as TypedArrayCtor, 'uint'),
  [DataType.INT8]: info('int8', 8, Int8Array as TypedArrayCtor, 'int'),
  [DataType.UINT16]: info('uint16', 16, Uint16Array as TypedArrayCtor, 'uint'),
  [DataType.INT16]: info('int16', 16, Int16Array as TypedArrayCtor, 'int'),
  [DataType.INT32]: info('int32', 32, Int32Array as TypedArrayCtor, 'int'),
  [DataType.INT64]: info('int64', 64, BigInt64Array as TypedArrayCtor, 'int'),
  [DataType.STRING]: info('string', 0, undefined, 'other'),
  [DataType.BOOL]: info('bool', 8, Uint8Array as TypedArrayCtor, 'other'),
  [DataType.FLOAT16]: info('float16', 16, Uint16Array as TypedArrayCtor, 'float'),
  [DataType.DOUBLE]: info('float64', 64, Float64Array as TypedArrayCtor, 'float'),
  [DataType.UINT32]: info('uint32', 32, Uint32Array as TypedArrayCtor, 'uint'),
  [DataType.UINT64]: info('uint64', 64, BigUint64Array as TypedArrayCtor, 'uint'),
  [DataType.COMPLEX64]: info('complex64', 64, Float32Array as TypedArrayCtor, 'other'),
  [DataType.COMPLEX128]: info('complex128', 128, Float64Array as TypedArrayCtor, 'other'),
  [DataType.BFLOAT16]: info('bfloat16', 16, Uint16Array as TypedArrayCtor, 'float'),
  [DataType.FLOAT8E4M3FN]: info('float8e4m3fn', 8, Uint8Array as TypedArrayCtor, 'float'),
  [DataType.FLOAT8E4M3FNUZ]: info('float8e4m3fnuz', 8, Uint8Array as TypedArrayCtor, 'float'),
  [DataType.FLOAT8E5M2]: info('float8e5m2', 8, Uint8Array as TypedArrayCtor, 'float'),
  [DataType.FLOAT8E5M2FNUZ]: info('float8e5m2fnuz', 8, Uint8Array as TypedArrayCtor, 'float'),
  [DataType.UINT4]: info('uint4', 4, Uint8Array as TypedArrayCtor, 'uint'),
  [DataType.INT4]: info('int4', 4, Uint8Array as TypedArrayCtor, 'int'),
  [DataType.FLOAT4E2M1]: info('float4e2m1', 4, Uint8Array as TypedArrayCtor, 'float'),
  [DataType.FLOAT8E8M0]: info('float8e8m0', 8, Uint8Array as TypedArrayCtor, 'float'),
  [DataType.UINT2]: info('uint2', 2, Uint8Array as TypedArrayCtor, 'uint'),
  [DataType.INT2]: info('int2', 2, Uint8Array as TypedArrayCtor, 'int'),
};

export function dtypeInfo(t: DataType): DTypeInfo {
  const i = TABLE[t];
  if (!i) return info(`dtype${t}`, 0, undefined, 'other');
  return i;
}

export function dtypeName(t: DataType): string {
  return dtypeInfo(t).name;
}

/** Bytes needed to store `count` elements of type `t` (sub-byte types are packed, rounded up). */
export function byteSize(t: DataType, count: number): number {
  const bits = dtypeInfo(t).bits;
  return Math.ceil((bits * count) / 8);
}

/** Maps a name as ORT reports it ('float32', 'int64', 'float16', 'bool', …) back to a DataType. */
export function dtypeFromName(name: string): DataType {
  const n = name === 'float' ? 'float32' : name === 'double' ? 'float64' : name;
  for (const [k, v] of Object.entries(TABLE)) if (v.name === n) return Number(k) as DataType;
  throw new Error(`unknown element type '${name}'`);
}
