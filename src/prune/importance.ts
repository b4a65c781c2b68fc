import { InputError } from '../errors.js';
import type { Cut, PruneGroup, PruneSpace } from './space.js';

/**
 * Importance of removable units. Each id's raw score is summed over the weights the cuts assign to it; a
 * group's score is the mean of its ids' scores, each divided by the mean score of the source it came from,
 * so that groups of layers with different weight scales rank on one scale (a global ranking then gives
 * roughly proportional per-layer amounts, and layers that matter less lose more).
 *
 * - `l1` / `l2`: norm of the weights that compute the unit (filters, output columns, a head's Q/K/V columns);
 * - `bn-scale`: |γ| of the BatchNormalization after a conv (network slimming); units without one use `l2`;
 * - `taylor`: Σ |w · ∂L/∂w| over every weight of the group (first order, from a few training batches);
 * - `fluctuation` (FLAP, An et al. 2024): Var(x_j) · ‖W_{:,j}‖² summed over the layers that read unit j — the
 *   squared error their outputs take when the unit is replaced by its mean (mean compensation, compensate.ts),
 *   from calibration statistics;
 * - `influence` ranks whole layers (layers.ts), not groups.
 */
export type Criterion = 'l1' | 'l2' | 'bn-scale' | 'taylor' | 'wanda' | 'fluctuation' | 'influence';
export const CRITERIA: readonly Criterion[] = ['l1', 'l2', 'bn-scale', 'taylor', 'wanda', 'fluctuation', 'influence'];

export interface ScoreInputs {
  /** Σ over batches of w·∂L/∂w per initializer name (same layout as the weight), for `taylor`. */
  taylor?: ReadonlyMap<string, Float32Array>;
  /** Per-position variances of the activations layers read (value name → variances), for `fluctuation`. */
  variances?: ReadonlyMap<string, Float32Array>;
}

/** Visits every element of a cut's constant with the id of its position along the cut axis. */
function forEachElement(c: Cut, f: (id: number, value: number, index: number) => void): void {
  const v = c.node.inputs[c.input];
  const t = v?.constTensor();
  if (!t) return;
  const data = t.toFloat32();
  const n = t.dims[c.axis]!;
  const inner = t.dims.slice(c.axis + 1).reduce((a, b) => a * b, 1);
  for (let i = 0; i < data.length; i++) f(c.ids[Math.floor(i / inner) % n]!, data[i]!, i);
}

export function idScores(space: PruneSpace, criterion: Criterion, inputs: ScoreInputs = {}): Float64Array {
  const size = space.sources.reduce((s, x) => Math.max(s, x.start + x.count), 0);
  const score = new Float64Array(size);
  const seen = new Uint8Array(size);
  if (criterion === 'wanda') throw new InputError('wanda scores single weights: use it with --granularity unstructured or n:m');
  if (criterion === 'influence') throw new InputError('influence ranks whole layers: use it with --granularity layer');
  if (criterion === 'taylor') {
    if (!inputs.taylor) throw new InputError('taylor importance needs training data (--train-data) for its gradients');
    for (const c of space.cuts) {
      const g = inputs.taylor.get(c.node.inputs[c.input]!.name);
      if (!g) continue;
      forEachElement(c, (id, _w, i) => {
        score[id] = score[id]! + Math.abs(g[i]!);
        seen[id] = 1;
      });
    }
    return score;
  }
  if (criterion === 'fluctuation') {
    if (!inputs.variances) throw new InputError('fluctuation importance needs calibration data (--calib or --train-data) for activation statistics');
    for (const c of space.cuts) {
      if (c.role !== 'in') continue;
      const v = inputs.variances.get(c.node.inputs[0]?.name ?? '');
      if (!v || v.length !== c.ids.length) continue;
      const n = c.ids.length;
      const t = c.node.inputs[c.input]?.constTensor();
      const inner = t ? t.dims.slice(c.axis + 1).reduce((a, b) => a * b, 1) : 1;
      forEachElement(c, (id, w, i) => {
        score[id] = score[id]! + v[Math.floor(i / inner) % n]! * w * w;
        seen[id] = 1;
      });
    }
    return score;
  }
  const role = criterion === 'bn-scale' ? 'scale' : 'out';
  for (const c of space.cuts) {
    if (c.role !== role) continue;
    forEachElement(c, (id, w) => {
      score[id] = score[id]! + (criterion === 'l1' || criterion === 'bn-scale' ? Math.abs(w) : w * w);
      seen[id] = 1;
    });
  }
  if (criterion === 'l2') for (let i = 0; i < size; i++) score[i] = Math.sqrt(score[i]!);
  if (criterion === 'bn-scale') {
    // units without a BatchNorm scale fall back to the L2 norm of their weights, on their own source's scale
    const fallback = idScores(space, 'l2');
    for (let i = 0; i < size; i++) if (!seen[i]) score[i] = fallback[i]!;
  }
  return score;
}

/**
 * Group scores (lower = less important), normalised per source. Criteria measured at the readers of a unit
 * (`fluctuation`) score each group as the sum over its ids (a residual stream's readers see only one of the
 * coupled ids per position), normalised by the mean over the groups made by the same sources.
 */
export function groupScores(space: PruneSpace, groups: readonly PruneGroup[], raw: Float64Array, criterion?: Criterion): Float64Array {
  if (criterion === 'fluctuation') {
    const sums = Float64Array.from(groups, (g) => g.ids.reduce((acc, id) => acc + raw[id]!, 0));
    const family = groups.map((g) => g.sources.map((s) => s.start).sort((a, b) => a - b).join(','));
    const total = new Map<string, { sum: number; n: number }>();
    family.forEach((f, i) => {
      const t = total.get(f) ?? { sum: 0, n: 0 };
      t.sum += sums[i]!;
      t.n++;
      total.set(f, t);
    });
    return Float64Array.from(sums, (s, i) => {
      const t = total.get(family[i]!)!;
      return s / (t.sum / t.n || 1);
    });
  }
  const mean = new Map<number, number>();
  for (const s of space.sources) {
    let sum = 0;
    for (let i = 0; i < s.count; i++) sum += raw[s.start + i]!;
    mean.set(s.start, sum / Math.max(1, s.count) || 1);
  }
  return Float64Array.from(groups, (g) => g.ids.reduce((acc, id) => acc + raw[id]! / mean.get(space.sourceOf(id).start)!, 0) / g.ids.length);
}
