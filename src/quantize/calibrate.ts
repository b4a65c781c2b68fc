import { DataType } from '../ir/dtype.js';
import type { Model } from '../ir/graph.js';
import type { Tensor } from '../ir/tensor.js';
import { contentHash } from '../util/hash.js';
import { cachePath, readCache, writeCache } from './calib-cache.js';
import { HISTOGRAM_BINS, StreamingHistogram } from './histogram.js';
import { rangeFrom, type CalibMethod, type Range, type RangeOptions } from './range-methods.js';
import { streamActivations, type CalibrationData, type StreamOptions } from './stream.js';

/**
 * Calibration: one streaming pass over the data collects a fixed-size histogram (plus exact min/max) per
 * tensor; every method (MinMax, Percentile, Entropy) then derives ranges from those statistics, so
 * switching methods — or a search trying several — never re-reads the data. Statistics can be cached beside
 * the model, keyed by the model's bytes and the data's identity.
 */
export interface CalibrationStats {
  batches: number;
  tensors: Map<string, StreamingHistogram>;
}

export interface CalibrateOptions extends StreamOptions {
  /** Cache statistics: folder plus a key of the data's content (dataContentKey), never of names or dates. */
  cache?: { dir: string; dataKey: string; modelKey?: string };
  /** Histogram bins (default 2048). */
  bins?: number;
  log?: (msg: string) => void;
}

/**
 * A key of calibration data by content: every tensor's name, type, shape and bytes, in order. Equal data gives
 * equal keys whatever its file names or dates; any changed value, sample count or batching changes the key.
 */
export async function dataContentKey(data: CalibrationData): Promise<string> {
  const parts: (string | Uint8Array)[] = [];
  let batches = 0;
  for await (const feeds of data as AsyncIterable<Record<string, Tensor>>) {
    batches++;
    for (const name of Object.keys(feeds).sort()) {
      const t = feeds[name]!;
      parts.push(`${batches}:${name}:${t.dtype}:${t.dims.join('x')}:`);
      if (t.strings) for (const x of t.strings) parts.push(`${x.length}:`, x);
      else parts.push(t.bytes);
    }
    // keep memory flat: fold what we have into one digest now and then
    if (parts.length > 256) parts.splice(0, parts.length, contentHash(parts, 'sha256'));
  }
  return contentHash([`${batches}`, ...parts], 'sha256');
}

export async function collectStats(model: Model, data: CalibrationData, names: readonly string[], opts: CalibrateOptions = {}): Promise<CalibrationStats> {
  // every option that changes the statistics is part of the key
  const cacheFile = opts.cache ? cachePath(model, opts.cache, { bins: opts.bins ?? HISTOGRAM_BINS, maxBatches: opts.maxBatches ?? null }) : undefined; // undefined in a browser bundle
  if (cacheFile) {
    const hit = readCache(cacheFile, names);
    if (hit) {
      opts.log?.(`calibration: reusing ${cacheFile.slice(cacheFile.lastIndexOf('/') + 1)}`);
      return hit;
    }
  }
  const tensors = new Map<string, StreamingHistogram>();
  for (const n of names) tensors.set(n, new StreamingHistogram(opts.bins ?? HISTOGRAM_BINS));
  const batches = await streamActivations(
    model,
    data,
    names,
    (name, t) => {
      // non-float tensors (shapes, ids) get no statistics: later planning reads that as "not float"
      if (t.dtype === DataType.FLOAT || t.dtype === DataType.FLOAT16) tensors.get(name)!.update(t.toFloat32());
    },
    opts,
  );
  if (batches === 0) throw new Error('calibration data is empty');
  const stats = { batches, tensors };
  if (cacheFile) writeCache(cacheFile, stats);
  return stats;
}

/** Ranges already derived from a statistics object, per method and options (see computeRanges). */
const derived = new WeakMap<CalibrationStats, Map<string, { state: string; ranges: Map<string, Range> }>>();

/**
 * Every tensor's range from `stats` by `method`. Derived once per statistics object, method and options: the
 * entropy method's search costs seconds per model, and per-node sensitivity quantizes the same statistics once
 * per node (PaddleOCR rec's accuracy-aware fallback spent 9 minutes re-deriving them). Statistics that gained
 * samples since are derived again. The caller gets its own Map.
 */
export function computeRanges(stats: CalibrationStats, method: CalibMethod, opts: RangeOptions = {}): Map<string, Range> {
  const key = JSON.stringify([method, opts.percentile ?? null, opts.symmetric ?? false, opts.quantBins ?? null]);
  let count = 0;
  for (const h of stats.tensors.values()) count += h.count;
  const state = `${stats.batches}:${stats.tensors.size}:${count}`;
  let memo = derived.get(stats);
  if (!memo) derived.set(stats, (memo = new Map()));
  const hit = memo.get(key);
  if (hit?.state === state) return new Map(hit.ranges);
  const out = new Map<string, Range>();
  for (const [name, h] of stats.tensors) if (h.count > 0) out.set(name, rangeFrom(h, method, opts));
  memo.set(key, { state, ranges: out });
  return new Map(out);
}
