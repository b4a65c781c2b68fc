import { describe, expect, it } from 'vitest';
import { DataType } from '../ir/dtype.js';
import { GraphBuilder } from '../ir/builder.js';
import { Graph, Value } from '../ir/graph.js';
import { Tensor } from '../ir/tensor.js';
import type { ValueType } from '../ir/types.js';
import { randomInputs } from '../runtime/inputs.js';
import { analyzeShapes, inferShapes } from './index.js';
import { compareWithOrt } from './ort-shapes.js';

const F = DataType.FLOAT;
const shapeOf = (t: ValueType | undefined) => (t?.kind === 'tensor' ? t.shape : undefined);

/**
 * The attention reshape of a PyTorch-exported BERT: the target shape is computed from Shape(x) through
 * Gather → Unsqueeze → Concat, then the heads are folded back with a second Concat.
 */
function bertReshapeChain() {
  const b = new GraphBuilder();
  const x = b.input('x', F, ['batch', 'seq', 768]);
  const shape = b.op('Shape', [x]);
  const batch = b.op('Gather', [shape, b.ints('i0', [0], [])], { axis: 0 });
  const seq = b.op('Gather', [shape, b.ints('i1', [1], [])], { axis: 0 });
  const unsq = (v: Value) => b.op('Unsqueeze', [v, b.ints('ax', [0])]);
  const heads = b.op('Concat', [unsq(batch), unsq(seq), b.ints('h', [12]), b.ints('d', [64])], { axis: 0 });
  const split = b.op('Reshape', [x, heads]);
  const t = b.op('Transpose', [split], { perm: [0, 2, 1, 3] });
  const back = b.op('Transpose', [t], { perm: [0, 2, 1, 3] });
  // folded back with arithmetic on the dims: 12 * 64 computed in the graph
  const hidden = b.op('Mul', [b.ints('h2', [12]), b.ints('d2', [64])]);
  const merged = b.op('Reshape', [back, b.op('Concat', [unsq(batch), unsq(seq), hidden], { axis: 0 })]);
  b.output(split, 'split');
  b.output(merged, 'merged');
  return b.model({ opset: 17 });
}

describe('symbolic shapes', () => {
  it('carries symbolic dims through a Shape → Gather → Concat → Reshape chain', () => {
    const m = bertReshapeChain();
    expect(inferShapes(m)).toEqual({ unknownOps: [], failed: [] });
    expect(shapeOf(m.graph.outputs[0]!.type)).toEqual(['batch', 'seq', 12, 64]);
    expect(shapeOf(m.graph.outputs[1]!.type)).toEqual(['batch', 'seq', 768]);
  });

  it('gives concrete shapes with dims, equal to what ORT computes', async () => {
    const m = bertReshapeChain();
    const a = analyzeShapes(m, { dims: { batch: 2, seq: 7 } });
    expect(shapeOf(a.typeOf(m.graph.outputs[0]!))).toEqual([2, 7, 12, 64]);
    const { checked, mismatches } = await compareWithOrt(m, a, randomInputs(m, { dims: { batch: 2, seq: 7 } }));
    expect(checked).toBeGreaterThan(10);
    expect(mismatches).toEqual([]);
  });

  it('keeps Reshape [0, -1] symbolic and gives null where a product of symbols is needed', () => {
    const b = new GraphBuilder();
    const x = b.input('x', F, ['N', 768]);
    const y = b.input('y', F, ['b', 's', 768]);
    b.output(b.op('Reshape', [x, b.ints('t', [0, -1])]));
    b.output(b.op('Reshape', [y, b.ints('t2', [-1, 768])]));
    b.output(b.op('Reshape', [y, b.ints('t3', [0, -1, 64])]));
    const m = b.model();
    inferShapes(m);
    expect(m.graph.outputs.map((o) => shapeOf(o.type))).toEqual([
      ['N', 768],
      [null, 768],
      ['b', null, 64],
    ]);
  });

  it('keeps a symbolic spatial dim only where a window leaves it unchanged', () => {
    const b = new GraphBuilder();
    const x = b.input('x', F, ['N', 3, 'H', 'W']);
    const one = b.op('Conv', [x, b.init('w1', Tensor.float([8, 3, 1, 1], new Array(24).fill(0)))]);
    const same = b.op('Conv', [one, b.init('w3', Tensor.float([8, 8, 3, 3], new Array(576).fill(0)))], { auto_pad: 'SAME_UPPER' });
    const down = b.op('Conv', [same, b.init('w4', Tensor.float([8, 8, 3, 3], new Array(576).fill(0)))], { strides: [2, 2], pads: [1, 1, 1, 1] });
    for (const v of [one, same, down]) b.output(v);
    const m = b.model();
    inferShapes(m);
    expect(m.graph.outputs.map((o) => shapeOf(o.type))).toEqual([
      ['N', 8, 'H', 'W'],
      ['N', 8, 'H', 'W'],
      ['N', 8, null, null],
    ]);
  });

  it('resolves Expand through the Equal/Where/ConstantOfShape pattern of exported models', () => {
    const b = new GraphBuilder();
    const x = b.input('x', F, ['N', 1, 16]);
    const target = b.op('Concat', [b.op('Slice', [b.op('Shape', [x]), b.ints('s', [0]), b.ints('e', [1])]), b.ints('rest', [-1, 16])], { axis: 0 });
    const minus = b.op('Mul', [b.op('ConstantOfShape', [b.ints('three', [3])], { value: Tensor.int64([1], [1]) }), b.ints('neg', [-1], [])]);
    const isMinus = b.op('Equal', [target, minus]);
    const fixed = b.op('Where', [isMinus, b.op('ConstantOfShape', [b.ints('three2', [3])], { value: Tensor.int64([1], [1]) }), target]);
    b.output(b.op('Expand', [x, fixed]));
    const m = b.model();
    inferShapes(m);
    expect(shapeOf(m.graph.outputs[0]!.type)).toEqual(['N', 1, 16]);
  });
});

