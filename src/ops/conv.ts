import { DataType } from '../ir/dtype.js';
import type { Node } from '../ir/graph.js';
import type { Dim, ValueType } from '../ir/types.js';
import { defineTraits, registerOp, type Cost, type InferContext } from './registry.js';
import { elemIn, gemmCost, hasInput, INT64, isNum, like, numel, perElementCost, prodDims, shapeIn, tensorOf } from './util.js';

/**
 * Convolutions and pooling: Conv, ConvTranspose, the quantized QLinearConv/ConvInteger, com.microsoft
 * FusedConv, Max/Average/Lp pooling and the global pools. Output sizes follow the ONNX formulas for
 * explicit pads, auto_pad and ceil_mode; a symbolic spatial dim survives only where the size is unchanged.
 */

interface Window {
  kernel: number[];
  strides: number[];
  dilations: number[];
  /** begin pads then end pads, as in the ONNX attribute. */
  pads: number[];
  autoPad: string;
  ceil: boolean;
}

function windowOf(node: Node, kernel: number[]): Window {
  const r = kernel.length;
  return {
    kernel,
    strides: node.attrInts('strides') ?? new Array<number>(r).fill(1),
    dilations: node.attrInts('dilations') ?? new Array<number>(r).fill(1),
    pads: node.attrInts('pads') ?? new Array<number>(2 * r).fill(0),
    autoPad: node.attrString('auto_pad', 'NOTSET'),
    ceil: node.attrInt('ceil_mode', 0) === 1,
  };
}

/** Output size of one spatial axis of a convolution or pooling window. */
function slideDim(input: Dim, w: Window, k: number): Dim {
  const kEff = (w.kernel[k]! - 1) * w.dilations[k]! + 1;
  const s = w.strides[k]!;
  if (w.autoPad === 'SAME_UPPER' || w.autoPad === 'SAME_LOWER') return isNum(input) ? Math.ceil(input / s) : s === 1 ? input : null;
  const padSum = w.autoPad === 'VALID' ? 0 : w.pads[k]! + w.pads[k + w.kernel.length]!;
  if (!isNum(input)) return kEff === 1 && s === 1 && padSum === 0 ? input : null;
  const span = input + padSum - kEff;
  if (!w.ceil) return Math.floor(span / s) + 1;
  // ceil_mode: the last window must start inside the input or its begin padding (as ORT and PyTorch do)
  let out = Math.ceil(span / s) + 1;
  if ((out - 1) * s >= input + w.pads[k]!) out--;
  return out;
}

/** [N, channels, spatial…] of a sliding-window op over x. */
function slideShape(x: Dim[] | undefined, channels: Dim, w: Window | undefined): Dim[] | undefined {
  if (!x || !w) return undefined;
  return [x[0]!, channels, ...x.slice(2).map((d, k) => slideDim(d, w, k))];
}

/** Kernel size: the attribute, else the weight's trailing dims. */
function kernelOf(node: Node, weight: Dim[] | undefined): number[] | undefined {
  const k = node.attrInts('kernel_shape');
  if (k) return k;
  const ks = weight?.slice(2);
  return ks && ks.every(isNum) ? (ks as number[]) : undefined;
}

function convShape(node: Node, x: Dim[] | undefined, weight: Dim[] | undefined): Dim[] | undefined {
  const kernel = kernelOf(node, weight);
  return slideShape(x, weight?.[0] ?? null, kernel && windowOf(node, kernel));
}

/** MACs of a convolution: every output element reads C/group · prod(kernel) inputs. */
function convMacs(weight: Dim[] | undefined, outputs: readonly (ValueType | undefined)[]): number | undefined {
  const outN = numel(outputs[0]);
  const perOut = weight && prodDims(weight.slice(1));
  return outN !== undefined && isNum(perOut) ? outN * perOut : undefined;
}

function convCost(weightInput: number, biasInput: number) {
  return (ctx: InferContext, outputs: readonly (ValueType | undefined)[]): Cost | undefined => {
    const bias = hasInput(ctx, biasInput) ? (numel(outputs[0]) ?? 0) : 0;
    return gemmCost(ctx, outputs, convMacs(shapeIn(ctx, weightInput), outputs), bias);
  };
}

registerOp({
  domain: '',
  opType: 'Conv',
  traits: { kernel: 'conv', prunedBy: ['channel'], quant: { qdq: true, weightInput: 1, biasInput: 2 } },
  arithmetic: 'float',
  infer: (ctx) => [like(ctx, 0, convShape(ctx.node, shapeIn(ctx, 0), shapeIn(ctx, 1)))],
  cost: convCost(1, 2),
});

registerOp({
  domain: 'com.microsoft',
  opType: 'FusedConv',
  traits: { kernel: 'conv', prunedBy: ['channel'] },
  arithmetic: 'float',
  infer: (ctx) => [like(ctx, 0, convShape(ctx.node, shapeIn(ctx, 0), shapeIn(ctx, 1)))],
  cost: convCost(1, 2),
});

registerOp({
  domain: '',
  opType: 'ConvInteger',
  arithmetic: 'int8',
  infer: (ctx) => [tensorOf(DataType.INT32, convShape(ctx.node, shapeIn(ctx, 0), shapeIn(ctx, 1)))],
  cost: convCost(1, -1),
});

