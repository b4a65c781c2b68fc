import type { Graph } from '../../ir/graph.js';
import type { OrtProfile } from '../../runtime/profile.js';
import { pct, textTable } from '../text-table.js';
import { aggregateKernels, type OpTypeTime, type ProfileAggregate } from './aggregate.js';
import { analyzeFusions, type FusionReport } from './fusion.js';
import { roofline, type NodeCost, type NodeRoofline, type Peak } from './roofline.js';

export interface OpTypeRoofline extends OpTypeTime {
  flops?: number;
  bytes?: number;
  gflops?: number;
  /** Share of this op type's time spent in memory-bound kernels, 0..1. */
  memoryBoundShare?: number;
}

/** Everything `inferopt profile` says about a model, and what reports and the search read. */
export interface ProfileAnalysis {
  runs: number;
  kernelMs: number;
  runMs: number;
  peak?: Peak;
  nodes: NodeRoofline[];
  opTypes: OpTypeRoofline[];
  fusion: FusionReport;
  /** Graph nodes and kernels. */
  counts: { graphNodes: number; kernels: number };
}

export function analyzeProfile(graph: Graph, profile: OrtProfile, costOf?: (graphNode: string) => NodeCost | undefined, peak?: Peak): ProfileAnalysis {
  const agg: ProfileAggregate = aggregateKernels(profile.kernels, profile.runsUs);
  const fusion = analyzeFusions(graph, profile.kernels);
  const nodes = roofline(agg.byNode, fusion, costOf ?? (() => undefined), peak);
  const opTypes: OpTypeRoofline[] = agg.byOpType.map((t) => {
    const ns = nodes.filter((n) => n.opType === t.opType);
    const known = ns.every((n) => n.flops !== undefined);
    if (!known) return t;
    const flops = ns.reduce((s, n) => s + n.flops!, 0);
    const bytes = ns.reduce((s, n) => s + n.bytes!, 0);
    const memMs = ns.filter((n) => n.bound === 'memory').reduce((s, n) => s + n.ms, 0);
    return { ...t, flops, bytes, gflops: t.ms > 0 ? flops / (t.ms * 1e6) : undefined, memoryBoundShare: t.ms > 0 ? memMs / t.ms : undefined };
  });
  return {
    runs: agg.runs,
    kernelMs: agg.kernelMs,
    runMs: agg.runMs,
    ...(peak ? { peak } : {}),
    nodes,
    opTypes,
    fusion,
    counts: { graphNodes: graph.nodes.length, kernels: agg.byNode.length },
  };
}

/** Op types that take at least `minShare` of the time, most expensive first. */
export function dominantOpTypes(a: ProfileAnalysis, minShare = 0.05): OpTypeRoofline[] {
  return a.opTypes.filter((t) => t.share >= minShare);
}

/** The terminal view: op-type table, top hotspots, what ORT fused. */
export function formatProfile(a: ProfileAnalysis, top = 15): string {
  const out: string[] = [];
  const per = a.runMs ? `${a.runMs.toFixed(3)} ms per run (${a.kernelMs.toFixed(3)} ms in kernels)` : `${a.kernelMs.toFixed(3)} ms in kernels per run`;
  out.push(`${a.runs} profiled runs, ${per}; ${a.counts.graphNodes} graph nodes ran as ${a.counts.kernels} kernels`);
  if (a.peak) out.push(`machine peak: ${a.peak.gflops.toFixed(1)} GFLOP/s fp32 GEMM, ${a.peak.gbps.toFixed(1)} GB/s memory (ridge ${(a.peak.gflops / a.peak.gbps).toFixed(1)} FLOP/byte)`);
  out.push('', 'By op type:');
  out.push(
    textTable(
      ['op type', 'ms/run', 'share', 'nodes', 'GFLOP/s', 'memory-bound'],
      a.opTypes.map((t) => [t.opType, t.ms.toFixed(3), pct(t.share), t.nodes, t.gflops !== undefined ? t.gflops.toFixed(1) : '-', t.memoryBoundShare !== undefined ? pct(t.memoryBoundShare, 0) : '-']),
    ),
  );
  out.push('', `Top ${Math.min(top, a.nodes.length)} hotspots:`);
  out.push(
    textTable(
      ['kernel', 'op', 'ms/run', 'share', 'GFLOP/s', 'FLOP/B', 'bound', 'of roof'],
      a.nodes.slice(0, top).map((n) => [
        n.node.length > 48 ? n.node.slice(0, 45) + '...' : n.node,
        n.opType,
        n.ms.toFixed(3),
        pct(n.share),
        n.gflops !== undefined ? n.gflops.toFixed(1) : '-',
        n.intensity !== undefined ? n.intensity.toFixed(1) : '-',
        n.bound === 'unknown' ? '-' : n.bound,
        n.efficiency !== undefined ? `${pct(n.efficiency, 0)}${n.aboveRoof !== undefined ? '*' : ''}` : '-',
      ]),
    ),
  );
  const above = a.nodes.slice(0, top).filter((n) => n.aboveRoof !== undefined);
  if (above.length) {
    out.push(
      `* ran above the measured roof (up to ${Math.max(...above.map((n) => n.aboveRoof!)).toFixed(2)}× it), shown as 100%: the memory roof is DRAM bandwidth and data that fit in cache beat it; the compute roof is an fp32 MatMul and convolutions ORT runs with fewer operations than counted (Winograd, blocked NCHWc) beat it`,
    );
  }
  const f = a.fusion;
  out.push('', `ORT: ${f.kept} nodes ran as is, ${f.fused.length} fused kernels, ${f.inserted.length} inserted, ${f.removed.length} graph nodes removed`);
  for (const x of f.fused.slice(0, 10)) out.push(`  fused ${x.opType} '${x.kernel}' <- ${x.from.join(' + ')}`);
  if (f.fused.length > 10) out.push(`  ... ${f.fused.length - 10} more fusions`);
  if (f.inserted.length) out.push(`  inserted: ${summarize(f.inserted.map((i) => i.opType))}`);
  if (f.removed.length) out.push(`  removed (folded or eliminated): ${summarize(f.removed.map((n) => n.opType))}`);
  return out.join('\n');
}

function summarize(types: string[]): string {
  const counts = new Map<string, number>();
  for (const t of types) counts.set(t, (counts.get(t) ?? 0) + 1);
  return [...counts].map(([t, n]) => `${n}× ${t}`).join(', ');
}
