import type { Goals, LatencyStats } from '../search/goals.js';
import type { Candidate, SearchResult, Skipped } from '../search/candidate.js';
import type { OpTypeTime } from './profile/aggregate.js';
import type { DistributedSummary } from '../distributed/coordinator.js';
import type { Environment } from './environment.js';

/** results.json: everything the optimize run measured and decided; the HTML and Markdown reports render it. */
export interface OptimizeResults {
  format: 'inferopt-results';
  version: 1;
  createdAt: string;
  model: { file: string; sha256: string; sizeBytes: number };
  target: string;
  goals: Goals;
  goalsText: string[];
  budget: string;
  /** How the metric was measured (dataset and metric, or fidelity on random inputs). */
  metric: { name: string; source: 'data' | 'fidelity'; note: string };
  baseline: Candidate;
  chosen: Candidate;
  met: boolean;
  candidates: Candidate[];
  pareto: number[];
  skipped: Skipped[];
  stopped: string;
  warnings: string[];
  failures: string[];
  searchWallMs: number;
  /**
   * What every latency figure was timed on: the input shapes (each distinct set, with how many of the input
   * sets timed in turn had it), where the values came from, and the thread counts of the baseline and chosen.
   */
  timing: {
    source: 'data' | 'declared' | 'random';
    shapes: { shapes: string; count: number }[];
    note: string;
    threads: { baseline: number; chosen: number };
    backend: string;
    device?: { name: string; description: string };
    /** The `inferopt bench --compare` command that times baseline and chosen as `sideBySide` was timed. */
    reproduce?: string;
  };
  /** Per-op-type time (ms per run) of the baseline and the chosen model, from ORT's profiler. */
  opTypes?: { baseline: OpTypeTime[]; chosen: OpTypeTime[] };
  /**
   * Baseline vs chosen timed interleaved at the end (each with its own session settings, on the inputs in
   * `timing`): the speed-up with its 95% interval and each side's latency from that one run. The headline,
   * the summary table and this field are the same measurement; `bench --compare` reproduces it.
   */
  sideBySide?: {
    speedup: number;
    low: number;
    high: number;
    runs: number;
    baseline: LatencyStats;
    chosen: LatencyStats;
    /** Other processes' CPU time while it was timed, as a share of the machine (timed in this process, Linux). */
    otherCpu?: { share: number; cores: number };
  };
  environment: Environment;
  /** `optimize --workers`: who measured what, and the hardware class every latency was timed on. */
  distributed?: DistributedSummary;
  /** Files written, relative to the output folder. */
  outputs: Record<string, string>;
}

export function resultsFrom(search: SearchResult): Pick<OptimizeResults, 'baseline' | 'chosen' | 'met' | 'candidates' | 'pareto' | 'skipped' | 'stopped' | 'warnings' | 'failures' | 'searchWallMs'> {
  return {
    baseline: search.baseline,
    chosen: search.chosen,
    met: search.met,
    candidates: search.candidates,
    pareto: search.pareto,
    skipped: search.skipped,
    stopped: search.stopped,
    warnings: search.warnings,
    failures: search.failures,
    searchWallMs: search.wallMs,
  };
}
