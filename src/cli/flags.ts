import { InputError } from '../errors.js';
import { checkRuns, checkSeconds, checkThreads } from '../util/limits.js';
import type { Backend } from '../runtime/session.js';

/** commander helper for repeatable options: `--shape a=1x3 --shape b=2`. */
export const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

/** An integer flag at least `min` (and at most `max`), or an InputError naming the flag. */
export function parseIntFlag(flag: string, value: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < min) throw new InputError(`${flag} must be an integer ≥ ${min}, not '${value}'`);
  if (n > max) throw new InputError(`${flag} ${value}: at most ${max}`);
  return n;
}

/** Run counts (`--runs`, `--warmup`): integers from `min` to MAX_RUNS (the bound `benchmark()` applies too). */
export const parseRunsFlag = (flag: string, value: string, min = 1): number => checkRuns(flag, numberOf(value), min, value);

/** `--seconds`: a positive number up to MAX_SECONDS (a week), as `benchmark()` checks it. */
export const parseSecondsFlag = (flag: string, value: string): number => checkSeconds(flag, numberOf(value), value);

/** `--threads`: an integer from 1 to MAX_THREADS, as `benchmark()` and sessions check it. */
export const parseThreadsFlag = (value: string, flag = '--threads'): number => checkThreads(flag, numberOf(value), value);

/** A flag's text as a number (NaN for an empty text, which Number() would read as 0). */
const numberOf = (value: string): number => (value.trim() === '' ? NaN : Number(value));

/** A positive number flag, or an InputError naming the flag. */
export function parsePositiveFlag(flag: string, value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InputError(`${flag} must be a positive number, not '${value}'`);
  return n;
}

/** Parses `--dim seq=128` flags into symbolic dimension values. */
export function parseDimFlags(flags: readonly string[] = []): Record<string, number> {
  const out: Record<string, number> = {};
  for (const f of flags) {
    const m = /^([^=]+)=(\d+)$/.exec(f.trim());
    if (!m) throw new InputError(`bad --dim '${f}': expected name=value, e.g. seq=128`);
    if (!Number.isSafeInteger(Number(m[2]))) throw new InputError(`bad --dim '${f}': the value is too large to count`);
    out[m[1]!] = Number(m[2]);
  }
  return out;
}

/** `--backend node|wasm`, or an InputError. */
export function parseBackendFlag(value: string): Backend {
  if (value !== 'node' && value !== 'wasm') throw new InputError(`--backend must be node or wasm, not '${value}'`);
  return value;
}
