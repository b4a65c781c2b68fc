import { describe, expect, it } from 'vitest';
import { DataType } from '../ir/dtype.js';
import { Tensor } from '../ir/tensor.js';
import { Session } from '../runtime/session.js';
import { Layers } from './layers.js';

describe('zoo layers', () => {
  it("the exporter's Erf GELU equals ONNX Runtime's Gelu kernel", async () => {
    const l = new Layers({ seed: 0 });
    const x = l.input('x', DataType.FLOAT, [64]);
    l.output(l.gelu('act', x), 'erf_gelu', DataType.FLOAT, [64]);
    l.output(l.b.op('Gelu', [x], {}, { domain: 'com.microsoft' }), 'kernel_gelu', DataType.FLOAT, [64]);
    const model = l.model('gelu check');
    model.requireOpset('com.microsoft', 1);
    const input = Tensor.float([64], Array.from({ length: 64 }, (_, i) => (i - 32) / 6));
    const session = await Session.create(model, { optLevel: 'disabled', threads: 1 });
    const out = await session.run({ x: input });
    await session.release();
    const a = out.erf_gelu!.toFloat32();
    const b = out.kernel_gelu!.toFloat32();
    for (let i = 0; i < 64; i++) expect(a[i]).toBeCloseTo(b[i]!, 5);
    expect(a[0]).toBeCloseTo(0, 3); // x = -5.3
    expect(a[63]).toBeCloseTo(31 / 6, 3); // x = 5.2
  });

  it('the random normal weights have the asked mean and deviation', () => {
    const l = new Layers({ seed: 1 });
    const w = l.w.normal([100_000], 0.02, 1).toFloat32();
    let sum = 0;
    let sq = 0;
    for (const v of w) {
      sum += v;
      sq += (v - 1) ** 2;
    }
    expect(sum / w.length).toBeCloseTo(1, 3);
    expect(Math.sqrt(sq / w.length)).toBeCloseTo(0.02, 3);
  });
});
