import { inferShapes } from '../ops/index.js';
import type { Pass, PassResult } from './pass.js';

/**
 * Writes inferred types onto every value (the op registry's shape inference), so that rules that depend on
 * ranks and shapes can check them. Never counts as a change: it only adds knowledge.
 */
export const inferShapesPass: Pass = {
  id: 'infer-shapes',
  doc: 'annotate values with inferred types and shapes (for shape-dependent rules)',
  params: {},
  run(model): PassResult {
    const report = inferShapes(model);
    return { model, modified: false, stats: { unknownOps: report.unknownOps.length } };
  },
};
