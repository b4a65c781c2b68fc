import { InputError } from '../errors.js';
import type { Model } from '../ir/graph.js';
import { loadModel, modelToBytes } from '../ir/io.js';
import { modelCost } from '../ops/cost.js';
import { analyzeChannels, defaultDims, type Analysis, type AnalyzeOptions } from './channels.js';
import { analyzeHeads } from './heads.js';
import { groupScores, idScores, type Criterion, type ScoreInputs } from './importance.js';
import type { PruneGroup, PruneSpace } from './space.js';
import { planCompensation, type InputMeans } from './compensate.js';
import { allocateAmounts, sensitivityScan, type LayerSensitivity, type SensitivityOptions } from './sensitivity.js';

/**
 * Structured pruning: rank the removable groups of one granularity, remove the least important ones
 * physically. Amounts: a fraction of the groups (`sparsity`), or the fewest groups that bring FLOPs or
 * parameters down to a fraction of the original (`targetFlops`, `targetParams`, found by bisection on the
 * real pruned model), or a measured latency (`targetLatency`).
 */

export type StructuredGranularity = 'channel' | 'head' | 'ffn';

export interface StructuredOptions extends AnalyzeOptions {
  granularity: StructuredGranularity;
  criterion: Criterion;
  sparsity?: number;
  targetFlops?: number;
  targetParams?: number;
  /** A measured latency goal: `measure` times a candidate model in ms. */
  targetLatency?: { ms: number; measure: (m: Model) => Promise<number> };
  /** Every source keeps at least this fraction of its units (default 0.1, and at least one). */
  minKeep?: number;
  /** A pruned source keeps a multiple of this many units (default 8 for channels and FFN neurons, 1 for heads). */
  align?: number;
  /** The model FLOP/parameter targets are fractions of (default: `model`). */
  baseline?: Model;
  /** Per-source amounts (from a sensitivity scan): source node name → fraction of its units to remove. */
  perSource?: ReadonlyMap<string, number>;
  scores?: ScoreInputs;
  /**
   * Mean compensation (see compensate.ts): per-position means of the activations that layers read, from
   * `readerStats` on calibration data; removed channels then fold their mean into the readers' biases.
   */
  means?: InputMeans;
  /**
   * Per-layer sensitivity scan (sensitivity.ts): each layer pruned alone over a grid of amounts, then the
   * smallest output-error threshold whose per-layer amounts meet the goal. Non-uniform amounts instead of
   * one global ranking.
   */
  sensitivity?: SensitivityOptions;
  log?: (m: string) => void;
}

export interface BlockedSummary {
  reason: string;
  groups: number;
}

export interface StructuredReport {
  granularity: StructuredGranularity | 'layer';
  criterion: Criterion;
  candidates: number;
  removed: number;
  blocked: BlockedSummary[];
  params: [number, number];
  flops: [number, number];
  /** With `sensitivity`: every layer's scan and the amount it got. */
  sensitivity?: LayerSensitivity[];
}

export const cloneModel = (m: Model) => loadModel(modelToBytes(m));

/** Builds the id space of a model: channels (registry rules) and attention heads. */
export function analyze(model: Model, opts: AnalyzeOptions = {}): Analysis {
  const a = analyzeChannels(model, opts);
  analyzeHeads(model, a);
  return a;
}

export function isOfGranularity(g: PruneGroup, granularity: StructuredGranularity): boolean {
  if (granularity === 'head') return g.kind === 'head';
  if (g.kind !== 'channel') return false;
  if (granularity === 'channel') return true;
  // ffn: per-token features of a transformer's feed-forward (a MatMul/Gemm over [batch, seq, features])
  return g.sources.every((s) => (s.node.opType === 'MatMul' || s.node.opType === 'Gemm') && (s.rank ?? 0) >= 3);
}

export function parameterCount(model: Model): number {
  let n = 0;
  for (const v of model.graph.initializers.values()) n += v.initializer!.size;
  for (const node of model.graph.nodes) if (node.opType === 'Constant') n += node.attrTensor('value')?.size ?? 0;
  return n;
}

export function flopCount(model: Model, opts: AnalyzeOptions = {}): number {
  return modelCost(model, { dims: defaultDims(model, opts.dims), shapes: opts.shapes }).total.flops;
}

/** Candidate groups in removal order (least important first) and the blocked ones, for `model`. */
export function rankGroups(model: Model, opts: StructuredOptions) {
  const { space } = analyze(model, opts);
  const all = space.groups().filter((g) => isOfGranularity(g, opts.granularity));
  const free = all.filter((g) => g.blocked.length === 0);
  const scores = groupScores(space, free, idScores(space, opts.criterion, opts.scores), opts.criterion);
  const order = free.map((g, i) => ({ g, s: scores[i]! })).sort((a, b) => a.s - b.s || a.g.id - b.g.id).map((x) => x.g);
  const reasons = new Map<string, number>();
  for (const g of all) if (g.blocked.length) reasons.set(g.blocked[0]!, (reasons.get(g.blocked[0]!) ?? 0) + 1);
  const blocked = [...reasons].map(([reason, groups]) => ({ reason, groups })).sort((a, b) => b.groups - a.groups);
  return { space, order, blocked };
}

/**
 * The first `k` groups of `order` that leave every source at least its minimum (groups that would empty a
 * layer are skipped), honouring per-source amounts when given.
 */
