import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DataType } from '../ir/dtype.js';
import type { Model } from '../ir/graph.js';
import { modelToBytes, writeAtomic } from '../ir/io.js';
import { StreamingHistogram, type HistogramState } from './histogram.js';
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
  /** Cache statistics: folder plus a key naming the data (a file hash, a dataset id + sample count). */
  cache?: { dir: string; dataKey: string; modelKey?: string };
  /** Histogram bins (default 2048). */
  bins?: number;
  log?: (msg: string) => void;
}

export async function collectStats(model: Model, data: CalibrationData, names: readonly string[], opts: CalibrateOptions = {}): Promise<CalibrationStats> {
  const cacheFile = opts.cache ? cachePath(model, opts.cache) : undefined;
  if (cacheFile) {
    const hit = readCache(cacheFile, names);
    if (hit) {
      opts.log?.(`calibration: reusing ${path.basename(cacheFile)}`);
      return hit;
    }
  }
  const tensors = new Map<string, StreamingHistogram>();
  for (const n of names) tensors.set(n, new StreamingHistogram(opts.bins));
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

export function computeRanges(stats: CalibrationStats, method: CalibMethod, opts: RangeOptions = {}): Map<string, Range> {
  const out = new Map<string, Range>();
  for (const [name, h] of stats.tensors) if (h.count > 0) out.set(name, rangeFrom(h, method, opts));
  return out;
}

// ---- cache ------------------------------------------------------------------------------------------

const sha = (b: Uint8Array | string) => createHash('sha256').update(b).digest('hex').slice(0, 16);

function cachePath(model: Model, cache: { dir: string; dataKey: string; modelKey?: string }): string {
  const modelKey = cache.modelKey ?? sha(modelToBytes(model));
  return path.join(cache.dir, `calib-${modelKey}-${sha(cache.dataKey)}.json`);
}

interface CacheFile {
  version: 1;
  batches: number;
  tensors: Record<string, HistogramState>;
}

function readCache(file: string, names: readonly string[]): CalibrationStats | undefined {
  let parsed: CacheFile;
  try {
    parsed = JSON.parse(fs.readFileSync(file, 'utf8')) as CacheFile;
  } catch {
    return undefined;
  }
  if (parsed.version !== 1 || !names.every((n) => n in parsed.tensors)) return undefined;
  const tensors = new Map<string, StreamingHistogram>();
  for (const n of names) tensors.set(n, StreamingHistogram.fromJSON(parsed.tensors[n]!));
  return { batches: parsed.batches, tensors };
}

function writeCache(file: string, stats: CalibrationStats): void {
  const body: CacheFile = { version: 1, batches: stats.batches, tensors: {} };
  for (const [n, h] of stats.tensors) body.tensors[n] = h.toJSON();
  fs.mkdirSync(path.dirname(file), { recursive: true });
  writeAtomic(file, [new TextEncoder().encode(JSON.stringify(body))]);
}
