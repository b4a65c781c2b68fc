import { GraphBuilder } from '../../src/ir/builder.js';
import { DataType } from '../../src/ir/dtype.js';
import type { Model } from '../../src/ir/graph.js';
import { Tensor } from '../../src/ir/tensor.js';
import { rng } from '../../src/runtime/inputs.js';
import type { TensorData } from '../../src/train/trainer.js';

/** x [N, 6] → stem → 4 residual layers (Gemm, Add with the layer input, Relu) → head [N, classes]. */
export function residualMlp(seed: number, classes = 3, layers = 4): Model {
  const r = rng(seed);
  const w = (dims: number[], s: number) => Tensor.float(dims, Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => (r() - 0.5) * s));
  const b = new GraphBuilder();
  const x = b.input('x', DataType.FLOAT, ['N', 6]);
  let h = b.op('Gemm', [x, b.init('stem.weight', w([6, 8], 1)), b.init('stem.bias', w([8], 0.1))]);
  for (let i = 0; i < layers; i++) h = b.op('Relu', [b.op('Add', [h, b.op('Gemm', [h, b.init(`layers.${i}.weight`, w([8, 8], 0.8)), b.init(`layers.${i}.bias`, w([8], 0.1))])])]);
  b.output(b.op('Gemm', [h, b.init('head.weight', w([8, classes], 1)), b.init('head.bias', w([classes], 0.1))]), 'logits');
  return b.model({ opset: 17 });
}

/** Labelled rows for residualMlp: class c has feature 2c raised, plus noise. */
export function residualData(n: number, seed: number): TensorData {
  const r = rng(seed);
  const x = new Float32Array(n * 6);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    labels[i] = i % 3;
    for (let j = 0; j < 6; j++) x[i * 6 + j] = (j === labels[i]! * 2 ? 1.5 : 0) + (r() - 0.5);
  }
  return { inputs: { x: { data: x, dtype: DataType.FLOAT, itemShape: [6] } }, labels, length: n };
}

