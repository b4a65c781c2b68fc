import { InputError } from '../errors.js';

/**
 * What a pass parameter's (or a dataset spec key's) value may be. The declaration on the pass is the single
 * source: recipes, CLI flags and library calls are all checked against it here, by `resolveParams` (as Olive
 * checks a pass config against its `PassConfigParam`s before running); dataset specs use the same checks.
 * `object` is run-time data (calibration feeds, caches, statistics): library calls only, never in a recipe.
 */
export type ParamType = 'boolean' | 'integer' | 'number' | 'string' | 'string[]' | 'number[]' | 'object';

export interface ParamConstraints {
  type: ParamType;
  /** The only values allowed (compared with ===). */
  choices?: readonly unknown[];
  /** Inclusive bounds for numbers. */
  min?: number;
  max?: number;
  /** An integer power of two (checked with exact integer maths, not 32-bit operators). */
  powerOfTwo?: boolean;
  /** `null` is a value too (e.g. "the model has no such input"). */
  nullable?: boolean;
}

/** Where values come from, for the error line: `recipe step quantize-dynamic`, and how a parameter is named (`--block-size`). */
export interface ParamSource {
  source: string;
  label?: (param: string) => string;
  /** Values from a file (JSON): run-time objects are refused. */
  serialized?: boolean;
  /** What a name is called in the unknown-name error (default `parameter`; dataset specs say `key`). */
  noun?: string;
}

/** True for 1, 2, 4, … 2^52: exact for every safe integer (no `x & (x - 1)`, which truncates to 32 bits). */
export function isPowerOfTwo(n: number): boolean {
  if (!Number.isSafeInteger(n) || n < 1) return false;
  let x = n;
  while (x > 1) {
    if (x % 2 !== 0) return false;
    x /= 2;
  }
  return true;
}

/** A short, printable rendering of a value for an error line (strings quoted, long values cut). */
export function showValue(v: unknown): string {
  let s: string;
  try {
    s = typeof v === 'string' ? JSON.stringify(v) : typeof v === 'number' || typeof v === 'boolean' || v === null || v === undefined ? String(v) : JSON.stringify(v) ?? String(v);
  } catch {
    s = Object.prototype.toString.call(v);
  }
  s = s.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
  return s.length > 60 ? `${s.slice(0, 57)}…` : s;
}

/** Why `value` does not satisfy `spec`, or undefined when it does. */
export function paramProblem(value: unknown, spec: ParamConstraints, serialized = false): string | undefined {
  if (value === null && spec.nullable) return undefined;
  switch (spec.type) {
    case 'boolean':
      if (typeof value !== 'boolean') return 'must be true or false';
      break;
    case 'integer':
      if (typeof value !== 'number' || !Number.isSafeInteger(value)) return 'must be an integer';
      break;
    case 'number':
      if (typeof value !== 'number' || !Number.isFinite(value)) return 'must be a finite number';
      break;
    case 'string':
      if (typeof value !== 'string') return 'must be a string';
      break;
    case 'string[]':
      if (!Array.isArray(value) || !value.every((x) => typeof x === 'string')) return 'must be a list of strings';
      break;
    case 'number[]':
      if (!Array.isArray(value) || !value.every((x) => typeof x === 'number' && Number.isFinite(x))) return 'must be a list of numbers';
      break;
    case 'object':
      if (serialized) return 'is run-time data and cannot be given here';
      if (value === null || typeof value !== 'object') return 'must be an object';
      return undefined;
  }
  if (spec.choices && !spec.choices.includes(value)) return `must be one of ${spec.choices.map((c) => (typeof c === 'string' ? c : String(c))).join(', ')}`;
  if (typeof value === 'number') {
    if (spec.powerOfTwo && !isPowerOfTwo(value)) return `must be a power of two${spec.min !== undefined ? ` ≥ ${spec.min}` : ''}${spec.max !== undefined ? ` and ≤ ${spec.max}` : ''}`;
    if ((spec.min !== undefined && value < spec.min) || (spec.max !== undefined && value > spec.max)) {
      const range = spec.min !== undefined && spec.max !== undefined ? `between ${spec.min} and ${spec.max}` : spec.min !== undefined ? `≥ ${spec.min}` : `≤ ${spec.max}`;
      return `must be ${spec.powerOfTwo ? 'a power of two ' : ''}${range}`;
    }
  }
  return undefined;
}

/**
 * Checks given parameter values against their declarations: unknown names and bad values are one InputError
 * line naming the source, the parameter and the value. `undefined` values mean "the default" and pass.
 */
export function validateParams(specs: Readonly<Record<string, ParamConstraints>>, given: object, where: ParamSource): void {
  const label = where.label ?? ((k: string) => k);
  if (given === null || typeof given !== 'object' || Array.isArray(given)) throw new InputError(`${where.source}: parameters must be an object`);
  for (const [k, v] of Object.entries(given)) {
    if (v === undefined) continue;
    const spec = Object.prototype.hasOwnProperty.call(specs, k) ? specs[k] : undefined;
    if (!spec) throw new InputError(`${where.source}: unknown ${where.noun ?? 'parameter'} '${showValue(k).slice(1, -1)}' (known: ${Object.keys(specs).join(', ')})`);
    const why = paramProblem(v, spec, where.serialized);
    if (why) throw new InputError(`${where.source}: ${label(k)} ${why}, not ${showValue(v)}`);
  }
}

/** `blockSize` → `--block-size`: how the CLI names a pass parameter. */
export function flagName(param: string): string {
  return `--${param.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}
