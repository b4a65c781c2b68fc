import { describe, expect, it } from 'vitest';
import { GraphBuilder, attr } from '../ir/builder.js';
import { DataType } from '../ir/dtype.js';
import { InputError } from '../errors.js';
import { loadModel, modelToBytes } from '../ir/io.js';
import type { Model } from '../ir/graph.js';
import { randomInputs } from '../runtime/inputs.js';
import { compareModels } from './fidelity.js';
import { upgradeOpset, wouldUpgrade } from './opset-upgrade.js';

function opset9(withUpsample: boolean): Model {
  const b = new GraphBuilder();
  const x = b.input('x', DataType.FLOAT, [1, 2, 6, 6]);
  let h = b.op('Slice', [x], { starts: [1, 1], ends: [5, 6], axes: [2, 3] });
  h = b.op('Clip', [h], { min: attr.float(-0.5), max: attr.float(1.5) });
  h = b.op('Pad', [h], { pads: [0, 0, 1, 0, 0, 0, 0, 1], value: attr.float(0.25) });
  if (withUpsample) h = b.op('Upsample', [h, b.floats('scales', [4], [1, 1, 2, 2])], { mode: 'nearest' });
  const [values] = b.opN('TopK', [h], { k: 2, axis: -1 }, { outputs: 2 });
  b.output(values!, 'y');
  return b.model({ opset: 9 });
}

describe('opset upgrade for quantization', () => {
  for (const [target, withUpsample] of [[10, true], [11, false]] as const) {
    it(`9 → ${target}: same outputs, attributes moved to inputs`, async () => {
      const ref = opset9(withUpsample);
      const m = loadModel(modelToBytes(ref));
      expect(upgradeOpset(m, target)).toBe(true);
      expect(m.opset('')).toBe(target);
      const slice = m.graph.nodes.find((n) => n.opType === 'Slice')!;
      expect(slice.attrs.size).toBe(0);
      expect(slice.inputs).toHaveLength(4);
      const fs = await compareModels(ref, m, [randomInputs(ref, { seed: 3 })]);
      for (const f of fs) expect(f.maxAbs).toBe(0);
    });
  }

  it('says in advance which targets are reachable', () => {
    expect(wouldUpgrade(opset9(true), 11)).toBe(false);
    expect(wouldUpgrade(opset9(true), 10)).toBe(true);
    expect(wouldUpgrade(opset9(false), 11)).toBe(true);
  });

  it('refuses an op whose meaning changed in a way it does not rewrite', () => {
    expect(() => upgradeOpset(opset9(true), 11)).toThrow(/Resize .* changed meaning at opset 11/);
  });

  it('a refused upgrade leaves the model as it was (every node is checked before the first rewrite)', () => {
    const m = opset9(true);
    const before = modelToBytes(m);
    expect(() => upgradeOpset(m, 11)).toThrow(InputError);
    expect(modelToBytes(m)).toEqual(before);
  });

  it('a Pad value that cannot be written in the data\'s type is refused in one clear line, and keeps the model at 10', () => {
    const b = new GraphBuilder();
    const x = b.input('x', DataType.INT64, [2, 3]);
    b.output(b.op('Pad', [b.op('Neg', [x])], { pads: [0, 1, 0, 1], value: attr.float(-1.5) }, { name: 'pad' }), 'y');
    const m = b.model({ opset: 10 });
    expect(wouldUpgrade(m, 11)).toBe(false);
    expect(() => upgradeOpset(m, 11)).toThrow("cannot raise opset 10 → 11 for quantization: Pad 'pad': its attribute value becomes an input of type int64 at opset 11, and -1.5 is not representable as int64");
    expect(m.opset('')).toBe(10);
  });
});
