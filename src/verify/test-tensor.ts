import { Writer } from '../ir/proto/wire.js';
import type { Tensor } from '../ir/tensor.js';

/** A TensorProto (dims, data_type, name, raw_data) as ONNX test sets store inputs — for tests. */
export function encodeTensorForTest(t: Tensor): Uint8Array {
  const w = new Writer();
  for (const d of t.dims) w.varintField(1, d);
  w.varintField(2, t.dtype);
  w.stringField(8, t.name);
  w.bytesField(9, t.bytes);
  return w.toBytes();
}
