import { describe, expect, it } from 'vitest';
import { DataType } from '../ir/dtype.js';
import { attr, GraphBuilder, type AttrInput } from '../ir/builder.js';
import type { Value } from '../ir/graph.js';
import { Tensor } from '../ir/tensor.js';
import { randomInputs } from '../runtime/inputs.js';
import { analyzeShapes } from './index.js';
import { compareWithOrt } from './ort-shapes.js';

/**
 * Per-op shape inference checked against ONNX Runtime: each case is a one-node model whose declared inputs
 * have concrete shapes; every output's inferred type must equal the shape and type ORT produces.
 */

const F = DataType.FLOAT;
const U8 = DataType.UINT8;
const I8 = DataType.INT8;
const I32 = DataType.INT32;
const BOOL = DataType.BOOL;

/** A graph input of this shape (and type), or a constant (initializer), or a missing optional input. */
type In = number[] | { shape: number[]; dtype: DataType } | Tensor | null;

interface Case {
  name: string;
  op: string;
  inputs: In[];
  attrs?: Record<string, AttrInput>;
  outputs?: number;
  opset?: number;
  domain?: string;
}

const ins = (shape: number[], dtype: DataType) => ({ shape, dtype });
const i64 = (values: number[], dims = [values.length]) => Tensor.int64(dims, values);
const f32 = (values: number[], dims = [values.length]) => Tensor.float(dims, values);
const fill = (dtype: DataType, dims: number[], v = 1) => Tensor.fromArray(dtype, dims, new Array<number>(dims.reduce((a, b) => a * b, 1)).fill(v));
const scalar = (dtype: DataType, v: number) => Tensor.scalar(dtype, v);
const MS = 'com.microsoft';