// x, x_scale, x_zero_point, w, w_scale, w_zero_point, y_scale, y_zero_point, B
registerOp({
  domain: '',
  opType: 'QLinearConv',
  arithmetic: 'int8',
  infer: (ctx) => [tensorOf(elemIn(ctx, 7) ?? elemIn(ctx, 0), convShape(ctx.node, shapeIn(ctx, 0), shapeIn(ctx, 3)))],
  cost: convCost(3, 8),
});

// ---- ConvTranspose ------------------------------------------------------------------------------------------

function convTransposeShape(node: Node, x: Dim[] | undefined, weight: Dim[] | undefined): Dim[] | undefined {
  const kernel = kernelOf(node, weight);
  if (!x || !kernel) return undefined;
  const group = node.attrInt('group', 1);
  const channels = isNum(weight?.[1]) ? weight[1] * group : null;
  const explicit = node.attrInts('output_shape');
  if (explicit) return [x[0]!, channels, ...explicit.slice(-kernel.length)];
  const w = windowOf(node, kernel);
  const outPad = node.attrInts('output_padding') ?? new Array<number>(kernel.length).fill(0);
  const spatial = x.slice(2).map((d, k): Dim => {
    if (!isNum(d)) return null;
    const s = w.strides[k]!;
    if (w.autoPad === 'SAME_UPPER' || w.autoPad === 'SAME_LOWER') return d * s;
    const padSum = w.autoPad === 'VALID' ? 0 : w.pads[k]! + w.pads[k + kernel.length]!;
    return s * (d - 1) + outPad[k]! + (kernel[k]! - 1) * w.dilations[k]! + 1 - padSum;
  });
  return [x[0]!, channels, ...spatial];
}

registerOp({
  domain: '',
  opType: 'ConvTranspose',
  traits: { kernel: 'conv', prunedBy: ['channel'] },
  arithmetic: 'float',
  infer: (ctx) => [like(ctx, 0, convTransposeShape(ctx.node, shapeIn(ctx, 0), shapeIn(ctx, 1)))],
  // every input element is scattered through a (M/group)·prod(kernel) window
  cost: (ctx, outputs) => {
    const inN = numel(ctx.inputs[0]);
    const w = shapeIn(ctx, 1);
    const perIn = w && prodDims(w.slice(1));
    const macs = inN !== undefined && isNum(perIn) ? inN * perIn : undefined;
    return gemmCost(ctx, outputs, macs, hasInput(ctx, 2) ? (numel(outputs[0]) ?? 0) : 0);
  },
});

// ---- pooling --------------------------------------------------------------------------------------------------

function poolShape(node: Node, x: Dim[] | undefined): Dim[] | undefined {
  const kernel = node.attrInts('kernel_shape');
  return slideShape(x, x?.[1] ?? null, kernel && windowOf(node, kernel));
}

const poolCost = (ctx: InferContext, outputs: readonly (ValueType | undefined)[]) => {
  const k = ctx.node.attrInts('kernel_shape') ?? [];
  return perElementCost(k.reduce((a, b) => a * b, 1))(ctx, outputs.slice(0, 1));
};

registerOp({
  domain: '',
  opType: 'MaxPool',
  traits: { quant: { passThrough: true } },
  infer: (ctx) => {
    const s = poolShape(ctx.node, shapeIn(ctx, 0));
    return [like(ctx, 0, s), tensorOf(INT64, s)];
  },
  cost: poolCost,
});

for (const opType of ['AveragePool', 'LpPool']) {
  registerOp({ domain: '', opType, infer: (ctx) => [like(ctx, 0, poolShape(ctx.node, shapeIn(ctx, 0)))], cost: poolCost });
}

for (const opType of ['GlobalAveragePool', 'GlobalMaxPool', 'GlobalLpPool']) {
  registerOp({
    domain: '',
    opType,
    infer: (ctx) => {
      const x = shapeIn(ctx, 0);
      return [like(ctx, 0, x && [...x.slice(0, 2), ...x.slice(2).map(() => 1)])];
    },
    // every input element is read and added once
    cost: (ctx, outputs) => {
      const c = perElementCost(1)(ctx, outputs);
      const n = numel(ctx.inputs[0]);
      return c && n !== undefined ? { ...c, flops: n } : undefined;
    },
  });
}
defineTraits('', ['AveragePool', 'GlobalAveragePool'], { quant: { qdq: true } }); // QLinearAveragePool, QLinearGlobalAveragePool

/**
 * A depthwise convolution: one filter per input channel (group = channels, weight [C, 1, …]). Its int8 form
 * (QLinearConv) has no fast kernel in onnxruntime-web's wasm build: measured there, the depthwise layers of
 * MobileNetV2 run about 10× slower in int8 than in float (static quantization leaves them float for wasm).
 */
export function isDepthwiseConv(node: Node): boolean {
  if (node.opType !== 'Conv' || (node.domain !== '' && node.domain !== 'ai.onnx')) return false;
  const group = node.attrInt('group', 1);
  const w = node.input(1);
  const t = w?.type;
  const shape: readonly Dim[] | undefined = w?.constTensor()?.dims ?? (t?.kind === 'tensor' ? t.shape : undefined);
  return group > 1 && !!shape && shape[0] === group && shape[1] === 1;
}
