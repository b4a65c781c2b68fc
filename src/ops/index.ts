// The op registry with every op definition registered (importing this module registers them).
import './elementwise.js';
import './conv.js';
import './matmul.js';
import './shape-ops.js';
import './slice-ops.js';
import './reduce.js';
import './norm.js';
import './quantized.js';
import './contrib.js';
import './misc.js';

export * from './registry.js';
export * from './infer.js';
export * from './cost.js';
export * from './signature.js';
