// inferopt's library API. Each area adds its exports here (one line each).
export * from './errors.js';
export * from './ir/index.js';
export * from './runtime/index.js';
export * from './util/stats.js';
export * from './ops/index.js';
export * from './inspect/index.js';
export * from './passes/index.js';
export * from './verify/index.js';
export * from './zoo/index.js';
export * from './quantize/index.js';
export * from './data/index.js';
export * from './eval/index.js';
export * from './search/index.js';
export * from './report/index.js';
export * from './train/index.js';
