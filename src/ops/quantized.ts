import { DataType } from '../ir/dtype.js';
import { registerOp, type InferContext } from './registry.js';
import { elemIn, FLOAT, hasInput, perElementCost, shapeIn, tensorOf } from './util.js';

/**
 * Quantize/dequantize ops (QLinearConv, ConvInteger live in conv.ts; QLinearMatMul, MatMulInteger and the
 * com.microsoft integer matmuls in matmul.ts). QuantizeLinear's output type is the zero point's, else
 * `output_dtype` (opset 21), else uint8; DequantizeLinear's is the scale's.
 */

function quantizedType(ctx: InferContext): DataType {
  if (hasInput(ctx, 2)) {
    const zp = elemIn(ctx, 2);
    if (zp !== undefined) return zp;
  }
  const out = ctx.node.attrInt('output_dtype', 0);
  return out !== 0 ? (out as DataType) : DataType.UINT8;
}

for (const domain of ['', 'com.microsoft']) {
  registerOp({ domain, opType: 'QuantizeLinear', quantConversion: true, traits: { neverFold: true }, infer: (ctx) => [tensorOf(quantizedType(ctx), shapeIn(ctx, 0))], cost: perElementCost(2) });
  registerOp({ domain, opType: 'DequantizeLinear', quantConversion: true, traits: { neverFold: true }, infer: (ctx) => [tensorOf(elemIn(ctx, 1), shapeIn(ctx, 0))], cost: perElementCost(2) });
}

registerOp({
  domain: '',
  opType: 'DynamicQuantizeLinear',
  quantConversion: true,
  traits: { neverFold: true },
  infer: (ctx) => [tensorOf(DataType.UINT8, shapeIn(ctx, 0)), tensorOf(FLOAT, []), tensorOf(DataType.UINT8, [])],
  // min/max pass, then scale and round
  cost: perElementCost(4),
});
