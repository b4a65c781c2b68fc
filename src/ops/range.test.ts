import { describe, expect, it } from 'vitest';
import { DataType } from '../ir/dtype.js';
import { attr, GraphBuilder, type AttrInput } from '../ir/builder.js';
import type { Node, Value } from '../ir/graph.js';
import { Tensor } from '../ir/tensor.js';
import { Session } from '../runtime/session.js';
import { opTraits, outputRange, signatureChangeAt, type ValueRange } from './index.js';

const F = DataType.FLOAT;

/** A one-node model; `bounds`: Clip's inputs 1 and 2 (a number: a constant, 'input': a graph input, null: empty). */
function oneNode(op: string, opset: number, attrs: Record<string, AttrInput> = {}, bounds: (number | 'input' | null)[] = []) {
  const b = new GraphBuilder();
  const x = b.input('x', F, [64]);
  const ins: (Value | null)[] = [x, ...bounds.map((v, i) => (v === null ? null : v === 'input' ? b.input(`b${i}`, F, []) : b.scalar(`b${i}`, v)))];
  b.output(b.op(op, ins, attrs, { name: 'n' }), 'y');
  const model = b.model({ opset });
  return { model, node: model.graph.nodes.find((n) => n.name === 'n')! as Node };
}

/** x from −50 to 50 (and the extremes): the op's outputs under ONNX Runtime, min and max. */
async function ortExtent(op: ReturnType<typeof oneNode>): Promise<[number, number]> {
  const xs = Float32Array.from({ length: 64 }, (_, i) => (i === 0 ? -1e30 : i === 63 ? 1e30 : -50 + (100 * i) / 63));
  const s = await Session.create(op.model);
  try {
    const y = (await s.run({ x: Tensor.float([64], xs) })).y!.toFloat32();
    return [Math.min(...y), Math.max(...y)];
  } finally {
    await s.release();
  }
}

describe('op registry: outputRange (the bounded range of an activation, from its attributes or constant inputs)', () => {
  it('fixed ranges: Relu [0, ∞), Sigmoid and HardSigmoid [0, 1], Tanh [−1, 1], Softmax [0, 1]; what ORT outputs lies inside', async () => {
    const cases: [string, ValueRange][] = [
      ['Relu', { min: 0, max: Infinity }],
      ['Sigmoid', { min: 0, max: 1 }],
      ['HardSigmoid', { min: 0, max: 1 }],
      ['Tanh', { min: -1, max: 1 }],
      ['Softmax', { min: 0, max: 1 }],
    ];
    for (const [op, want] of cases) {
      const m = oneNode(op, 13);
      expect(outputRange(m.node), op).toEqual(want);
      const [lo, hi] = await ortExtent(m);
      expect(lo, op).toBeGreaterThanOrEqual(want.min!);
      expect(hi, op).toBeLessThanOrEqual(want.max!);
    }
    // unbounded ops have none
    expect(outputRange(oneNode('Exp', 13).node)).toBeUndefined();
    expect(outputRange(oneNode('LeakyRelu', 13).node)).toBeUndefined();
  });

  it('Clip at opset 11+: min and max from constant inputs, an empty or absent one unbounded, a graph input null', async () => {
    const both = oneNode('Clip', 13, {}, [0, 6]);
    expect(outputRange(both.node)).toEqual({ min: 0, max: 6 });
    expect(await ortExtent(both)).toEqual([0, 6]); // ORT reaches both bounds on these inputs
    const maxOnly = oneNode('Clip', 13, {}, [null, 6]);
    expect(outputRange(maxOnly.node)).toEqual({ min: -Infinity, max: 6 });
    expect(await ortExtent(maxOnly)).toEqual([-1e30, 6].map(Math.fround));
    const minOnly = oneNode('Clip', 11, {}, [-1]);
    expect(outputRange(minOnly.node)).toEqual({ min: -1, max: Infinity });
    expect(outputRange(oneNode('Clip', 13).node)).toEqual({ min: -Infinity, max: Infinity });
    expect(outputRange(oneNode('Clip', 13, {}, [0, 'input']).node)).toEqual({ min: 0, max: null });
    expect(outputRange(oneNode('Clip', 13, {}, ['input', 6]).node)).toEqual({ min: null, max: 6 });
  });

  it('Clip before opset 11: min and max from the attributes, an absent one unbounded', async () => {
    const relu6 = oneNode('Clip', 6, { min: attr.float(0), max: attr.float(6) });
    expect(outputRange(relu6.node)).toEqual({ min: 0, max: 6 });
    expect(await ortExtent(oneNode('Clip', 9, { min: attr.float(0), max: attr.float(6) }))).toEqual([0, 6]);
    expect(outputRange(oneNode('Clip', 9, { max: attr.float(6) }).node)).toEqual({ min: -Infinity, max: 6 });
    expect(outputRange(oneNode('Clip', 9, { min: attr.float(-2.5) }).node)).toEqual({ min: -2.5, max: Infinity });
    expect(outputRange(oneNode('Clip', 6).node)).toEqual({ min: -Infinity, max: Infinity });
    // Clip's attributes become inputs 1 and 2 at 11 (the opset upgrades move them: signatureChanges)
    expect(signatureChangeAt('', 'Clip', 11)?.attrsToInputs?.map((a) => [a.attr, a.input])).toEqual([['min', 1], ['max', 2]]);
    expect(opTraits('', 'Relu').signatureChanges).toBeUndefined();
  });
});
