import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../ir/builder.js';
import { DataType } from '../ir/dtype.js';
import { Tensor } from '../ir/tensor.js';
import { tensorType } from '../ir/types.js';
import { Session } from './session.js';

/** y = Relu(x) as a tensor output, and optionally [x] as a sequence output. */
function model(withTensorOutput: boolean) {
  const b = new GraphBuilder();
  const x = b.input('x', DataType.FLOAT, [3]);
  if (withTensorOutput) b.output(b.op('Relu', [x]), 'y');
  b.output(b.op('SequenceConstruct', [x]), 'seq', { kind: 'sequence', elem: tensorType(DataType.FLOAT, [3]) });
  return b.model({ opset: 17 });
}

describe('Session with non-tensor outputs', () => {
  const x = Tensor.float([3], [-1, 0, 2]);

  it('fetches the tensor outputs only (ORT-node would crash converting a sequence)', async () => {
    const s = await Session.create(model(true), { threads: 1 });
    const out = await s.run({ x });
    expect(Object.keys(out)).toEqual(['y']);
    expect(Array.from(out['y']!.toFloat32())).toEqual([0, 0, 2]);
    await expect(s.run({ x }, ['seq'])).rejects.toThrow(/'seq' is a sequence, map or optional/);
    await s.prepareFeeds({ x })(); // the benchmark path fetches the same list
    await s.release();
  });

  it('refuses a model none of whose outputs is a tensor', async () => {
    await expect(Session.create(model(false), { threads: 1 })).rejects.toThrow(/no output of this model is a tensor \(seq\)/);
  });
});
