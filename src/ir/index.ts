export * from './dtype.js';
export * from './tensor.js';
export * from './types.js';
export * from './graph.js';
export * from './builder.js';
export * from './io.js';
export * from './float16.js';
export { decodeModel, decodeTensor } from './proto/decode.js';
export { encodeModel } from './proto/encode.js';
