import type { KernelEvent } from '../../runtime/profile.js';

/** Time spent in one ORT kernel (node), averaged over the profiled runs. */
export interface NodeTime {
  node: string;
  opType: string;
  /** Mean time per run, ms. */
  ms: number;
  /** Share of the total kernel time, 0..1. */
  share: number;
  /** Kernel invocations over all runs. */
  calls: number;
}

export interface OpTypeTime {
  opType: string;
  ms: number;
  share: number;
  calls: number;
  /** Distinct nodes of this type. */
  nodes: number;
}

export interface ProfileAggregate {
  runs: number;
  /** Mean kernel time per run, ms (excludes executor overhead between kernels). */
  kernelMs: number;
  /** Mean wall time per run from ORT's model_run events, ms (0 when absent). */
  runMs: number;
  byNode: NodeTime[];
  byOpType: OpTypeTime[];
}

/** Sums kernel events per node and per op type; `runs` divides totals into per-run means. */
export function aggregateKernels(kernels: readonly KernelEvent[], runsUs: readonly number[] = []): ProfileAggregate {
  const runs = Math.max(1, runsUs.length || new Set(kernels.map((k) => k.run)).size);
  const nodes = new Map<string, { opType: string; us: number; calls: number }>();
  let totalUs = 0;
  for (const k of kernels) {
    const n = nodes.get(k.node) ?? { opType: k.opType, us: 0, calls: 0 };
    n.us += k.durUs;
    n.calls++;
    nodes.set(k.node, n);
    totalUs += k.durUs;
  }
  const share = (us: number) => (totalUs > 0 ? us / totalUs : 0);
  const byNode: NodeTime[] = [...nodes].map(([node, n]) => ({ node, opType: n.opType, ms: n.us / runs / 1000, share: share(n.us), calls: n.calls }));
  byNode.sort((a, b) => b.ms - a.ms);

  const types = new Map<string, OpTypeTime>();
  for (const n of byNode) {
    const t = types.get(n.opType) ?? { opType: n.opType, ms: 0, share: 0, calls: 0, nodes: 0 };
    t.ms += n.ms;
    t.share += n.share;
    t.calls += n.calls;
    t.nodes++;
    types.set(n.opType, t);
  }
  const byOpType = [...types.values()].sort((a, b) => b.ms - a.ms);
  const runMs = runsUs.length ? runsUs.reduce((s, x) => s + x, 0) / runsUs.length / 1000 : 0;
  return { runs, kernelMs: totalUs / runs / 1000, runMs, byNode, byOpType };
}
