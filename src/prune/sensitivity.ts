import { DataType } from '../ir/dtype.js';
import type { Model } from '../ir/graph.js';
import type { Tensor } from '../ir/tensor.js';
import { randomInputs } from '../runtime/inputs.js';
import { Session } from '../runtime/session.js';
import type { PruneGroup } from './space.js';

/**
 * Per-layer sensitivity scan (`--sensitivity`), for non-uniform per-layer amounts: each layer (a set of
 * sources whose groups are coupled, e.g. the convs joined by a residual Add) is pruned alone by each amount of
 * a grid, the rest of the model untouched, and scored by the relative error of the model's outputs on
 * calibration inputs, ‖y − y₀‖ / ‖y₀‖. A global error threshold t then gives every layer the largest amount
 * whose error (and every smaller amount's) stays ≤ t; t is the smallest one that meets the model-wide goal
 * (bisection over the scanned errors). Sensitive layers keep more, robust ones lose more — the per-layer
 * analysis of Distiller / NNCF, done on the ONNX graph with ONNX Runtime.
 */

export interface LayerSensitivity {
  /** Source node names pruned together (coupled groups). */
  sources: string[];
  /** Removable groups (units removed together) of these sources. */
  units: number;
  /**
   * Relative output error for each amount of the grid (fraction of the layer's units asked to go) and the
   * groups that went (0 when alignment or the minimum keep left none: error 0).
   */
  errors: { amount: number; error: number; removed: number }[];
  /** The amount the allocation chose (0: untouched). */
  chosen?: number;
}

export interface SensitivityOptions {
  /** Inputs the outputs are compared on (default: 4 seeded random inputs). */
  feeds?: readonly Record<string, Tensor>[];
  /** Amounts scanned per layer (default 0.25, 0.5, 0.75). */
  amounts?: readonly number[];
  threads?: number;
  dims?: Record<string, number>;
  shapes?: Record<string, number[]>;
  log?: (m: string) => void;
}

/** A pruned copy of the model with per-source amounts (source node name → fraction removed). */
export type PerSourcePrune = (perSource: ReadonlyMap<string, number>) => { model: Model; removed: number };

/** The layers of a ranking: sources joined when one group spans them (union-find on source names). */
export function sensitivityLayers(groups: readonly PruneGroup[]): { sources: string[]; units: number }[] {
  const parent = new Map<string, string>();
  const find = (x: string): string => {
    while (parent.get(x) !== x) x = parent.get(x)!;
    return x;
  };
  for (const g of groups) {
    const names = [...new Set(g.sources.map((s) => s.node.name))];
    for (const n of names) if (!parent.has(n)) parent.set(n, n);
    for (const n of names.slice(1)) {
      const [a, b] = [find(names[0]!), find(n)];
      if (a !== b) parent.set(b, a);
    }
  }
  const layers = new Map<string, { sources: string[]; units: number }>();
  for (const name of parent.keys()) {
    const root = find(name);
    const l = layers.get(root) ?? { sources: [], units: 0 };
    l.sources.push(name);
    layers.set(root, l);
  }
  for (const g of groups) layers.get(find(g.sources[0]!.node.name))!.units++;
  return [...layers.values()];
}

class OutputError {
  private reference: Float32Array[][] = [];
  private constructor(
    private readonly feeds: readonly Record<string, Tensor>[],
    private readonly opts: SensitivityOptions,
  ) {}

  static async of(model: Model, opts: SensitivityOptions): Promise<OutputError> {
    const feeds = opts.feeds?.length ? opts.feeds : [0, 1, 2, 3].map((i) => randomInputs(model, { dims: opts.dims, shapes: opts.shapes, seed: 7000 + i }));
    const e = new OutputError(feeds, opts);
    e.reference = await e.outputs(model);
    return e;
  }

