/**
 * Models to and from bytes, with no file system: what the browser entry and loadModel share. External data
 * comes from memory here (by location, as from a fetch or a zip); ./io.ts adds paths and files.
 */
import { InputError } from '../errors.js';
import { assertValidModel } from './check.js';
import type { Model } from './graph.js';
import { decodeModel, type ExternalRef } from './proto/decode.js';
import { encodeModel } from './proto/encode.js';
import { ProtoError, concatChunks } from './proto/wire.js';

/** Protobuf messages cannot exceed 2 GiB; models past this size are saved with external data. */
export const PROTOBUF_LIMIT = 2 ** 31 - 1;

/** Decodes `bytes`; `externalData(ref, tensor)` supplies external tensor data. Bad bytes: InputError naming `label`. */
export function decodeModelBytes(bytes: Uint8Array, label: string, externalData: (ref: ExternalRef, tensorName: string) => Uint8Array): Model {
  try {
    return decodeModel(bytes, { externalData });
  } catch (e) {
    if (e instanceof InputError) throw e;
    if (e instanceof ProtoError || e instanceof RangeError) {
      throw new InputError(`${label}: not a valid ONNX file (${(e as Error).message})`);
    }
    const msg = (e as Error).message;
    throw new InputError(`${label}: ${msg.startsWith('not an ONNX') ? msg : `not a valid ONNX file (${msg})`}`);
  }
}

/** The byte range of one external tensor inside the data it refers to, checked. */
export function externalSlice(label: string, data: Uint8Array, ref: ExternalRef, tensorName: string): Uint8Array {
  const end = ref.offset + (ref.length ?? 0);
  if (end > data.length) {
    throw new InputError(`${label}: external data '${ref.location}' is ${data.length} bytes; tensor '${tensorName}' needs bytes ${ref.offset}..${end}`);
  }
  return data.subarray(ref.offset, end);
}

/**
 * A model from ONNX bytes; external data, if the model has any, from `externalData` by location. The graph
 * is checked as `loadModel` checks it (`check: false` to skip).
 */
export function modelFromBytes(bytes: Uint8Array, externalData?: Map<string, Uint8Array>, opts: { check?: boolean } = {}): Model {
  const model = decodeModelBytes(bytes, '<bytes>', (ref, tensorName) => {
    const data = externalData?.get(ref.location);
    if (!data) throw new InputError(`<bytes>: tensor '${tensorName}' has external data '${ref.location}'; pass it in externalData`);
    return externalSlice('<bytes>', data, ref, tensorName);
  });
  if (opts.check !== false) assertValidModel(model, '<bytes>');
  return model;
}

/** Serializes a model to bytes (inline tensors only). */
export function modelToBytes(model: Model): Uint8Array {
  const chunks = encodeModel(model);
  const total = chunks.reduce((s, c) => s + c.length, 0);
  if (total > PROTOBUF_LIMIT) throw new Error(`model is ${total} bytes, over the 2 GiB protobuf limit; save it to a path with external data`);
  return concatChunks(chunks);
}
