import * as fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DataType, GraphBuilder } from '../../ir/index.js';
import { parseOrtProfile } from '../../runtime/profile.js';
import { analyzeProfile, formatProfile } from './analyze.js';

/** The model the fixture was recorded from (ORT 1.30 node, level "all", 2 threads, 3 runs, no warm-up). */
function fixtureGraph() {
  const b = new GraphBuilder();
  const x = b.input('x', DataType.FLOAT, [1, 3, 32, 32]);
  const w = b.floats('w', [8, 3, 3, 3], new Array(216).fill(0.1));
  const c = b.op('Conv', [x, w], { pads: [1, 1, 1, 1] });
  const s = b.floats('s', [8], new Array(8).fill(1));
  const bb = b.floats('bb', [8], new Array(8).fill(0.1));
  const r = b.op('Relu', [b.op('BatchNormalization', [c, s, bb, bb, s])]);
  const y = b.op('MatMul', [b.op('Flatten', [r]), b.floats('m', [8192, 10], new Array(81920).fill(0.01))]);
  b.output(b.op('Softmax', [y]), 'y');
  return b.model({ opset: 17 }).graph;
}

const recorded = () => parseOrtProfile(JSON.parse(fs.readFileSync(new URL('./fixtures/conv-bn-relu-matmul.ort-profile.json', import.meta.url), 'utf8')));

describe('profile analysis of a recorded ONNX Runtime profile', () => {
  it('parses kernel events and splits them into runs', () => {
    const p = recorded();
    expect(p.runsUs).toEqual([4502, 3702, 105]);
    expect(p.kernels).toHaveLength(15);
    expect(p.kernels.filter((k) => k.run === 1).map((k) => k.node)).toEqual(['Relu_1_out_nchwc', 'ReorderOutput', 'Flatten_1', 'MatMul_1', 'Softmax_1']);
    expect(p.kernels[0]).toMatchObject({ opType: 'Conv', durUs: 801, provider: 'CPUExecutionProvider' });
  });

  it('aggregates per node and per op type, and sees what ORT fused', () => {
    const a = analyzeProfile(fixtureGraph(), recorded());
    expect(a.runs).toBe(3);
    const total = (801 + 160 + 24 + 76 + 46 + 3531 + 14 + 8 + 60 + 14 + 22 + 8 + 5 + 20 + 7) / 3 / 1000;
    expect(a.kernelMs).toBeCloseTo(total, 9);
    expect(a.runMs).toBeCloseTo((4502 + 3702 + 105) / 3 / 1000, 9);
    const conv = a.nodes[0]!;
    expect(conv).toMatchObject({ node: 'Relu_1_out_nchwc', opType: 'Conv', calls: 3 });
    expect(conv.ms).toBeCloseTo((801 + 3531 + 22) / 3 / 1000, 9);
    expect(conv.share).toBeCloseTo((801 + 3531 + 22) / 3 / 1000 / total, 9);
    expect(a.opTypes.map((t) => t.opType)).toEqual(['Conv', 'ReorderOutput', 'MatMul', 'Softmax', 'Flatten']);
    expect(a.opTypes.reduce((s, t) => s + t.share, 0)).toBeCloseTo(1, 9);
    expect(a.fusion.kept).toBe(3);
    expect(a.fusion.fused).toEqual([{ kernel: 'Relu_1_out_nchwc', opType: 'Conv', from: ['Relu_1', 'BatchNormalization_1', 'Conv_1'] }]);
    expect(a.fusion.inserted).toEqual([{ kernel: 'ReorderOutput', opType: 'ReorderOutput' }]);
    expect(a.fusion.removed).toEqual([]);
  });

  it('joins kernels with the cost model and places them on the roofline', () => {
    const matmulFlops = 2 * 8192 * 10;
    const matmulBytes = (8192 + 8192 * 10 + 10) * 4;
    const convFlops = 2 * 8 * 27 * 1024;
    const costs: Record<string, { flops: number; bytes: number }> = {
      MatMul_1: { flops: matmulFlops, bytes: matmulBytes },
      Conv_1: { flops: convFlops, bytes: 1000 },
      BatchNormalization_1: { flops: 8192 * 2, bytes: 65536 },
      Relu_1: { flops: 8192, bytes: 65536 },
    };
    const a = analyzeProfile(fixtureGraph(), recorded(), (n) => costs[n], { gflops: 100, gbps: 10 });
    const mm = a.nodes.find((n) => n.node === 'MatMul_1')!;
    expect(mm.flops).toBe(matmulFlops);
    expect(mm.gflops).toBeCloseTo(matmulFlops / (((76 + 60 + 20) / 3 / 1000) * 1e6), 9);
    expect(mm.intensity).toBeCloseTo(matmulFlops / matmulBytes, 9);
    expect(mm.bound).toBe('memory'); // 0.5 FLOP/B, ridge at 10
    expect(mm.efficiency).toBeCloseTo(mm.gflops! / (mm.intensity! * 10), 9);
    const conv = a.nodes[0]!;
    expect(conv.graphNodes).toEqual(['Relu_1', 'BatchNormalization_1', 'Conv_1']);
    expect(conv.flops).toBe(convFlops + 8192 * 3);
    expect(a.nodes.find((n) => n.node === 'Flatten_1')!.bound).toBe('unknown');
    const text = formatProfile(a);
    expect(text).toMatch(/fused Conv 'Relu_1_out_nchwc' <- Relu_1 \+ BatchNormalization_1 \+ Conv_1/);
    expect(text).toMatch(/MatMul_1\s+MatMul\s+0\.052\s+/);
  });

  it('never shows a kernel above 100% of the roof: capped, flagged and explained (a Conv read 224–315% on a real profile)', () => {
    const costs: Record<string, { flops: number; bytes: number }> = {
      MatMul_1: { flops: 2 * 8192 * 10, bytes: (8192 + 8192 * 10 + 10) * 4 },
      Conv_1: { flops: 2 * 8 * 27 * 1024, bytes: 1000 },
      BatchNormalization_1: { flops: 8192 * 2, bytes: 65536 },
      Relu_1: { flops: 8192, bytes: 65536 },
    };
    // a low measured peak (a busy machine, or cache-resident data beating DRAM): the kernels beat the roof
    const a = analyzeProfile(fixtureGraph(), recorded(), (n) => costs[n], { gflops: 0.05, gbps: 0.05 });
    const placed = a.nodes.filter((n) => n.efficiency !== undefined);
    expect(placed.length).toBeGreaterThan(0);
    for (const n of placed) expect(n.efficiency).toBeLessThanOrEqual(1);
    const over = placed.filter((n) => n.aboveRoof !== undefined);
    expect(over.length).toBeGreaterThan(0);
    for (const n of over) {
      expect(n.efficiency).toBe(1);
      expect(n.aboveRoof).toBeCloseTo(n.gflops! / Math.min(0.05, n.intensity! * 0.05), 9);
    }
    const text = formatProfile(a);
    expect(text).not.toMatch(/\b(10[1-9]|1[1-9][0-9]|[2-9][0-9]{2}|[0-9]{4,})(\.[0-9]+)?%/); // no percentage over 100 anywhere
    expect(text).toMatch(/100%\*/);
    expect(text).toMatch(/\* ran above the measured roof \(up to [\d.]+× it\), shown as 100%: the memory roof is DRAM bandwidth/);
  });
});