describe('inferShapes report', () => {
  it('reports unknown ops without failing, and uses their declared types downstream', () => {
    const b = new GraphBuilder();
    const x = b.input('x', F, ['N', 4]);
    const y = b.op('Mystery', [x], {}, { domain: 'example.org' });
    y.type = { kind: 'tensor', elemType: F, shape: ['N', 8] }; // as a value_info entry would declare it
    const z = b.op('Mystery', [b.op('Relu', [y])], {}, { domain: 'example.org' });
    b.output(b.op('Relu', [z]));
    const m = b.model({ extraOpsets: { 'example.org': 1 } });
    const report = inferShapes(m);
    expect(report.unknownOps).toEqual([{ op: 'example.org.Mystery', count: 2 }]);
    expect(report.failed).toEqual([]);
    expect(shapeOf(m.graph.nodes[1]!.outputs[0]!.type)).toEqual(['N', 8]);
    expect(m.graph.outputs[0]!.type).toBeUndefined();
  });

  it('reports a node whose inputs do not fit, and goes on', () => {
    const b = new GraphBuilder();
    const x = b.input('x', F, [2, 3]);
    b.output(b.op('MatMul', [x, b.input('w', F, [4, 5])], {}, { name: 'bad' }));
    b.output(b.op('Relu', [x]));
    const m = b.model();
    const report = inferShapes(m);
    expect(report.failed).toEqual([{ node: 'bad', reason: expect.stringMatching(/inner dims/) }]);
    expect(shapeOf(m.graph.outputs[1]!.type)).toEqual([2, 3]);
  });

  it('does not keep numbers from an earlier run with other dims', () => {
    const b = new GraphBuilder();
    const x = b.input('x', F, ['N', 3, 'H', 'W']);
    b.output(b.op('MaxPool', [x], { kernel_shape: [2, 2], strides: [2, 2] }));
    const m = b.model();
    inferShapes(m, { dims: { N: 1, H: 32, W: 32 } });
    expect(shapeOf(m.graph.outputs[0]!.type)).toEqual([1, 3, 16, 16]);
    inferShapes(m);
    expect(shapeOf(m.graph.outputs[0]!.type)).toEqual(['N', 3, null, null]);
  });

  it('types If outputs from the branches', () => {
    const branch = (name: string, op: string) => {
      const g = new Graph(name);
      const bb = new GraphBuilder(g);
      return { g, bb, op };
    };
    const b = new GraphBuilder();
    const x = b.input('x', F, ['N', 4]);
    const cond = b.input('c', DataType.BOOL, []);
    const then = branch('then', 'Relu');
    then.bb.output(then.bb.op('Relu', [x]));
    const els = branch('else', 'Neg');
    els.bb.output(els.bb.op('Neg', [x]));
    b.output(b.op('If', [cond], { then_branch: then.g, else_branch: els.g }));
    // branches that disagree on a dim: that dim is unknown
    const then2 = branch('then2', 'Relu');
    then2.bb.output(then2.bb.op('Relu', [x]));
    const els2 = branch('else2', 'Concat');
    els2.bb.output(els2.bb.op('Concat', [x, x], { axis: 1 }));
    b.output(b.op('If', [cond], { then_branch: then2.g, else_branch: els2.g }));
    const m = b.model();
    expect(inferShapes(m)).toEqual({ unknownOps: [], failed: [] });
    expect(shapeOf(m.graph.outputs[0]!.type)).toEqual(['N', 4]);
    expect(shapeOf(m.graph.outputs[1]!.type)).toEqual(['N', null]);
  });
});

describe('compareWithOrt', () => {
  it('reports an inferred shape that differs from what ORT computes', async () => {
    const b = new GraphBuilder();
    const x = b.input('x', F, [2, 3]);
    b.output(b.op('Transpose', [x]));
    const m = b.model();
    const real = analyzeShapes(m);
    const wrong = { ...real, typeOf: (v: Value): ValueType | undefined => (v.producer ? { kind: 'tensor', elemType: F, shape: [2, 3] } : real.typeOf(v)) };
    const { mismatches } = await compareWithOrt(m, wrong, randomInputs(m));
    expect(mismatches).toEqual([{ value: m.graph.outputs[0]!.name, op: 'Transpose', inferred: '1[2,3]', actual: '1[3,2]' }]);
  });
});
