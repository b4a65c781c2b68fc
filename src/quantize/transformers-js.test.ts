import { describe, expect, it } from 'vitest';
import { transformersJsDtypeOf } from './transformers-js.js';

const step = (pass: string, params: Record<string, unknown> = {}) => ({ pass, params });

describe('the transformers.js dtype of a recipe (optimize --layout transformers.js)', () => {
  it('names the file by the numeric form the steps give', () => {
    expect(transformersJsDtypeOf([])).toBe('fp32');
    expect(transformersJsDtypeOf([step('simplify'), step('prune', { granularity: 'head' })])).toBe('fp32');
    expect(transformersJsDtypeOf([step('simplify'), step('convert-half', { precision: 'fp16' })])).toBe('fp16');
    expect(transformersJsDtypeOf([step('simplify'), step('quantize-dynamic', { weightType: 'int8' })])).toBe('int8');
    expect(transformersJsDtypeOf([step('prune'), step('quantize-dynamic', { weightType: 'uint8' })])).toBe('uint8');
    expect(transformersJsDtypeOf([step('quantize-weight-only', { bits: 4, blockSize: 32 })])).toBe('q4');
    expect(transformersJsDtypeOf([step('quantize-weight-only', { bits: 4 }), step('convert-half')])).toBe('q4f16');
    // other 8-bit forms: transformers.js's "8-bit quantized" file
    expect(transformersJsDtypeOf([step('simplify'), step('quantize-static')])).toBe('q8');
    expect(transformersJsDtypeOf([step('quantize-weight-only', { bits: 8 })])).toBe('q8');
    expect(transformersJsDtypeOf([step('qat')])).toBe('q8');
  });
});
