import type { Model } from '../ir/graph.js';
import type { Analysis } from './channels.js';

/** Attention heads as removable groups (filled in by the head analysis). */
export function analyzeHeads(model: Model, a: Analysis): void {
  void model;
  void a;
}
