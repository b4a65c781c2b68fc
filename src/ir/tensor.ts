import { DataType, byteSize, dtypeInfo, dtypeName, type TypedArray } from './dtype.js';
import { float16ToFloat32, float32ToFloat16 } from './float16.js';

/**
 * A constant tensor. Storage is the ONNX raw little-endian byte layout (`bytes`), usually a view into the
 * loaded file, so large weights are never copied on load; string tensors keep their elements in `strings`.
 * Typed views are made on demand (`view()` copies only when the bytes are misaligned).
 */
export class Tensor {
  name: string;
  docString = '';
  /** Fields of TensorProto we do not model (segment, metadata_props, …), kept for a lossless save. */
  unknown: Uint8Array[] = [];

  constructor(
    public dtype: DataType,
    public dims: number[],
    public bytes: Uint8Array,
    name = '',
    public strings?: Uint8Array[],
  ) {
    this.name = name;
    const want = byteSize(dtype, this.size);
    if (dtype !== DataType.STRING && bytes.length !== want) {
      throw new Error(
        `tensor '${name}': ${dtypeName(dtype)}[${dims.join(',')}] needs ${want} bytes, got ${bytes.length}`,
      );
    }
  }

  get size(): number {
    let n = 1;
    for (const d of this.dims) n *= d;
    return n;
  }

  get rank(): number {
    return this.dims.length;
  }

  get byteLength(): number {
    return this.strings ? this.strings.reduce((s, b) => s + b.length, 0) : this.bytes.length;
  }

  /**
   * A typed array over the data in the dtype's storage type (float16 as Uint16Array bits, int64 as
   * BigInt64Array, int4 as packed Uint8Array). A view when aligned, else a copy.
   */
  view(): TypedArray {
    const ctor = dtypeInfo(this.dtype).array;
    if (!ctor) throw new Error(`tensor '${this.name}': no typed view for ${dtypeName(this.dtype)}`);
    const b = this.bytes;
    const len = b.length / ctor.BYTES_PER_ELEMENT;
    if (b.byteOffset % ctor.BYTES_PER_ELEMENT === 0) return new ctor(b.buffer, b.byteOffset, len);
    const copy = new Uint8Array(b);
    return new ctor(copy.buffer, 0, len);
  }

  /** Values as numbers (float32), converting float16/bfloat16/int types; int4/uint4 are unpacked. */
  toFloat32(): Float32Array {
    switch (this.dtype) {
      case DataType.FLOAT:
        return this.view() as Float32Array;
      case DataType.FLOAT16:
        return float16ToFloat32(this.view() as Uint16Array);
      case DataType.BFLOAT16: {
        const src = this.view() as Uint16Array;
        const out = new Float32Array(src.length);
        const u = new Uint32Array(out.buffer);
        for (let i = 0; i < src.length; i++) u[i] = src[i]! << 16;
        return out;
      }
      case DataType.INT4:
      case DataType.UINT4: {
        const out = new Float32Array(this.size);
        const signed = this.dtype === DataType.INT4;
        for (let i = 0; i < out.length; i++) {
          const byte = this.bytes[i >> 1]!;
          let v = i & 1 ? byte >> 4 : byte & 15;
          if (signed && v >= 8) v -= 16;
          out[i] = v;
        }
        return out;
      }
      default: {
        const v = this.view();
        const out = new Float32Array(v.length);
        for (let i = 0; i < v.length; i++) out[i] = Number(v[i]);
        return out;
      }
    }
  }

  /** Values as plain numbers (int64 converted; exact below 2^53). */
  toNumbers(): number[] {
    if (this.dtype === DataType.INT64 || this.dtype === DataType.UINT64) {
      return Array.from(this.view() as BigInt64Array, (x) => Number(x));
    }
    return Array.from(this.toFloat32());
  }

  clone(name = this.name): Tensor {
    const t = new Tensor(this.dtype, [...this.dims], new Uint8Array(this.bytes), name, this.strings?.map((s) => new Uint8Array(s)));
    t.docString = this.docString;
    return t;
  }

  static fromArray(dtype: DataType, dims: number[], data: ArrayLike<number> | ArrayLike<bigint>, name = ''): Tensor {
    const ctor = dtypeInfo(dtype).array;
    if (!ctor) throw new Error(`cannot build a ${dtypeName(dtype)} tensor from an array`);
    let arr: TypedArray;
    if (dtype === DataType.FLOAT16) {
      arr = float32ToFloat16(Float32Array.from(data as ArrayLike<number>));
    } else if (dtype === DataType.INT64 || dtype === DataType.UINT64) {
      arr = new ctor(data.length);
      for (let i = 0; i < data.length; i++) (arr as BigInt64Array)[i] = BigInt(data[i] as number | bigint);
    } else if (dtype === DataType.INT4 || dtype === DataType.UINT4) {
      const packed = new Uint8Array(Math.ceil(data.length / 2));
      for (let i = 0; i < data.length; i++) packed[i >> 1]! |= ((data[i] as number) & 15) << (i & 1 ? 4 : 0);
      return new Tensor(dtype, dims, packed, name);
    } else {
      arr = new ctor(data.length);
      (arr as Float32Array).set(data as ArrayLike<number>);
    }
    return new Tensor(dtype, dims, new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength), name);
  }

  static float(dims: number[], data: ArrayLike<number>, name = ''): Tensor {
    return Tensor.fromArray(DataType.FLOAT, dims, data, name);
  }

  static int64(dims: number[], data: ArrayLike<number>, name = ''): Tensor {
    return Tensor.fromArray(DataType.INT64, dims, data, name);
  }

  static scalar(dtype: DataType, value: number, name = ''): Tensor {
    return Tensor.fromArray(dtype, [], [value], name);
  }
}
