/**
 * inferopt in a browser bundle (package.json `exports` condition `browser`): the in-memory part of the
 * library — IR, op registry, inspect, passes and simplify, quantization, verify, bench, the zoo — with
 * sessions on onnxruntime-web. Node-only modules are swapped for browser ones by the `browser` field
 * (ir/io, runtime/ort, util/memory, util/hash, quantize/calib-cache). Names as in ./index.ts.
 */

export * from './core.js';
export { loadModel, modelToBytes, modelFromBytes, type LoadOptions } from './ir/io.js';
