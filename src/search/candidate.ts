/** What a search measured and decided: its candidates and result (shared by the search, its conclusion and the reports). */
import type { GoalCheck, Measurement } from './goals.js';
import type { Recipe } from './recipe.js';

export type Stage = 'baseline' | 'session' | 'graph' | 'prune' | 'quantize' | 'refine' | 'fallback' | 'qat' | 'retune' | 'webgpu';

export interface Candidate {
  id: number;
  stage: Stage;
  recipe: Recipe;
  label: string;
  measurement?: Measurement;
  error?: string;
  checks?: GoalCheck[];
  meetsAll: boolean;
  /** Within the accuracy bound (the constraint every kept step must respect). */
  accurate: boolean;
  verdict: 'baseline' | 'improved' | 'kept' | 'dropped' | 'failed';
  /** Its apparent gain did not hold when re-measured side by side: never chosen. */
  refuted?: boolean;
  /** Why it was kept or dropped, one line. */
  reason: string;
  /** A quantized candidate slower than the baseline: why, from the kernels ORT ran and its profile (explain.ts). */
  explanation?: string;
  evalMs: number;
}

/** A direction considered and not evaluated, with the reason (profile pruning, target, budget). */
export interface Skipped {
  what: string;
  reason: string;
}

export interface SearchResult {
  baseline: Candidate;
  candidates: Candidate[];
  skipped: Skipped[];
  /** The candidate returned: the best meeting every goal, else the best effort (see `met`). */
  chosen: Candidate;
  met: boolean;
  /** Ids of the candidates within the accuracy bound on the Pareto front (latency, metric drop, size). */
  pareto: number[];
  /** Why the search stopped. */
  stopped: string;
  /** Plain statements the user must see (chosen is the baseline, slower, less accurate…). */
  warnings: string[];
  /** When goals are not met: per failed goal, the closest candidates and what would be needed. */
  failures: string[];
  wallMs: number;
}
