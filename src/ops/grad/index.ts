/**
 * Gradient rules, one small file per op family. Importing this module defines every rule in the op
 * registry (`defineGrad` holds a rule until its op's shape entry registers, so load order does not matter).
 */
import './elementwise.js';
import './reduce.js';
import './shape.js';
import './linear.js';
import './conv.js';
import './pool.js';
import './norm.js';
import './quantize.js';
