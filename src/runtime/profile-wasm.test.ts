import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../ir/builder.js';
import { DataType } from '../ir/dtype.js';
import { randomInputs } from './inputs.js';
import { profileModel } from './profile.js';

describe('profile on the wasm backend (onnxruntime-web prints its trace instead of writing a file)', () => {
  it('collects the printed events: kernel times per node for every profiled run, nothing left on stdout', async () => {
    const b = new GraphBuilder();
    const x = b.input('x', DataType.FLOAT, [4, 64]);
    const w = b.floats('w', [64, 64], Array.from({ length: 64 * 64 }, (_, i) => Math.sin(i)));
    // a name with a quote: ORT writes names into its JSON unescaped (runtime/profile renames such nodes)
    b.output(b.op('Relu', [b.op('MatMul', [x, w], {}, { name: 'mm "a"' })], {}, { name: 'relu' }), 'y');
    const m = b.model({ opset: 13 });
    const written: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((s: string | Uint8Array) => (written.push(String(s)), true)) as typeof process.stdout.write;
    let p;
    try {
      p = await profileModel(m, randomInputs(m, {}), { backend: 'wasm', threads: 1, runs: 3, warmup: 1 });
    } finally {
      process.stdout.write = write;
    }
    expect(p.runsUs).toHaveLength(3);
    const nodes = new Set(p.kernels.map((k) => k.node));
    expect(nodes).toContain('mm "a"');
    expect(p.kernels.filter((k) => k.opType === 'MatMul')).toHaveLength(3);
    expect(p.kernels.every((k) => k.durUs >= 0 && k.run >= 0 && k.run < 3)).toBe(true);
    expect(written.join('')).not.toMatch(/"cat"/);
  });
});