const CASES: Case[] = [
  // elementwise with broadcasting
  { name: 'Add bcast', op: 'Add', inputs: [[2, 3, 4], [4]] },
  { name: 'Add both', op: 'Add', inputs: [[2, 1, 4], [3, 1]] },
  { name: 'Mul scalar', op: 'Mul', inputs: [[5, 1], []] },
  { name: 'Sub', op: 'Sub', inputs: [[1], [2, 3]] },
  { name: 'Div', op: 'Div', inputs: [[2, 3], [2, 1]] },
  { name: 'Pow', op: 'Pow', inputs: [[2, 3], f32([2], [])] },
  { name: 'Max variadic', op: 'Max', inputs: [[3, 1], [1, 4], [4]] },
  { name: 'Min', op: 'Min', inputs: [[3, 4], [4]] },
  { name: 'Sum', op: 'Sum', inputs: [[2, 1, 3], [4, 1], [3]] },
  { name: 'Mean', op: 'Mean', inputs: [[2, 3], [3]] },
  { name: 'Mod fmod', op: 'Mod', inputs: [[2, 3], f32([2, 3, 4])], attrs: { fmod: 1 } },
  { name: 'Equal', op: 'Equal', inputs: [[2, 3], [3]] },
  { name: 'Less', op: 'Less', inputs: [[2, 3], [2, 1]] },
  { name: 'Greater', op: 'Greater', inputs: [[4], [3, 1]] },
  { name: 'And', op: 'And', inputs: [ins([2, 3], BOOL), ins([3], BOOL)] },
  { name: 'Or', op: 'Or', inputs: [ins([2, 1], BOOL), ins([3], BOOL)] },
  { name: 'Not', op: 'Not', inputs: [ins([2, 3], BOOL)] },
  { name: 'Where', op: 'Where', inputs: [ins([2, 1], BOOL), [1, 3], [2, 3]] },
  { name: 'PRelu', op: 'PRelu', inputs: [[2, 3, 4], f32([0.1, 0.2, 0.3], [3, 1])] },
  // unary
  ...['Relu', 'Sigmoid', 'Tanh', 'Erf', 'Sqrt', 'Exp', 'Log', 'Neg', 'Abs', 'Reciprocal', 'HardSigmoid', 'HardSwish', 'Softplus', 'Identity', 'Floor'].map(
    (op): Case => ({ name: op, op, inputs: [[2, 3, 5]] }),
  ),
  { name: 'LeakyRelu', op: 'LeakyRelu', inputs: [[2, 3]], attrs: { alpha: 0.2 } },
  { name: 'Gelu-20', op: 'Gelu', inputs: [[2, 3]], opset: 20 },
  { name: 'Clip inputs', op: 'Clip', inputs: [[2, 3], scalar(F, 0), scalar(F, 6)] },
  { name: 'Clip attrs', op: 'Clip', inputs: [[2, 3]], attrs: { min: attr.float(0), max: attr.float(6) }, opset: 9 },
  { name: 'Dropout mask', op: 'Dropout', inputs: [[2, 3]], outputs: 2 },
  { name: 'Cast', op: 'Cast', inputs: [[2, 3]], attrs: { to: DataType.INT32 } },
  { name: 'CastLike', op: 'CastLike', inputs: [[2, 3], fill(DataType.DOUBLE, [1])] },
  // softmax and normalizations
  { name: 'Softmax', op: 'Softmax', inputs: [[2, 3, 4]], attrs: { axis: 1 } },
  { name: 'LogSoftmax', op: 'LogSoftmax', inputs: [[2, 3, 4]] },
  { name: 'LayerNorm 3 outputs', op: 'LayerNormalization', inputs: [[2, 3, 4], fill(F, [4]), fill(F, [4], 0)], outputs: 3 },
  { name: 'LayerNorm axis 1', op: 'LayerNormalization', inputs: [[2, 3, 4], fill(F, [3, 4]), null], attrs: { axis: 1 }, outputs: 3 },
  { name: 'BatchNorm', op: 'BatchNormalization', inputs: [[2, 3, 4, 4], fill(F, [3]), fill(F, [3], 0), fill(F, [3], 0), fill(F, [3])] },
  { name: 'InstanceNorm', op: 'InstanceNormalization', inputs: [[2, 3, 5], fill(F, [3]), fill(F, [3], 0)] },
  // pooling
  { name: 'MaxPool k3 s2 p1', op: 'MaxPool', inputs: [[1, 2, 9, 10]], attrs: { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] } },
  { name: 'MaxPool ceil', op: 'MaxPool', inputs: [[1, 2, 10, 11]], attrs: { kernel_shape: [3, 3], strides: [2, 2], ceil_mode: 1 } },
  { name: 'MaxPool ceil pads', op: 'MaxPool', inputs: [[1, 1, 6, 7]], attrs: { kernel_shape: [2, 2], strides: [2, 2], pads: [1, 1, 1, 1], ceil_mode: 1 } },
  { name: 'MaxPool indices', op: 'MaxPool', inputs: [[1, 2, 8, 8]], attrs: { kernel_shape: [2, 2], strides: [2, 2] }, outputs: 2 },
  { name: 'AveragePool SAME', op: 'AveragePool', inputs: [[1, 2, 7, 9]], attrs: { kernel_shape: [3, 3], strides: [2, 2], auto_pad: 'SAME_UPPER' } },
  { name: 'AveragePool 1d', op: 'AveragePool', inputs: [[1, 2, 9]], attrs: { kernel_shape: [4], strides: [3] } },
  { name: 'GlobalAveragePool', op: 'GlobalAveragePool', inputs: [[2, 3, 5, 6]] },
  { name: 'GlobalMaxPool', op: 'GlobalMaxPool', inputs: [[2, 3, 5]] },
  // convolutions
  { name: 'Conv', op: 'Conv', inputs: [[1, 3, 8, 9], fill(F, [4, 3, 3, 3])] },
  { name: 'Conv s2 p1 bias', op: 'Conv', inputs: [[1, 3, 9, 8], fill(F, [4, 3, 3, 3]), fill(F, [4])], attrs: { strides: [2, 2], pads: [1, 1, 1, 1] } },
  { name: 'Conv depthwise', op: 'Conv', inputs: [[1, 4, 8, 8], fill(F, [4, 1, 3, 3])], attrs: { group: 4, pads: [1, 1, 1, 1] } },
  { name: 'Conv dilated', op: 'Conv', inputs: [[1, 2, 11, 11], fill(F, [2, 2, 3, 3])], attrs: { dilations: [2, 3] } },
  { name: 'Conv SAME s2', op: 'Conv', inputs: [[1, 2, 7, 8], fill(F, [3, 2, 3, 3])], attrs: { auto_pad: 'SAME_UPPER', strides: [2, 2] } },
  { name: 'Conv VALID', op: 'Conv', inputs: [[1, 2, 7, 8], fill(F, [3, 2, 2, 3])], attrs: { auto_pad: 'VALID', strides: [2, 2] } },
  { name: 'Conv 1d', op: 'Conv', inputs: [[2, 3, 10], fill(F, [5, 3, 3])], attrs: { strides: [3] } },
  { name: 'ConvTranspose s2', op: 'ConvTranspose', inputs: [[1, 3, 5, 6], fill(F, [3, 2, 2, 2])], attrs: { strides: [2, 2] } },
  { name: 'ConvTranspose pads outpad', op: 'ConvTranspose', inputs: [[1, 2, 5, 5], fill(F, [2, 3, 3, 3])], attrs: { strides: [2, 2], pads: [1, 1, 1, 1], output_padding: [1, 0] } },
  { name: 'ConvTranspose group', op: 'ConvTranspose', inputs: [[1, 4, 3, 3], fill(F, [4, 1, 3, 3])], attrs: { group: 2 } },
  { name: 'ConvTranspose output_shape', op: 'ConvTranspose', inputs: [[1, 2, 4, 4], fill(F, [2, 2, 3, 3])], attrs: { strides: [2, 2], output_shape: [9, 10] } },
  // matrix products
  { name: 'Gemm', op: 'Gemm', inputs: [[3, 4], fill(F, [4, 5]), fill(F, [5])] },
  { name: 'Gemm trans', op: 'Gemm', inputs: [[4, 3], fill(F, [5, 4])], attrs: { transA: 1, transB: 1 } },
  { name: 'MatMul 2d', op: 'MatMul', inputs: [[3, 4], [4, 5]] },
  { name: 'MatMul batched bcast', op: 'MatMul', inputs: [[2, 1, 3, 4], [5, 4, 6]] },
  { name: 'MatMul 1d x 2d', op: 'MatMul', inputs: [[4], [2, 4, 5]] },
  { name: 'MatMul 2d x 1d', op: 'MatMul', inputs: [[2, 3, 4], [4]] },
  { name: 'Einsum batched', op: 'Einsum', inputs: [[2, 3, 4], [2, 4, 5]], attrs: { equation: 'bij,bjk->bik' } },
  { name: 'Einsum implicit', op: 'Einsum', inputs: [[3, 4], [4, 5]], attrs: { equation: 'ij,jk' } },
  { name: 'Einsum transpose', op: 'Einsum', inputs: [[3, 4]], attrs: { equation: 'ij->ji' } },
  { name: 'Einsum ellipsis', op: 'Einsum', inputs: [[2, 3, 4, 5], [5, 6]], attrs: { equation: '...ij,jk->...ik' } },
  // reshaping
  { name: 'Reshape 0 -1', op: 'Reshape', inputs: [[2, 3, 4], i64([0, -1])] },
  { name: 'Reshape -1 middle', op: 'Reshape', inputs: [[2, 3, 4], i64([4, -1, 2])] },
  { name: 'Reshape allowzero', op: 'Reshape', inputs: [f32([], [0, 3]), i64([3, 0])], attrs: { allowzero: 1 }, opset: 14 },
  { name: 'Transpose default', op: 'Transpose', inputs: [[2, 3, 4]] },
  { name: 'Transpose perm', op: 'Transpose', inputs: [[2, 3, 4, 5]], attrs: { perm: [0, 2, 3, 1] } },
  { name: 'Flatten axis 0', op: 'Flatten', inputs: [[2, 3, 4]], attrs: { axis: 0 } },
  { name: 'Flatten axis -1', op: 'Flatten', inputs: [[2, 3, 4]], attrs: { axis: -1 } },
  { name: 'Squeeze attr', op: 'Squeeze', inputs: [[1, 3, 1, 4]], attrs: { axes: [0, -2] }, opset: 11 },
  { name: 'Squeeze input', op: 'Squeeze', inputs: [[1, 3, 1, 4], i64([2])] },
  { name: 'Squeeze all', op: 'Squeeze', inputs: [[1, 3, 1, 4]] },
  { name: 'Unsqueeze attr', op: 'Unsqueeze', inputs: [[3, 4]], attrs: { axes: [0, 3] }, opset: 11 },
  { name: 'Unsqueeze input', op: 'Unsqueeze', inputs: [[3, 4], i64([-1, 1])] },
  { name: 'Concat', op: 'Concat', inputs: [[2, 3], [2, 5], [2, 1]], attrs: { axis: 1 } },
  { name: 'Concat -3', op: 'Concat', inputs: [[2, 3, 4], [1, 3, 4]], attrs: { axis: -3 } },
  { name: 'Split input', op: 'Split', inputs: [[6, 4], i64([2, 4])], outputs: 2 },
  { name: 'Split attr', op: 'Split', inputs: [[2, 7]], attrs: { axis: 1, split: [3, 4] }, outputs: 2, opset: 11 },
  { name: 'Split equal', op: 'Split', inputs: [[6, 4]], outputs: 3 },
  { name: 'Split num_outputs', op: 'Split', inputs: [[2, 7]], attrs: { axis: 1, num_outputs: 3 }, outputs: 3, opset: 18 },
  { name: 'Slice', op: 'Slice', inputs: [[5, 6, 7], i64([1, -4]), i64([4, 1000]), i64([0, 2])] },
  { name: 'Slice steps', op: 'Slice', inputs: [[5, 10], i64([-1, 1]), i64([-1000, 9]), i64([0, -1]), i64([-2, 3])] },
  { name: 'Slice attrs', op: 'Slice', inputs: [[5, 6]], attrs: { starts: [1], ends: [-1], axes: [1] }, opset: 9 },
  { name: 'Gather axis 0', op: 'Gather', inputs: [[5, 4], i64([0, 3, 1, 2, 4, 0], [2, 3])] },
  { name: 'Gather scalar axis 1', op: 'Gather', inputs: [[5, 4, 3], i64([2], [])], attrs: { axis: 1 } },
  { name: 'GatherElements', op: 'GatherElements', inputs: [[3, 4], i64([0, 1, 2, 0, 1, 2], [3, 2])], attrs: { axis: 1 } },
  { name: 'Shape', op: 'Shape', inputs: [[2, 3, 4]] },
  { name: 'Shape start end', op: 'Shape', inputs: [[2, 3, 4, 5]], attrs: { start: 1, end: -1 }, opset: 15 },
  { name: 'Size', op: 'Size', inputs: [[2, 3, 4]] },
  { name: 'ConstantOfShape', op: 'ConstantOfShape', inputs: [i64([2, 3])], attrs: { value: fill(DataType.INT64, [1], 7) } },
  { name: 'Constant', op: 'Constant', inputs: [], attrs: { value_ints: [1, 2, 3] } },
  { name: 'Range', op: 'Range', inputs: [scalar(F, 1), scalar(F, 10), scalar(F, 2)] },
  { name: 'Expand', op: 'Expand', inputs: [[3, 1], i64([2, 1, 4])] },
  { name: 'Tile', op: 'Tile', inputs: [[2, 3], i64([3, 2])] },
  { name: 'Pad', op: 'Pad', inputs: [[2, 3], i64([1, 0, 2, 3])] },
  { name: 'Pad axes', op: 'Pad', inputs: [[2, 3, 4], i64([1, 2]), null, i64([-1])], opset: 18 },
  { name: 'Pad attr', op: 'Pad', inputs: [[2, 3]], attrs: { pads: [0, 1, 0, 1] }, opset: 10 },
  { name: 'Resize scales', op: 'Resize', inputs: [[1, 2, 5, 6], null, f32([1, 1, 2, 1.5])] },
  { name: 'Resize sizes', op: 'Resize', inputs: [[1, 2, 5, 6], null, null, i64([1, 2, 7, 3])] },
  { name: 'Resize opset 10', op: 'Resize', inputs: [[1, 2, 5, 6], f32([1, 1, 2, 2])], opset: 10 },
  { name: 'Upsample', op: 'Upsample', inputs: [[1, 2, 3, 4], f32([1, 1, 2, 3])], opset: 9 },
  { name: 'Trilu', op: 'Trilu', inputs: [[3, 4]], attrs: { upper: 0 } },
  // reductions
  { name: 'ReduceMean attr', op: 'ReduceMean', inputs: [[2, 3, 4]], attrs: { axes: [-1], keepdims: 0 } },
  { name: 'ReduceSum input', op: 'ReduceSum', inputs: [[2, 3, 4], i64([0, 2])] },
  { name: 'ReduceSum all', op: 'ReduceSum', inputs: [[2, 3, 4]], attrs: { keepdims: 0 } },
  { name: 'ReduceMax 18', op: 'ReduceMax', inputs: [[2, 3, 4], i64([1])], opset: 18 },
  { name: 'ReduceL2', op: 'ReduceL2', inputs: [[2, 3, 4]], attrs: { axes: [1] } },
  { name: 'ArgMax', op: 'ArgMax', inputs: [[2, 3, 4]], attrs: { axis: 1, keepdims: 0 } },
  { name: 'ArgMin', op: 'ArgMin', inputs: [[2, 3, 4]], attrs: { axis: -1 } },
  { name: 'TopK', op: 'TopK', inputs: [[2, 7], i64([3])], outputs: 2 },
  // quantized
  { name: 'QuantizeLinear u8', op: 'QuantizeLinear', inputs: [[2, 3], scalar(F, 0.1), scalar(U8, 128)] },
  { name: 'QuantizeLinear s8 axis', op: 'QuantizeLinear', inputs: [[2, 3], fill(F, [3], 0.1), fill(I8, [3], 0)], attrs: { axis: 1 } },
  { name: 'DequantizeLinear', op: 'DequantizeLinear', inputs: [ins([2, 3], U8), scalar(F, 0.1), scalar(U8, 128)] },
  { name: 'DynamicQuantizeLinear', op: 'DynamicQuantizeLinear', inputs: [[2, 3]], outputs: 3 },
  { name: 'MatMulInteger', op: 'MatMulInteger', inputs: [ins([2, 3, 4], U8), fill(I8, [4, 5]), scalar(U8, 3)] },
  { name: 'QLinearMatMul', op: 'QLinearMatMul', inputs: [ins([3, 4], U8), scalar(F, 0.1), scalar(U8, 0), fill(U8, [4, 5]), scalar(F, 0.1), scalar(U8, 0), scalar(F, 0.2), scalar(U8, 0)] },
  { name: 'ConvInteger', op: 'ConvInteger', inputs: [ins([1, 2, 6, 6], U8), fill(U8, [3, 2, 3, 3])], attrs: { pads: [1, 1, 1, 1], strides: [2, 2] } },
  {
    name: 'QLinearConv',
    op: 'QLinearConv',
    inputs: [ins([1, 2, 6, 6], U8), scalar(F, 0.1), scalar(U8, 0), fill(I8, [4, 2, 3, 3]), scalar(F, 0.1), scalar(I8, 0), scalar(F, 0.2), scalar(U8, 0), fill(I32, [4], 0)],
  },
  // recurrent, detection and sampling
  { name: 'LSTM', op: 'LSTM', inputs: [[5, 2, 3], fill(F, [1, 16, 3], 0.1), fill(F, [1, 16, 4], 0.1)], attrs: { hidden_size: 4 }, outputs: 3 },
  { name: 'LSTM bidirectional', op: 'LSTM', inputs: [[5, 2, 3], fill(F, [2, 16, 3], 0.1), fill(F, [2, 16, 4], 0.1)], attrs: { hidden_size: 4, direction: 'bidirectional' }, outputs: 3 },
  { name: 'GRU', op: 'GRU', inputs: [[5, 2, 3], fill(F, [1, 12, 3], 0.1), fill(F, [1, 12, 4], 0.1)], attrs: { hidden_size: 4 }, outputs: 2 }, // (ORT's CPU kernels refuse layout=1)
  { name: 'RNN', op: 'RNN', inputs: [[5, 2, 3], fill(F, [1, 4, 3], 0.1), fill(F, [1, 4, 4], 0.1)], attrs: { hidden_size: 4 }, outputs: 2 },
  { name: 'OneHot', op: 'OneHot', inputs: [i64([0, 2, 1, 3], [2, 2]), i64([5], []), f32([0, 1])], attrs: { axis: 1 } },
  { name: 'RoiAlign', op: 'RoiAlign', inputs: [[1, 3, 8, 8], f32([0, 0, 4, 4, 1, 1, 6, 7], [2, 4]), i64([0, 0])], attrs: { output_height: 3, output_width: 2 } },
  { name: 'GridSample', op: 'GridSample', inputs: [[1, 2, 5, 6], fill(F, [1, 3, 4, 2], 0.1)] },
  { name: 'LRN', op: 'LRN', inputs: [[1, 4, 3, 3]], attrs: { size: 3 } },
  { name: 'EyeLike', op: 'EyeLike', inputs: [[3, 4]], attrs: { dtype: DataType.INT64 } },
  // com.microsoft
  { name: 'ms Gelu', op: 'Gelu', domain: MS, inputs: [[2, 3]] },
  { name: 'ms BiasGelu', op: 'BiasGelu', domain: MS, inputs: [[2, 3, 4], fill(F, [4])] },
  { name: 'ms FastGelu', op: 'FastGelu', domain: MS, inputs: [[2, 3, 4], fill(F, [4])] },
  { name: 'ms QuickGelu', op: 'QuickGelu', domain: MS, inputs: [[2, 3]], attrs: { alpha: 1.702 } },
  { name: 'ms FusedConv', op: 'FusedConv', domain: MS, inputs: [[1, 3, 8, 8], fill(F, [4, 3, 3, 3]), fill(F, [4])], attrs: { activation: 'Relu', strides: [2, 2] } },
  { name: 'ms FusedMatMul', op: 'FusedMatMul', domain: MS, inputs: [[2, 4, 3], [2, 5, 4]], attrs: { transA: 1, transB: 1, alpha: 0.5 } },
  { name: 'ms SkipLayerNorm', op: 'SkipLayerNormalization', domain: MS, inputs: [[2, 3, 8], [2, 3, 8], fill(F, [8]), fill(F, [8], 0), fill(F, [8], 0)], outputs: 4 },
  { name: 'ms Attention', op: 'Attention', domain: MS, inputs: [[2, 5, 8], fill(F, [8, 24], 0.01), fill(F, [24], 0)], attrs: { num_heads: 2 } },
  { name: 'ms Attention qkv sizes', op: 'Attention', domain: MS, inputs: [[2, 5, 8], fill(F, [8, 20], 0.01), fill(F, [20], 0)], attrs: { num_heads: 2, qkv_hidden_sizes: [6, 6, 8] } },
  { name: 'ms MultiHeadAttention', op: 'MultiHeadAttention', domain: MS, inputs: [[2, 5, 8], [2, 7, 8], [2, 7, 8]], attrs: { num_heads: 2 } },
  {
    name: 'ms EmbedLayerNorm',
    op: 'EmbedLayerNormalization',
    domain: MS,
    inputs: [ins([2, 6], I32), fill(I32, [2, 6], 0), fill(F, [100, 8], 0.01), fill(F, [16, 8], 0.01), fill(F, [2, 8], 0.01), fill(F, [8]), fill(F, [8], 0), fill(I32, [2, 6], 1)],
    outputs: 2,
  },
  {
    // tables, gamma and beta in uint8, then their scales (float) and zero points (uint8), as dynamic quantization writes it
    name: 'ms QEmbedLayerNorm',
    op: 'QEmbedLayerNormalization',
    domain: MS,
    inputs: [
      ins([2, 6], I32), fill(I32, [2, 6], 0), fill(U8, [100, 8], 130), fill(U8, [16, 8], 128), fill(U8, [2, 8], 128), fill(U8, [8], 200), fill(U8, [8], 128), fill(I32, [2, 6], 1),
      scalar(F, 0.01), scalar(F, 0.01), scalar(F, 0.01), scalar(F, 0.01), scalar(F, 0.01),
      scalar(U8, 128), scalar(U8, 128), scalar(U8, 128), scalar(U8, 128), scalar(U8, 128),
    ],
    outputs: 2,
  },
  { name: 'ms DynamicQuantizeMatMul', op: 'DynamicQuantizeMatMul', domain: MS, inputs: [[2, 3, 4], fill(I8, [4, 5]), scalar(F, 0.1), scalar(I8, 0), fill(F, [5], 0)] },
  {
    name: 'ms MatMulIntegerToFloat',
    op: 'MatMulIntegerToFloat',
    domain: MS,
    inputs: [ins([3, 4], U8), fill(I8, [4, 5]), scalar(F, 0.1), scalar(F, 0.1), scalar(U8, 0), scalar(I8, 0), fill(F, [5], 0)],
  },
  {
    name: 'ms MatMulNBits',
    op: 'MatMulNBits',
    domain: MS,
    inputs: [[2, 3, 32], fill(U8, [6, 1, 16], 0x88), fill(F, [6], 0.1)],
    attrs: { K: 32, N: 6, bits: 4, block_size: 32 },
  },
  {
    name: 'ms QAttention',
    op: 'QAttention',
    domain: MS,
    inputs: [ins([2, 5, 8], U8), fill(U8, [8, 24], 1), fill(F, [24], 0), scalar(F, 0.01), scalar(F, 0.01), null, scalar(U8, 0), scalar(U8, 0)],
    attrs: { num_heads: 2 },
  },
];