export function selectGroups(space: PruneSpace, order: readonly PruneGroup[], k: number, minKeep: number, perSource?: ReadonlyMap<string, number>, align = 1): PruneGroup[] {
  const left = new Map(space.sources.map((s) => [s.start, s.count]));
  const floor = new Map(space.sources.map((s) => {
    const amount = perSource?.get(s.node.name);
    const keep = amount !== undefined ? Math.ceil(s.count * (1 - amount)) : Math.ceil(s.count * minKeep);
    return [s.start, Math.max(1, keep)];
  }));
  const takes = (g: PruneGroup) => {
    const take = new Map<number, number>();
    for (const id of g.ids) {
      const s = space.sourceOf(id).start;
      take.set(s, (take.get(s) ?? 0) + 1);
    }
    return take;
  };
  const out: PruneGroup[] = [];
  for (const g of order) {
    if (out.length >= k) break;
    const take = takes(g);
    if ([...take].some(([s, n]) => left.get(s)! - n < floor.get(s)!)) continue;
    for (const [s, n] of take) left.set(s, left.get(s)! - n);
    out.push(g);
  }
  if (align <= 1) return out;
  // hardware alignment: a pruned source keeps a multiple of `align` units (CPU and GPU kernels block channels
  // by 8 or 16; an odd count runs slower than the full layer). The most important removed groups come back.
  const count = new Map(space.sources.map((s) => [s.start, s.count]));
  for (;;) {
    const odd = [...left].find(([s, n]) => n < count.get(s)! && n % align !== 0);
    if (!odd) break;
    const i = out.findLastIndex((g) => takes(g).has(odd[0]));
    if (i < 0) break;
    for (const [s, n] of takes(out[i]!)) left.set(s, left.get(s)! + n);
    out.splice(i, 1);
  }
  return out;
}

/** A pruned copy of `model` without the `k` least important groups. */
export function removeLeast(model: Model, opts: StructuredOptions, k: number): { model: Model; removed: number } {
  const m = cloneModel(model);
  const { space, order } = rankGroups(m, opts);
  const chosen = selectGroups(space, order, k, opts.minKeep ?? 0.1, opts.perSource, opts.align ?? (opts.granularity === 'head' ? 1 : 8));
  const compensate = opts.means ? planCompensation(space, chosen, opts.means) : undefined;
  space.apply(m, chosen);
  compensate?.(m);
  return { model: m, removed: chosen.length };
}

export async function pruneStructured(model: Model, opts: StructuredOptions): Promise<{ model: Model; report: StructuredReport }> {
  const { order, blocked } = rankGroups(cloneModel(model), opts);
  const candidates = order.length;
  if (candidates === 0) {
    const why = blocked.slice(0, 3).map((b) => `${b.groups}× ${b.reason}`).join('; ');
    throw new InputError(`nothing to prune: no removable ${opts.granularity} groups${why ? ` (${why})` : ''}`);
  }
  const params0 = parameterCount(opts.baseline ?? model);
  const flops0 = flopCount(opts.baseline ?? model, opts);
  const amounts = [opts.sparsity, opts.targetFlops, opts.targetParams, opts.targetLatency].filter((x) => x !== undefined);
  if (amounts.length !== 1) throw new InputError('give exactly one amount: --sparsity, --target-flops, --target-params or --target-latency');
  let result: { model: Model; removed: number };
  // goals fall as more groups go
  const meets = async (m: Model, removed: number) =>
    opts.sparsity !== undefined ? removed >= Math.round(opts.sparsity * candidates)
      : opts.targetFlops !== undefined ? flopCount(m, opts) <= opts.targetFlops * flops0
        : opts.targetParams !== undefined ? parameterCount(m) <= opts.targetParams * params0
          : (await opts.targetLatency!.measure(m)) <= opts.targetLatency!.ms;
  let sensitivity: LayerSensitivity[] | undefined;
  if (opts.sensitivity) {
    if (opts.perSource) throw new InputError('give per-layer amounts or a sensitivity scan, not both');
    const prune = (perSource: ReadonlyMap<string, number>) => removeLeast(model, { ...opts, perSource }, candidates);
    sensitivity = await sensitivityScan(model, order, prune, { dims: opts.dims, shapes: opts.shapes, log: opts.log, ...opts.sensitivity });
    const a = await allocateAmounts(sensitivity, prune, meets);
    if (!a.met) opts.log?.(`the goal cannot be met within the scanned amounts (up to ${Math.round(100 * Math.max(...sensitivity.flatMap((l) => l.errors.map((e) => e.amount))))}% per layer): every layer takes its largest`);
    opts.log?.(`sensitivity: output-error threshold ${a.threshold.toFixed(4)}; per-layer amounts ${sensitivity.map((l) => `${l.sources[0]}${l.sources.length > 1 ? `+${l.sources.length - 1}` : ''} ${Math.round(100 * l.chosen!)}%`).join(', ')}`);
    result = a;
  } else if (opts.sparsity !== undefined || opts.perSource) {
    result = removeLeast(model, opts, Math.round((opts.sparsity ?? 1) * candidates));
  } else {
    // the fewest groups that meet the goal: bisection on k
    let lo = 0;
    let hi = candidates;
    let best = removeLeast(model, opts, hi);
    if (!(await meets(best.model, best.removed))) {
      opts.log?.(`the goal cannot be met by removing ${opts.granularity} groups (all ${best.removed} removable ones go)`);
    } else {
      while (hi - lo > Math.max(1, Math.floor(candidates / 256))) {
        const mid = (lo + hi) >> 1;
        const r = removeLeast(model, opts, mid);
        if (await meets(r.model, r.removed)) {
          hi = mid;
          best = r;
        } else lo = mid;
      }
    }
    result = best;
  }
  const report: StructuredReport = {
    granularity: opts.granularity,
    criterion: opts.criterion,
    candidates,
    removed: result.removed,
    blocked,
    params: [params0, parameterCount(result.model)],
    flops: [flops0, flopCount(result.model, opts)],
    sensitivity,
  };
  return { model: result.model, report };
}
