import type { NodeTime } from './aggregate.js';
import type { FusionReport } from './fusion.js';

/** FLOPs and bytes moved by one graph node (from the op registry's cost model). */
export interface NodeCost {
  flops: number;
  bytes: number;
}

/** This machine's measured ceilings for the backend and thread count profiled. */
export interface Peak {
  /** fp32 GEMM, GFLOP/s. */
  gflops: number;
  /** Streaming memory bandwidth, GB/s. */
  gbps: number;
}

export type Bound = 'compute' | 'memory' | 'unknown';

export interface NodeRoofline extends NodeTime {
  /** Graph nodes this kernel computes (itself, or the nodes ORT fused into it). */
  graphNodes: string[];
  flops?: number;
  bytes?: number;
  /** Achieved GFLOP/s. */
  gflops?: number;
  /** FLOPs per byte. */
  intensity?: number;
  bound: Bound;
  /** Achieved / attainable at this intensity (the roofline), 0..1. */
  efficiency?: number;
  /**
   * Set when the kernel ran faster than the roof allows (achieved / attainable > 1), and then `efficiency`
   * is 1: the roof is a model, not a law. Its memory roof is DRAM bandwidth (a 64 MB read), and a kernel
   * whose data fit in cache beats it; its compute roof is a 512³ fp32 MatMul, and a convolution ORT runs
   * with fewer operations than the direct count (Winograd, NCHWc blocking) beats that.
   */
  aboveRoof?: number;
}

/**
 * Joins kernel times with the cost of the graph nodes behind each kernel (summed over fusions) and places
 * each on the roofline: below the ridge point (peak FLOP/s ÷ bandwidth) a kernel is memory-bound.
 */
export function roofline(byNode: readonly NodeTime[], fusion: FusionReport, costOf: (graphNode: string) => NodeCost | undefined, peak?: Peak): NodeRoofline[] {
  const fusedFrom = new Map(fusion.fused.map((f) => [f.kernel, f.from]));
  const ridge = peak ? peak.gflops / peak.gbps : undefined;
  return byNode.map((n) => {
    const graphNodes = fusedFrom.get(n.node) ?? (fusion.inserted.some((i) => i.kernel === n.node) ? [] : [n.node]);
    const costs = graphNodes.map(costOf);
    if (graphNodes.length === 0 || costs.some((c) => c === undefined)) return { ...n, graphNodes, bound: 'unknown' as const };
    const flops = costs.reduce((s, c) => s + c!.flops, 0);
    const bytes = costs.reduce((s, c) => s + c!.bytes, 0);
    const gflops = n.ms > 0 ? flops / (n.ms * 1e6) : undefined;
    const intensity = bytes > 0 ? flops / bytes : undefined;
    let bound: Bound = 'unknown';
    let efficiency: number | undefined;
    if (ridge !== undefined && intensity !== undefined && peak) {
      bound = intensity < ridge ? 'memory' : 'compute';
      const attainable = Math.min(peak.gflops, intensity * peak.gbps);
      if (gflops !== undefined && attainable > 0) efficiency = gflops / attainable;
    }
    // never more than the roof: a kernel above it is shown at 100% and flagged (see NodeRoofline.aboveRoof)
    if (efficiency !== undefined && efficiency > 1) return { ...n, graphNodes, flops, bytes, gflops, intensity, bound, efficiency: 1, aboveRoof: efficiency };
    return { ...n, graphNodes, flops, bytes, gflops, intensity, bound, efficiency };
  });
}
