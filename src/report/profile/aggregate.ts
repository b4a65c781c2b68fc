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

/**
 * Sums kernel events per node and per op type into per-run times: the mean over runs, or the median (robust
 * to a run that lost the CPU to another process, which shared machines do often).
 */
export function aggregateKernels(kernels: readonly KernelEvent[], runsUs: readonly number[] = [], statistic: 'mean' | 'median' = 'mean'): ProfileAggregate {
  const runs = Math.max(1, runsUs.length || new Set(kernels.map((k) => k.run)).size);
  const nodes = new Map<string, { opType: string; us: number; calls: number; perRun: number[] }>();
  for (const k of kernels) {
    const n = nodes.get(k.node) ?? { opType: k.opType, us: 0, calls: 0, perRun: new Array<number>(runs).fill(0) };
    n.us += k.durUs;
    n.calls++;
    if (k.run < runs) n.perRun[k.run]! += k.durUs;
    nodes.set(k.node, n);
  }
  if (statistic === 'median') for (const n of nodes.values()) n.us = median(n.perRun) * runs;
  let totalUs = 0;
  for (const n of nodes.values()) totalUs += n.us;
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

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
