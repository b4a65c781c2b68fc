import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../ir/builder.js';
import { DataType } from '../../ir/dtype.js';
import { Tensor } from '../../ir/tensor.js';
import { Session } from '../../runtime/session.js';
import { buildBackward } from '../../train/backward.js';
import { GraphEmitter } from '../../train/emitter.js';
import { probeShapes } from '../../train/shapes.js';
import { applyTrainingForms } from '../../train/training-graph.js';

/**
 * Dropout's training form drops at random, so finite differences cannot check it; instead, within one run,
 * the gradient must be r/(1−p) exactly where the output kept its input and 0 where it was dropped.
 */
describe('Dropout training form', () => {
  it('drops about p of the units and routes the gradient through the kept ones, scaled by 1/(1−p)', async () => {
    const n = 4000;
    const p = 0.25;
    const b = new GraphBuilder();
    const x = b.input('x', DataType.FLOAT, [n]);
    const y = b.op('Dropout', [x, b.scalar('ratio', p)]);
    const r = Float32Array.from({ length: n }, (_, i) => 1 + (i % 7));
    const loss = b.op('ReduceSum', [b.op('Mul', [y, b.floats('r', [n], r)])], { keepdims: 0 });
    b.output(loss, 'loss');
    const model = b.model({ opset: 17 });
    const feeds = { x: Tensor.float([n], Float32Array.from({ length: n }, (_, i) => 0.5 + (i % 3))) };
    const em = new GraphEmitter(model.graph, await probeShapes(model, feeds));
    applyTrainingForms(model.graph, em);
    for (const [v, f] of await probeShapes(model, feeds)) em.facts.set(v, f);
    const dropped = model.graph.nodes.find((nd) => nd.opType === 'Dropout')!.outputs[0]!;
    const grads = buildBackward(model.graph, em, model.graph.outputs[0]!, [x]);
    model.graph.outputs.push(dropped, grads.get(x)!);
    model.graph.topologicalSort();
    const out = await (await Session.create(model, { threads: 1 })).run(feeds);
    const yv = out[dropped.name]!.toFloat32();
    const dx = out[grads.get(x)!.name]!.toFloat32();
    let kept = 0;
    for (let i = 0; i < n; i++) {
      if (yv[i] !== 0) {
        kept++;
        expect(dx[i]).toBeCloseTo(r[i]! / (1 - p), 4);
        expect(yv[i]).toBeCloseTo(feeds.x.toFloat32()[i]! / (1 - p), 4);
      } else expect(dx[i]).toBe(0);
    }
    expect(kept / n).toBeGreaterThan(0.7);
    expect(kept / n).toBeLessThan(0.8);
  });
});
