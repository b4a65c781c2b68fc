import { readFileSync } from 'node:fs';
import { InputError } from '../errors.js';
import { bootstrap, bootstrapRatio, type ResampleOptions, type Estimate } from './bootstrap.js';

/**
 * Greedy CTC decoding of one sequence: arg-max class per time step, repeats merged, blanks dropped.
 * `probs` is [T, C] (probabilities or logits: arg-max is the same).
 */
export function ctcGreedy(probs: Float32Array, steps: number, classes: number, blank = 0, offset = 0): number[] {
  const out: number[] = [];
  let prev = -1;
  for (let t = 0; t < steps; t++) {
    const base = offset + t * classes;
    let best = 0;
    for (let c = 1; c < classes; c++) if (probs[base + c]! > probs[base + best]!) best = c;
    if (best !== prev && best !== blank) out.push(best);
    prev = best;
  }
  return out;
}

/**
 * The recogniser's alphabet, index = class: blank first, then the keys file's characters, then a space
 * when the model has one more class than that (PaddleOCR's `use_space_char`).
 */
export function ctcAlphabet(keysFile: string, classes: number): string[] {
  let keys: string[];
  try {
    keys = readFileSync(keysFile, 'utf8').split(/\r?\n/);
  } catch {
    throw new InputError(`character list not found: ${keysFile}`);
  }
  if (keys[keys.length - 1] === '') keys.pop();
  const alphabet = ['', ...keys];
  if (classes === alphabet.length + 1) alphabet.push(' ');
  if (classes !== alphabet.length) {
    throw new InputError(`${keysFile}: ${keys.length} characters do not fit the model's ${classes} classes (expected ${classes - 2} or ${classes - 1})`);
  }
  return alphabet;
}

/** Levenshtein distance between two sequences of code points (unit costs), two rows of memory. */
export function editDistance(a: readonly string[], b: readonly string[]): number {
  if (a.length < b.length) [a, b] = [b, a];
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  let cur = new Array<number>(b.length + 1);
  for (let i = 1; i <= a.length; i++) {
    cur[0] = i;
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    [prev, cur] = [cur, prev];
  }
  return prev[b.length]!;
}

/** Code points (so a CJK character or an emoji counts as one character). */
export const chars = (s: string) => Array.from(s);

/** Per-line OCR outcomes: edits against the reference, its length, exact match. */
export class OcrScores {
  readonly edits: number[] = [];
  readonly lengths: number[] = [];
  readonly exact: number[] = [];
  /** A few (reference, prediction) pairs that differ, for the report. */
  readonly misses: { id: string; expected: string; got: string }[] = [];

  add(id: string, expected: string, got: string): void {
    const e = editDistance(chars(expected), chars(got));
    this.edits.push(e);
    this.lengths.push(chars(expected).length);
    this.exact.push(expected === got ? 1 : 0);
    if (e > 0 && this.misses.length < 10) this.misses.push({ id, expected, got });
  }

  get n(): number {
    return this.edits.length;
  }

  estimates(opts: ResampleOptions = {}): Record<string, Estimate> {
    return {
      /** Character error rate: total edits / total reference characters. */
      cer: bootstrapRatio(this.edits, this.lengths, opts),
      exactMatch: bootstrap(this.n, (idx) => idx.reduce((s, i) => s + this.exact[i]!, 0) / idx.length, opts),
    };
  }
}
