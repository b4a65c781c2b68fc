import * as fs from 'node:fs';
import * as os from 'node:os';
import { describe, expect, it } from 'vitest';
import { GraphBuilder } from './builder.js';
import { cloneModel } from './clone.js';
import { DataType } from './dtype.js';
import { modelFileOrBytes, modelToBytes } from './io.js';
import { Tensor } from './tensor.js';
import { Session } from '../runtime/session.js';

/** y = x + W, W a float [n] initializer (4n bytes), and a 3-float bias under the 1 KiB sharing bound. */
function model(n: number) {
  const b = new GraphBuilder();
  const x = b.input('x', DataType.FLOAT, [n]);
  const w = b.init('W', Tensor.float([n], Float32Array.from({ length: n }, (_, i) => i % 7)));
  const s = b.init('s', Tensor.float([1], [2]));
  b.output(b.op('Mul', [b.op('Add', [x, w]), s]), 'y');
  return b.model({ opset: 17 });
}

describe('copies of a model that do not copy its weights', () => {
  it('cloneModel with shareWeights: a separate graph over the same weight bytes, equal when encoded', () => {
    const m = model(1000);
    const c = cloneModel(m, { shareWeights: true });
    const w = (x: typeof m) => x.graph.initializers.get('W')!.initializer!;
    const s = (x: typeof m) => x.graph.initializers.get('s')!.initializer!;
    expect(c.graph).not.toBe(m.graph);
    expect(w(c)).not.toBe(w(m));
    expect(w(c).bytes).toBe(w(m).bytes); // shared: 4000 bytes
    expect(s(c).bytes).not.toBe(s(m).bytes); // 4 bytes: copied
    expect(modelToBytes(c)).toEqual(modelToBytes(m));
    c.graph.nodes[0]!.name = 'changed';
    expect(m.graph.nodes[0]!.name).not.toBe('changed');
    // the deep copy shares nothing
    expect(w(cloneModel(m)).bytes).not.toBe(w(m).bytes);
  });

  it('modelFileOrBytes: a small model as bytes; a big one as a temp file ONNX Runtime loads, removed after', async () => {
    const small = modelFileOrBytes(model(10));
    expect(small.source).toBeInstanceOf(Uint8Array);
    const n = (64 << 20) / 4; // 64 MiB of weights
    const big = model(n);
    const src = modelFileOrBytes(big);
    expect(typeof src.source).toBe('string');
    const file = src.source as string;
    expect(file.startsWith(os.tmpdir())).toBe(true);
    expect(fs.readFileSync(file).equals(modelToBytes(big))).toBe(true); // (toEqual on 64 MiB runs out of heap)
    src.done();
    expect(fs.existsSync(file)).toBe(false);
    // Session.create takes a big in-memory model through such a file, and runs it
    const s = await Session.create(big, { threads: 1 });
    const x = Tensor.float([n], new Float32Array(n).fill(1));
    const y = (await s.run({ x }))['y']!.toFloat32();
    await s.release();
    expect([y[0], y[1], y[n - 1]]).toEqual([2, 4, 2 * (1 + ((n - 1) % 7))]);
  });
});
