import { describe, expect, it } from 'vitest';
import { InputError } from '../errors.js';
import { dynamicQuantizePass } from '../quantize/dynamic.js';
import { halfPrecisionPass } from '../quantize/float16.js';
import { checkQuantizeOptions, type QuantizeOptions } from '../quantize/quantize.js';
import { staticQuantizePass } from '../quantize/static.js';
import { weightOnlyQuantizePass } from '../quantize/weight-only.js';
import { checkRecipeSteps } from '../search/apply.js';
import { searchCatalog } from '../search/catalog.js';
import { parseRecipeFile, type Recipe } from '../search/recipe.js';
import { foldConstants } from '../passes/fold-constants.js';
import { flagName, isPowerOfTwo, paramProblem, type ParamConstraints } from './validate.js';
import { resolveParams, type Pass } from '../passes/pass.js';

const passes: Pass<any>[] = [dynamicQuantizePass, staticQuantizePass, weightOnlyQuantizePass, halfPrecisionPass, foldConstants];
const recipe = (pass: string, params: Record<string, unknown>): Recipe => ({ target: 'cpu', steps: [{ pass, params }], session: { threads: 1, optLevel: 'all', executionMode: 'sequential' } });

describe('pass parameter validation (one validator for recipes, CLI and library)', () => {
  it('every declared default and search value satisfies its own declaration', () => {
    for (const p of passes) {
      for (const [k, spec] of Object.entries(p.params) as [string, ParamConstraints & { default: unknown; search?: unknown[] }][]) {
        if (spec.default !== undefined) expect(paramProblem(spec.default, spec), `${p.id}.${k} default`).toBeUndefined();
        for (const v of spec.search ?? []) expect(paramProblem(v, spec), `${p.id}.${k} search ${String(v)}`).toBeUndefined();
      }
      expect(() => resolveParams(p)).not.toThrow();
    }
  });

  it('powers of two with exact integer maths (no 32-bit truncation)', () => {
    expect([1, 2, 16, 1024, 2 ** 40, 2 ** 52].every(isPowerOfTwo)).toBe(true);
    // 2^32+16 & (2^32+15) is 16 & 15 = 0 in 32-bit maths; 1e308 & x is 0 too
    expect([0, -16, 24, 2 ** 32 + 16, 1e308, Infinity, NaN, 16.5, 2 ** 53 + 2].some(isPowerOfTwo)).toBe(false);
  });

  const bad: [string, Record<string, unknown>, RegExp][] = [
    ['quantize-dynamic', { weightType: 'int3' }, /weightType must be one of int8, uint8, not "int3"/],
    ['quantize-dynamic', { perChannel: 'yes' }, /perChannel must be true or false, not "yes"/],
    ['quantize-static', { calibMethod: 'evil' }, /calibMethod must be one of minmax, percentile, entropy, not "evil"/],
    ['quantize-static', { percentile: 101 }, /percentile must be between 50 and 100/],
    ['quantize-static', { calibration: [1, 2] }, /calibration is run-time data/],
    ['quantize-weight-only', { accuracyLevel: 99 }, /accuracyLevel must be one of 0, 1, 2, 3, 4, not 99/],
    ['quantize-weight-only', { blockSize: '32' }, /blockSize must be an integer, not "32"/],
    ['quantize-weight-only', { blockSize: 1e308 }, /blockSize must be an integer, not 1e\+308/],
    ['quantize-weight-only', { blockSize: 2 ** 32 + 16 }, /blockSize must be a power of two ≥ 16/],
    ['quantize-weight-only', { blockSize: 2 ** 40 }, /blockSize must be a power of two between 16 and 65536/],
    ['quantize-weight-only', { blockSize: 8 }, /blockSize must be a power of two between 16 and 65536, not 8/],
    ['quantize-weight-only', { bits: 3 }, /bits must be one of 4, 8/],
    ['quantize-weight-only', { include: 'fc1' }, /include must be a list of strings/],
    ['quantize-weight-only', { nope: 1 }, /unknown parameter 'nope'/],
    ['convert-half', { headroom: NaN }, /headroom must be a finite number/],
  ];
  for (const [pass, params, re] of bad) {
    it(`recipe step ${pass} ${JSON.stringify(params)} → one line naming the step`, () => {
      const run = () => checkRecipeSteps(recipe(pass, params), searchCatalog());
      expect(run).toThrow(InputError);
      expect(run).toThrow(new RegExp(`^recipe step ${pass}: `));
      expect(run).toThrow(re);
    });
  }

  it('library calls and CLI flags go through the same declarations', () => {
    const lib = (o: Partial<QuantizeOptions>) => () => checkQuantizeOptions({ mode: 'weight-only', ...o } as QuantizeOptions);
    expect(lib({ blockSize: 2 ** 32 + 16 })).toThrow(/quantize --mode weight-only: blockSize must be a power of two/);
    expect(lib({ blockSize: 64, bits: 8 })).not.toThrow();
    const cli = () => checkQuantizeOptions({ mode: 'static', calibMethod: 'evil' } as unknown as QuantizeOptions, { source: 'quantize', label: flagName });
    expect(cli).toThrow(/^quantize: --calib-method must be one of minmax, percentile, entropy, not "evil"$/);
    expect(() => resolveParams(dynamicQuantizePass, { weightType: 'int3' } as never)).toThrow(/^quantize-dynamic: weightType must be one of/);
    expect(() => checkQuantizeOptions({ mode: 'static', perChannel: 'yes' } as unknown as QuantizeOptions)).toThrow(/perChannel must be one of conv, all, none, not "yes"/);
  });

  it('recipe files: model record shape checked, hostile keys refused', () => {
    const file = (extra: Record<string, unknown>) => ({ format: 'inferopt-recipe', version: 1, recipe: recipe('quantize-dynamic', {}), ...extra });
    expect(() => parseRecipeFile(file({ model: { file: 'm.onnx', sha256: 'abc' } }))).toThrow(/"model" must be/);
    expect(parseRecipeFile(file({ model: { file: 'm.onnx', sha256: 'a'.repeat(64), extra: 1 } })).model).toEqual({ file: 'm.onnx', sha256: 'a'.repeat(64) });
    const proto = JSON.parse('{"__proto__": {"polluted": 1}}') as Record<string, unknown>;
    expect(() => checkRecipeSteps(recipe('quantize-dynamic', proto), searchCatalog())).toThrow(/unknown parameter '__proto__'/);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });
});
