/**
 * The limits inferopt enforces on what it reads and makes, in one place. Each is checked before the work
 * (or the allocation) it bounds, and a refusal is one line naming the limit and how to raise it.
 */
import { InputError } from '../errors.js';

/**
 * How deep messages and documents may nest: protobuf messages in a model file (the same limit as protobuf's
 * own parser, so ONNX Runtime loads what inferopt loads: an `If` inside an `If` costs 3 levels), and JSON or
 * YAML values in recipes and dataset specs.
 */
export const MAX_NESTING = 100;

/** Default ceiling for tensors inferopt generates (random inputs, batches): 2 GiB; raise with INFEROPT_MAX_INPUT_BYTES. */
export const DEFAULT_MAX_GENERATED_BYTES = 2 ** 31;

/** Timed runs and seconds a benchmark may ask for. */
export const MAX_RUNS = 10_000_000;
export const MAX_SECONDS = 7 * 24 * 3600;
/** Intra-op threads a session may ask for (ONNX Runtime allocates per thread: 1e9 threads is bad_alloc). */
export const MAX_THREADS = 1024;

/**
 * The bounds of a benchmark's settings, for the CLI flags and the library options alike: `what` names the
 * setting as the caller knows it (`--runs` or `runs`). Returns the value; throws one InputError line.
 */
export function checkCount(what: string, n: number, min: number, max: number, text = String(n)): number {
  if (!Number.isSafeInteger(n) || n < min) throw new InputError(`${what} must be an integer ≥ ${min}, not '${text}'`);
  if (n > max) throw new InputError(`${what} ${text}: at most ${max}`);
  return n;
}
export const checkRuns = (what: string, n: number, min = 1, text?: string): number => checkCount(what, n, min, MAX_RUNS, text);
export const checkThreads = (what: string, n: number, text?: string): number => checkCount(what, n, 1, MAX_THREADS, text);
export function checkSeconds(what: string, n: number, text = String(n)): number {
  if (!Number.isFinite(n) || n <= 0) throw new InputError(`${what} must be a positive number, not '${text}'`);
  if (n > MAX_SECONDS) throw new InputError(`${what} ${text}: at most ${MAX_SECONDS} (a week)`);
  return n;
}

/** The ceiling on generated tensors: INFEROPT_MAX_INPUT_BYTES (bytes, or with K/M/G suffix) or the default. */
export function maxGeneratedBytes(): number {
  const v = typeof process !== 'undefined' ? process.env?.['INFEROPT_MAX_INPUT_BYTES'] : undefined; // no process in a browser
  if (!v) return DEFAULT_MAX_GENERATED_BYTES;
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?$/i.exec(v.trim());
  if (!m) throw new InputError(`INFEROPT_MAX_INPUT_BYTES='${v}': expected a size such as 4G or 500000000`);
  const scale = { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g' | 't'];
  return Number(m[1]) * scale;
}

/** Human size: 1.5 GB. */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n)) return 'unbounded';
  const units = ['bytes', 'KB', 'MB', 'GB', 'TB', 'PB', 'EB'];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) {
    n /= 1000;
    i++;
  }
  return i === 0 ? `${n} bytes` : `${n.toPrecision(3)} ${units[i]}`;
}

/**
 * Refuses a generated tensor of `count` elements of `bytesPer` bytes past the ceiling (or past what
 * JavaScript can count exactly), before anything is allocated. `what` names it: "random input 'x' [1e9]".
 */
export function checkGeneratedSize(what: string, count: number, bytesPer: number): void {
  const bytes = count * bytesPer;
  const max = maxGeneratedBytes();
  if (!Number.isSafeInteger(count) || bytes > max) {
    throw new InputError(
      `${what} would take ${Number.isSafeInteger(count) ? formatBytes(bytes) : 'more elements than can be counted'}, over the ${formatBytes(max)} limit for generated data; use smaller shapes (--shape/--dim) or raise INFEROPT_MAX_INPUT_BYTES`,
    );
  }
}

/**
 * The nesting depth of a parsed JSON/YAML value, without recursion (a 100k-deep document must not overflow
 * the stack here); refuses past MAX_NESTING.
 */
export function checkNesting(value: unknown, what: string): void {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length) {
    const [v, d] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (d >= MAX_NESTING) throw new InputError(`${what}: nested more than ${MAX_NESTING} levels deep; inferopt's limit`);
    for (const x of Array.isArray(v) ? v : Object.values(v)) if (x !== null && typeof x === 'object') stack.push([x, d + 1]);
  }
}
