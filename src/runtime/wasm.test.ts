/**
 * onnxruntime-web's wasm backend, run in Node behind the same interface as the native one. Its thread count
 * is fixed for the process once the wasm module starts, hence a file of its own (vitest runs each file in
 * its own process).
 */
import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../ir/builder.js';
import { DataType } from '../ir/dtype.js';
import { benchmark } from './bench.js';
import { randomInputs } from './inputs.js';
import { Session } from './session.js';

function model() {
  const b = new GraphBuilder();
  const x = b.input('x', DataType.FLOAT, ['N', 32]);
  const w = b.floats('w', [32, 16], Array.from({ length: 512 }, (_, i) => Math.cos(i) / 4));
  b.output(b.op('Softmax', [b.op('MatMul', [x, w])], { axis: -1 }), 'y');
  return b.model({ opset: 17 });
}

describe('wasm backend', () => {
  it('runs with 2 threads and agrees with the native backend', async () => {
    const m = model();
    const feeds = randomInputs(m, { dims: { N: 3 }, seed: 1 });
    const wasm = await Session.create(m, { backend: 'wasm', threads: 2, dims: { N: 3 } });
    const native = await Session.create(m, { backend: 'node', threads: 1, dims: { N: 3 } });
    const a = (await wasm.run(feeds))['y']!.toFloat32();
    const b = (await native.run(feeds))['y']!.toFloat32();
    expect(a.length).toBe(48);
    for (let i = 0; i < a.length; i++) expect(a[i]!).toBeCloseTo(b[i]!, 5);
    await wasm.release();
    await native.release();
    // the thread count cannot change once the wasm module runs: refused, not silently ignored
    await expect(Session.create(m, { backend: 'wasm', threads: 1 })).rejects.toThrow(/cannot change/);
  });

  it('benchmarks through the same interface', async () => {
    const r = await benchmark(model(), { backend: 'wasm', threads: 2, runs: 3, warmup: 1, dims: { N: 2 } });
    expect(r.backend).toBe('wasm');
    expect(r.latencyMs.n).toBe(3);
    expect(r.latencyMs.min).toBeGreaterThan(0);
  });

  it('a wasm session made after the native binding has loaded still runs on wasm', async () => {
    // both packages share onnxruntime-common's backend registry, where the native 'cpu' backend outranks
    // wasm unless the provider is named: a "wasm" session then silently ran the native binding
    const handler = (s: Session) => (s as unknown as { session: { handler: object } }).session.handler.constructor.name;
    const m = model();
    const native = await Session.create(m, { backend: 'node', threads: 1, dims: { N: 3 } });
    const wasm = await Session.create(m, { backend: 'wasm', threads: 2, dims: { N: 3 } });
    expect(handler(native)).toBe('OnnxruntimeSessionHandler');
    expect(handler(wasm)).not.toBe('OnnxruntimeSessionHandler');
    await native.release();
    await wasm.release();
  });
});