function buildCase(c: Case) {
  const b = new GraphBuilder();
  const inputs: (Value | null)[] = c.inputs.map((spec, i) => {
    if (spec === null) return null;
    if (spec instanceof Tensor) return b.init(`c${i}`, spec);
    const { shape, dtype } = Array.isArray(spec) ? { shape: spec, dtype: F } : spec;
    return b.input(`x${i}`, dtype, shape);
  });
  // trailing missing inputs are not written
  while (inputs.length && inputs[inputs.length - 1] === null) inputs.pop();
  const outs = b.opN(c.op, inputs, c.attrs ?? {}, { outputs: c.outputs ?? 1, domain: c.domain ?? '' });
  for (const o of outs) b.output(o);
  return b.model({ opset: c.opset ?? 17, extraOpsets: c.domain ? { [c.domain]: 1 } : {} });
}

describe('shape inference matches ONNX Runtime, op by op', () => {
  it.each(CASES.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const model = buildCase(c);
    const analysis = analyzeShapes(model);
    expect(analysis.report).toEqual({ unknownOps: [], failed: [] });
    const { checked, mismatches } = await compareWithOrt(model, analysis, randomInputs(model, { seed: 1 }));
    expect(checked).toBe(c.outputs ?? 1);
    expect(mismatches).toEqual([]);
  });
});