  private async outputs(model: Model): Promise<Float32Array[][]> {
    const s = await Session.create(model, { threads: this.opts.threads ?? 2, dims: this.opts.dims });
    try {
      const out: Float32Array[][] = [];
      for (const f of this.feeds) {
        const r = await s.run(f);
        out.push(Object.keys(r).sort().flatMap((k) => (r[k]!.dtype === DataType.FLOAT ? [r[k]!.toFloat32()] : [])));
      }
      return out;
    } finally {
      await s.release();
    }
  }

  /** ‖y − y₀‖ / ‖y₀‖ over every float output and feed. */
  async of(model: Model): Promise<number> {
    const got = await this.outputs(model);
    let [diff, norm] = [0, 0];
    this.reference.forEach((ys, i) =>
      ys.forEach((y0, j) => {
        const y = got[i]![j]!;
        for (let k = 0; k < y0.length; k++) {
          diff += (y[k]! - y0[k]!) ** 2;
          norm += y0[k]! ** 2;
        }
      }),
    );
    return Math.sqrt(diff / Math.max(norm, 1e-30));
  }
}

/** Scans every layer of `groups` at every amount of the grid. */
export async function sensitivityScan(model: Model, groups: readonly PruneGroup[], prune: PerSourcePrune, opts: SensitivityOptions = {}): Promise<LayerSensitivity[]> {
  const amounts = [...(opts.amounts ?? [0.25, 0.5, 0.75])].sort((a, b) => a - b);
  const layers = sensitivityLayers(groups);
  const all = layers.flatMap((l) => l.sources);
  const error = await OutputError.of(model, opts);
  const out: LayerSensitivity[] = [];
  for (const layer of layers) {
    const errors: LayerSensitivity['errors'] = [];
    for (const amount of amounts) {
      const per = new Map(all.map((s) => [s, layer.sources.includes(s) ? amount : 0]));
      const r = prune(per);
      errors.push({ amount, error: r.removed === 0 ? 0 : await error.of(r.model), removed: r.removed });
    }
    out.push({ ...layer, errors });
    opts.log?.(`sensitivity ${layer.sources.join('+')} (${layer.units}): ${errors.map((e) => `${Math.round(100 * e.amount)}% → ${e.removed ? e.error.toFixed(4) : 'none removed'}`).join(', ')}`);
  }
  return out;
}

/** Per-source amounts at threshold `t`: each layer's largest amount whose error and every smaller one's are ≤ t. */
function amountsAt(scan: readonly LayerSensitivity[], t: number): Map<string, number> {
  const per = new Map<string, number>();
  for (const l of scan) {
    let chosen = 0;
    for (const e of l.errors) {
      if (e.error > t) break;
      chosen = e.amount;
    }
    for (const s of l.sources) per.set(s, chosen);
  }
  return per;
}

/**
 * The smallest error threshold whose per-layer amounts meet the goal (`meets` falls to true as amounts grow),
 * and the model pruned by them; the largest amounts when even those miss it (`met` false).
 */
export async function allocateAmounts(
  scan: LayerSensitivity[],
  prune: PerSourcePrune,
  meets: (m: Model, removed: number) => Promise<boolean>,
): Promise<{ model: Model; removed: number; threshold: number; perSource: Map<string, number>; met: boolean }> {
  const thresholds = [...new Set([0, ...scan.flatMap((l) => l.errors.map((e) => e.error))])].sort((a, b) => a - b);
  const at = (i: number) => {
    const perSource = amountsAt(scan, thresholds[i]!);
    return { ...prune(perSource), perSource, threshold: thresholds[i]! };
  };
  let hi = thresholds.length - 1;
  let best = at(hi);
  if (!(await meets(best.model, best.removed))) return { ...finish(scan, best), met: false };
  let lo = -1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    const r = at(mid);
    if (await meets(r.model, r.removed)) {
      hi = mid;
      best = r;
    } else lo = mid;
  }
  return { ...finish(scan, best), met: true };
}

function finish<T extends { perSource: Map<string, number> }>(scan: LayerSensitivity[], r: T): T {
  for (const l of scan) l.chosen = r.perSource.get(l.sources[0]!) ?? 0;
  return r;
}
