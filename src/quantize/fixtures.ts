import { DataType } from '../ir/dtype.js';
import { GraphBuilder, attr } from '../ir/builder.js';
import type { Model } from '../ir/graph.js';
import { gaussian, rng } from '../runtime/inputs.js';

/** Small seeded models the quantization tests (and sensitivity/fallback examples) run on. */

function randn(seed: number, n: number, std: number): number[] {
  const g = gaussian(rng(seed));
  return Array.from({ length: n }, () => g() * std);
}

/** x[N,16] → MatMul 16×32 → Relu → Gemm(transB) 32→24 → Relu → MatMul 24×8 (+Add bias) → y[N,8]. */
export function mlpModel(opts: { fragileScale?: number } = {}): Model {
  const b = new GraphBuilder();
  const x = b.input('x', DataType.FLOAT, ['N', 16]);
  const h1 = b.op('Relu', [b.op('MatMul', [x, b.floats('w1', [16, 32], randn(1, 512, 0.3))], {}, { name: 'fc1' })], {}, { name: 'relu1' });
  const w2 = randn(2, 24 * 32, 0.2);
  if (opts.fragileScale) {
    // one huge weight: per-tensor int8 then rounds every other weight of this layer to zero
    w2[5] = opts.fragileScale;
  }
  const h2 = b.op('Relu', [b.op('Gemm', [h1, b.floats('w2', [24, 32], w2), b.floats('b2', [24], randn(3, 24, 0.1))], { transB: 1 }, { name: 'fc2' })], {}, { name: 'relu2' });
  const y = b.op('Add', [b.op('MatMul', [h2, b.floats('w3', [24, 8], randn(4, 192, 0.3))], {}, { name: 'fc3' }), b.floats('b3', [8], randn(5, 8, 0.1))], {}, { name: 'bias3' });
  b.output(y, 'y');
  return b.model({ opset: 17 });
}

/**
 * x[N,3,16,16] → Conv 3→8 3×3 → Relu → [Conv 8→8 → Relu, + residual Add] → MaxPool → Concat with a
 * second branch → GlobalAveragePool → Flatten → Gemm → y[N,10].
 */
export function cnnModel(): Model {
  const b = new GraphBuilder();
  const x = b.input('x', DataType.FLOAT, ['N', 3, 16, 16]);
  const conv = (name: string, inp: ReturnType<typeof b.input>, cin: number, cout: number, seed: number) =>
    b.op('Conv', [inp, b.floats(`${name}_w`, [cout, cin, 3, 3], randn(seed, cout * cin * 9, Math.sqrt(2 / (cin * 9)))), b.floats(`${name}_b`, [cout], randn(seed + 100, cout, 0.1))], { pads: [1, 1, 1, 1] }, { name });
  const a = b.op('Relu', [conv('conv1', x, 3, 8, 11)], {}, { name: 'relu1' });
  const c2 = b.op('Relu', [conv('conv2', a, 8, 8, 12)], {}, { name: 'relu2' });
  const res = b.op('Add', [a, c2], {}, { name: 'residual' });
  const pooled = b.op('MaxPool', [res], { kernel_shape: [2, 2], strides: [2, 2] }, { name: 'pool' });
  const br = b.op('Relu', [conv('conv3', pooled, 8, 8, 13)], {}, { name: 'relu3' });
  const cat = b.op('Concat', [pooled, br], { axis: 1 }, { name: 'concat' });
  const gap = b.op('GlobalAveragePool', [cat], {}, { name: 'gap' });
  const flat = b.op('Flatten', [gap], { axis: 1 }, { name: 'flatten' });
  const y = b.op('Gemm', [flat, b.floats('fc_w', [10, 16], randn(14, 160, 0.3)), b.floats('fc_b', [10], randn(15, 10, 0.1))], { transB: 1, alpha: attr.float(1) }, { name: 'fc' });
  b.output(y, 'y');
  return b.model({ opset: 17 });
}
