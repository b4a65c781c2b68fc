import { describe, expect, it } from 'vitest';
import { DataType } from '../ir/dtype.js';
import { GraphBuilder } from '../ir/builder.js';
import { Tensor } from '../ir/tensor.js';
import { buildZooModel } from '../zoo/index.js';
import { modelCost, registerOp } from './index.js';

const F = DataType.FLOAT;
const zeros = (dims: number[]) => Tensor.float(dims, new Array(dims.reduce((a, b) => a * b, 1)).fill(0));

/** Costs of single nodes, worked out by hand from the shapes. */
function costOf(build: (b: GraphBuilder) => void, opts = {}) {
  const b = new GraphBuilder();
  build(b);
  return modelCost(b.model({ extraOpsets: { 'com.microsoft': 1 } }), opts);
}

describe('op cost', () => {
  it('Conv: MACs = outputs × C/group × kernel, bias adds one op per output', () => {
    const c = costOf((b) => {
      const x = b.input('x', F, [1, 3, 8, 8]);
      b.output(b.op('Conv', [x, b.init('w', zeros([4, 3, 3, 3])), b.init('bias', zeros([4]))], { pads: [1, 1, 1, 1] }));
    });
    // output [1,4,8,8] = 256 elements, each 3·3·3 = 27 MACs
    expect(c.total.macs).toBe(256 * 27);
    expect(c.total.flops).toBe(2 * 256 * 27 + 256);
    expect(c.total.bytesRead).toBe(4 * (192 + 108 + 4));
    expect(c.total.bytesWritten).toBe(4 * 256);
  });

  it('depthwise Conv counts one input channel per output', () => {
    const c = costOf((b) => {
      const x = b.input('x', F, [2, 8, 10, 10]);
      b.output(b.op('Conv', [x, b.init('w', zeros([8, 1, 3, 3]))], { group: 8, pads: [1, 1, 1, 1], strides: [2, 2] }));
    });
    // output [2,8,5,5] = 400 elements × 9
    expect(c.total.macs).toBe(400 * 9);
    expect(c.total.flops).toBe(2 * 400 * 9);
  });

  it('ConvTranspose: every input element is scattered through (M/group)·kernel', () => {
    const c = costOf((b) => {
      const x = b.input('x', F, [1, 4, 5, 5]);
      b.output(b.op('ConvTranspose', [x, b.init('w', zeros([4, 3, 2, 2]))], { strides: [2, 2] }));
    });
    expect(c.total.macs).toBe(100 * 3 * 4);
  });

  it('MatMul (batched, broadcast) and Gemm', () => {
    const mm = costOf((b) => {
      b.output(b.op('MatMul', [b.input('a', F, [2, 3, 4]), b.init('w', zeros([4, 5]))]));
    });
    expect(mm.total).toEqual({ macs: 2 * 3 * 5 * 4, flops: 2 * 120, bytesRead: 4 * (24 + 20), bytesWritten: 4 * 30 });
    const gemm = costOf((b) => {
      b.output(b.op('Gemm', [b.input('a', F, [6, 4]), b.init('w', zeros([5, 4])), b.init('c', zeros([5]))], { transB: 1 }));
    });
    expect(gemm.total.macs).toBe(6 * 5 * 4);
    expect(gemm.total.flops).toBe(2 * 120 + 30);
  });

  it('integer MatMul counts integer MACs; MatMulNBits uses K and N', () => {
    const q = costOf((b) => {
      b.output(b.op('MatMulInteger', [b.input('a', DataType.UINT8, [8, 16]), b.init('w', Tensor.fromArray(DataType.INT8, [16, 4], new Array(64).fill(0)))]));
    });
    expect(q.total.macs).toBe(8 * 16 * 4);
    expect(q.total.bytesRead).toBe(8 * 16 + 16 * 4);
    expect(q.total.bytesWritten).toBe(8 * 4 * 4);
    const nbits = costOf((b) => {
      const a = b.input('a', F, [3, 32]);
      const w = b.init('w', Tensor.fromArray(DataType.UINT8, [6, 1, 16], new Array(96).fill(0)));
      b.output(b.op('MatMulNBits', [a, w, b.init('s', zeros([6]))], { K: 32, N: 6, bits: 4, block_size: 32 }, { domain: 'com.microsoft' }));
    });
    expect(nbits.total.macs).toBe(3 * 6 * 32);
  });

  it('Attention: QKV projection + scores + weighted sum', () => {
    const c = costOf((b) => {
      const x = b.input('x', F, [2, 5, 8]);
      b.output(b.op('Attention', [x, b.init('w', zeros([8, 24])), b.init('bias', zeros([24]))], { num_heads: 2 }, { domain: 'com.microsoft' }));
    });
    // projection 2·5·8·24, Q·Kᵀ 2·5·5·8, softmax·V 2·5·5·8
    expect(c.total.macs).toBe(2 * 5 * 8 * 24 + 2 * 5 * 5 * 8 * 2);
  });

  it('elementwise ops cost one op per output element; shape ops none; totals add up by op type', () => {
    const c = costOf((b) => {
      const x = b.input('x', F, [2, 3]);
      const y = b.op('Add', [x, b.init('c', zeros([3]))]);
      const z = b.op('Relu', [y]);
      b.output(b.op('Reshape', [z, b.ints('s', [-1])]));
      b.output(b.op('Shape', [z]));
    });
    const by = Object.fromEntries(c.byOp.map((o) => [o.op, o]));
    expect(by['Add']!.flops).toBe(6);
    expect(by['Relu']!.flops).toBe(6);
    expect(by['Reshape']!.flops).toBe(0);
    expect(by['Shape']).toMatchObject({ flops: 0, bytesRead: 0 });
    expect(c.total.flops).toBe(12);
    expect(c.nodes).toHaveLength(4);
    expect(c.uncounted).toEqual([]);
  });

  it('leaves dynamic shapes uncounted unless dims are given', () => {
    const build = (b: GraphBuilder) => {
      b.output(b.op('MatMul', [b.input('a', F, ['N', 4]), b.init('w', zeros([4, 5]))]));
    };
    expect(costOf(build).uncounted).toEqual([{ op: 'MatMul', count: 1 }]);
    expect(costOf(build, { dims: { N: 3 } }).total.macs).toBe(60);
  });

  it('ResNet-50 at 224×224 comes to the published 4.1 GMACs', () => {
    const c = modelCost(buildZooModel('resnet50', { zeroWeights: true }), { dims: { N: 1 } });
    // torchvision's figure for resnet50 is 4.09 GMACs (convolutions and the final Linear)
    expect(c.total.macs / 1e9).toBeCloseTo(4.09, 2);
    expect(c.uncounted).toEqual([]);
  });
});

