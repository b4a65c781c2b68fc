/** No statistics cache in a browser bundle (replaces ./calib-cache.ts): calibration always runs. */
import type { Model } from '../ir/graph.js';
import type { CalibrationStats } from './calibrate.js';

export function cachePath(_model: Model, _cache: { dir: string; dataKey: string; modelKey?: string }, _params: Record<string, number | string | null>): string | undefined {
  return undefined;
}

export function readCache(_file: string, _names: readonly string[]): CalibrationStats | undefined {
  return undefined;
}

export function writeCache(_file: string, _stats: CalibrationStats): void {}
