/** The calibration statistics cache on disk (Node.js; a browser bundle gets ./calib-cache.browser.ts: no cache). */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Model } from '../ir/graph.js';
import { modelToBytes, writeAtomic } from '../ir/io.js';
import { contentHash } from '../util/hash.js';
import type { CalibrationStats } from './calibrate.js';
import { StreamingHistogram, type HistogramState } from './histogram.js';

const sha = (b: Uint8Array | string) => contentHash([b], 'sha256').slice(0, 16);

/**
 * The cache file for statistics of `model` on the data named by `cache.dataKey` (a content hash: see
 * dataContentKey), collected with `params` (bins, batch limit: everything that changes the statistics).
 */
export function cachePath(model: Model, cache: { dir: string; dataKey: string; modelKey?: string }, params: Record<string, number | string | null>): string {
  const modelKey = cache.modelKey ?? sha(modelToBytes(model));
  const paramKey = sha(JSON.stringify(Object.entries(params).sort(([a], [b]) => a.localeCompare(b))));
  return path.join(cache.dir, `calib-${modelKey}-${sha(cache.dataKey)}-${paramKey}.json`);
}

interface CacheFile {
  version: 1;
  batches: number;
  tensors: Record<string, HistogramState>;
}

export function readCache(file: string, names: readonly string[]): CalibrationStats | undefined {
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

export function writeCache(file: string, stats: CalibrationStats): void {
  const body: CacheFile = { version: 1, batches: stats.batches, tensors: {} };
  for (const [n, h] of stats.tensors) body.tensors[n] = h.toJSON();
  fs.mkdirSync(path.dirname(file), { recursive: true });
  writeAtomic(file, [new TextEncoder().encode(JSON.stringify(body))]);
}
