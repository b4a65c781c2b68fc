// Numeric verification of a transformed model against its reference (library exports).
export * from './verify.js';
export * from './compare.js';
export { loadTestSets, readTestSet } from './data.js';
