import { describe, expect, it } from 'vitest';
import { defineTraits, opsWith, opTraits, registerOp } from './index.js';

describe('op traits on registry entries', () => {
  it('attaches traits defined before or after the op is registered, to every opset entry', () => {
    defineTraits('test.traits', 'Early', { commutative: true });
    registerOp({ domain: 'test.traits', opType: 'Early', opsets: [1, 9] });
    registerOp({ domain: 'test.traits', opType: 'Early', opsets: [10] });
    defineTraits('test.traits', 'Early', { quant: { qdq: true } });
    defineTraits('test.traits', 'Early', { quant: { weightInput: 1 } });
    expect(opTraits('test.traits', 'Early')).toEqual({ commutative: true, quant: { qdq: true, weightInput: 1 } });
    expect(opsWith((t) => t.commutative === true)).toContain('Early');
    expect(() => defineTraits('test.traits', 'Early', { halfUnsafe: 'a' })).not.toThrow();
    expect(() => defineTraits('test.traits', 'Early', { halfUnsafe: 'b' })).toThrow(/trait halfUnsafe twice/);
  });

  it('answers for ORT-internal domains from the standard and com.microsoft entries, {} for unknown ops', () => {
    expect(opTraits('com.microsoft.nchwc', 'Conv').kernel).toBe('conv');
    expect(opTraits('ai.onnx', 'Add').commutative).toBe(true);
    expect(opTraits('', 'Sub').commutative).toBeUndefined();
    expect(opTraits('com.microsoft', 'Attention').quant?.tables).toBe(true);
    expect(opTraits('', 'NoSuchOp')).toEqual({});
  });

  it('holds what the passes used to list: fold, fp16, opset, quantization and pruning facts', () => {
    expect(opTraits('', 'If').neverFold).toBe(true);
    expect(opTraits('', 'DequantizeLinear').neverFold).toBe(true);
    expect(opTraits('', 'ConstantOfShape').sizeInflating).toBe(true);
    expect(opTraits('', 'RandomNormal').nondeterministic).toBe(true);
    expect(opTraits('', 'TopK').halfUnsafe).toMatch(/fp16/);
    expect(opTraits('', 'ReduceSum').signatureChanges?.map((c) => [c.at, c.attrsToInputs?.[0]?.attr])).toEqual([[13, 'axes']]);
    expect(opTraits('', 'ReduceMean').signatureChanges?.map((c) => [c.at, c.attrsToInputs?.[0]?.attr])).toEqual([[18, 'axes']]);
    expect(opTraits('', 'Resize').breaksAt).toEqual([11]);
    expect(opTraits('', 'Gemm').quant).toMatchObject({ qdq: true, weightInput: 1, biasInput: 2, weights: true });
    expect(opsWith((t) => t.prunedBy?.includes('head') === true).sort()).toEqual(['Attention', 'MultiHeadAttention', 'Softmax']);
  });
});