describe('inference tells the model’s inconsistencies from bugs in inferopt’s rules', () => {
  it('inconsistent shapes are reported (shape inference) and left uncounted (cost); a rule that crashes is thrown as a bug', () => {
    const b = new GraphBuilder();
    const x = b.input('x', DataType.FLOAT, [2, 3]);
    b.output(b.op('MatMul', [x, b.floats('w', [4, 5], new Array(20).fill(0))], {}, { name: 'mm' }), 'y'); // 3 vs 4
    const bad = b.model({ opset: 17 });
    const c = modelCost(bad);
    expect(c.inference.failed).toEqual([{ node: 'mm', reason: 'MatMul inner dims differ: 3 vs 4' }]);
    expect(c.uncounted).toEqual([{ op: 'MatMul', count: 1 }]);
    // a rule with a bug (it dereferences what is not there): not swallowed as "uncounted"
    registerOp({ domain: 'test.bug', opType: 'Buggy', infer: (ctx) => [(ctx.inputs[5] as { kind: string }).kind as never] });
    const g = new GraphBuilder();
    g.output(g.op('Buggy', [g.input('x', DataType.FLOAT, [1])], {}, { name: 'bug', domain: 'test.bug' }), 'y');
    const m = g.model({ opset: 17 });
    m.requireOpset('test.bug', 1);
    expect(() => modelCost(m)).toThrow(/^shape inference of node 'bug' \(test\.bug\.Buggy\) failed: .* a bug in inferopt's rule for test\.bug\.Buggy, not a problem of the model$/);
    registerOp({ domain: 'test.bug', opType: 'BadCost', infer: (ctx) => [ctx.inputs[0]], cost: () => JSON.parse('{') });
    const h = new GraphBuilder();
    h.output(h.op('BadCost', [h.input('x', DataType.FLOAT, [1])], {}, { name: 'bc', domain: 'test.bug' }), 'y');
    const m2 = h.model({ opset: 17 });
    m2.requireOpset('test.bug', 1);
    expect(() => modelCost(m2)).toThrow(/^cost of node 'bc' \(test\.bug\.BadCost\) failed: .*a bug in inferopt's rule/);
  });
});
