/**
 * Pruning rules, one small file per op family. Importing this module defines every rule in the op registry
 * (`definePrune`); ops without a rule make the channels they read unremovable, with the op named as the reason.
 */
import './elementwise.js';
import './norm.js';
import './linear.js';
import './shape.js';
