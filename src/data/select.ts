import { rng } from '../util/random.js';
import type { DataRecord, RecordSource } from './types.js';

/** Which records a dataset yields, in which order. */
export interface Selection {
  /** Shuffle with this seed (an exact permutation for indexed sources, a bounded buffer for streams). */
  shuffleSeed?: number;
  /** Buffer size of the streaming shuffle (records held at once; default 1024). */
  shuffleBuffer?: number;
  limit?: number;
  /** Keep only one side of the calibration/evaluation split. */
  part?: 'calibration' | 'evaluation';
  /** Share of records that fall on the calibration side (default 0.1). */
  calibrationFraction?: number;
  /** Seed of the split hash (default 0); the same seed always gives the same split. */
  splitSeed?: number;
}

/** FNV-1a over the UTF-16 code units, then a murmur finalizer: a cheap, well-mixed 32-bit hash. */
export function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Which side of the split an id falls on. It depends only on (seed, id), never on order or on the other
 * records, so calibration and evaluation can never share a sample, however either is shuffled or limited.
 */
export function splitPart(id: string, fraction = 0.1, seed = 0): 'calibration' | 'evaluation' {
  return hash32(`${seed}\u0000${id}`) / 4294967296 < fraction ? 'calibration' : 'evaluation';
}

function inPart(id: string, sel: Selection): boolean {
  return !sel.part || splitPart(id, sel.calibrationFraction, sel.splitSeed) === sel.part;
}

/** Records of a source after split, shuffle and limit. Memory: an index list, or the shuffle buffer. */
export function selectRecords(src: RecordSource, sel: Selection = {}): AsyncIterable<DataRecord> {
  if (src.indexed && (sel.shuffleSeed !== undefined || sel.part)) return selectIndexed(src.indexed, sel);
  return selectStreamed(src, sel);
}

async function* selectIndexed(ix: NonNullable<RecordSource['indexed']>, sel: Selection): AsyncIterable<DataRecord> {
  let order: number[] = [];
  for (let i = 0; i < ix.length; i++) if (inPart(ix.idAt(i), sel)) order.push(i);
  if (sel.shuffleSeed !== undefined) order = permute(order, sel.shuffleSeed);
  const n = Math.min(order.length, sel.limit ?? Infinity);
  for (let k = 0; k < n; k++) yield await ix.at(order[k]!);
}

/** Fisher–Yates with the project's seeded generator. */
export function permute<T>(items: T[], seed: number): T[] {
  const rand = rng(seed);
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

async function* selectStreamed(src: RecordSource, sel: Selection): AsyncIterable<DataRecord> {
  const limit = sel.limit ?? Infinity;
  if (limit <= 0) return;
  let given = 0;
  const filtered = filterPart(src.stream(), sel);
  const records = sel.shuffleSeed === undefined ? filtered : bufferShuffle(filtered, sel.shuffleSeed, sel.shuffleBuffer ?? 1024);
  for await (const r of records) {
    yield r;
    if (++given >= limit) return;
  }
}

async function* filterPart(records: AsyncIterable<DataRecord>, sel: Selection): AsyncIterable<DataRecord> {
  for await (const r of records) if (inPart(r.id, sel)) yield r;
}

/**
 * Streaming shuffle: holds `size` records, emits a random one as each new record arrives, then drains the
 * rest in random order. Records that are far apart in the stream mix less than in an exact permutation.
 */
export async function* bufferShuffle<T>(items: AsyncIterable<T>, seed: number, size: number): AsyncIterable<T> {
  const rand = rng(seed);
  const buf: T[] = [];
  for await (const it of items) {
    if (buf.length < size) {
      buf.push(it);
      continue;
    }
    const j = Math.floor(rand() * size);
    const out = buf[j]!;
    buf[j] = it;
    yield out;
  }
  while (buf.length) {
    const j = Math.floor(rand() * buf.length);
    const out = buf[j]!;
    buf[j] = buf[buf.length - 1]!;
    buf.pop();
    yield out;
  }
}

/** Maps an async iterable with up to `concurrency` calls in flight, keeping the input order. */
export async function* mapOrdered<T, U>(items: AsyncIterable<T>, fn: (x: T) => Promise<U>, concurrency = 4): AsyncIterable<U> {
  const pending: Promise<U>[] = [];
  for await (const it of items) {
    const p = fn(it);
    p.catch(() => undefined); // observed when awaited below; avoids an unhandled-rejection warning meanwhile
    pending.push(p);
    if (pending.length >= concurrency) yield await pending.shift()!;
  }
  while (pending.length) yield await pending.shift()!;
}
