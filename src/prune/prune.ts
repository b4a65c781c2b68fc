import { gzipSync } from 'node:zlib';
import { InputError } from '../errors.js';
import type { Model } from '../ir/graph.js';
import { modelToBytes } from '../ir/io.js';
import type { AnalyzeOptions } from './channels.js';
import type { InputMeans } from './compensate.js';
import { CRITERIA, type Criterion, type ScoreInputs } from './importance.js';
import { cloneModel, flopCount, parameterCount, pruneStructured, type StructuredGranularity, type StructuredReport } from './structured.js';
import { dropLeastInfluential, layerInfluence } from './layers.js';
import type { Tensor } from '../ir/tensor.js';
import type { SensitivityOptions } from './sensitivity.js';
import { applyMasks, computeMasks, prunableWeights, zeroFraction, type MaskReport } from './unstructured.js';

/** One call for every granularity: `pruneModel(model, { granularity: 'channel', targetFlops: 0.5 })`. */

export const GRANULARITIES = ['unstructured', 'n:m', 'channel', 'head', 'ffn', 'layer'] as const;
export type Granularity = (typeof GRANULARITIES)[number];

export interface PruneOptions extends AnalyzeOptions {
  granularity: Granularity;
  criterion?: Criterion;
  sparsity?: number;
  targetFlops?: number;
  targetParams?: number;
  targetLatency?: { ms: number; measure: (m: Model) => Promise<number> };
  /** unstructured: one threshold for all weights or the same fraction per weight. */
  scope?: 'global' | 'layer';
  /** n:m pattern (default 2:4). */
  nm?: { n: number; m: number };
  minKeep?: number;
  /** Structured: a pruned source keeps a multiple of this many units (default 8; heads 1). */
  align?: number;
  /** The model FLOP/parameter targets are fractions of (default: the one being pruned; gradual schedules pass the original). */
  baseline?: Model;
  perSource?: ReadonlyMap<string, number>;
  scores?: ScoreInputs;
  /** Mean compensation for structured removal: `readerStats` of the model on calibration data. */
  means?: InputMeans;
  /** Calibration inputs (layer influence; random inputs when absent). */
  feeds?: readonly Record<string, Tensor>[];
  /** Wanda: ‖x‖ per input feature of each weight (see unstructured.ts). */
  activationNorms?: ReadonlyMap<string, Float32Array>;
  /** Structured: per-layer sensitivity scan for non-uniform amounts (see sensitivity.ts). */
  sensitivity?: SensitivityOptions;
  log?: (m: string) => void;
}

export interface PruneReport {
  granularity: Granularity;
  criterion: Criterion;
  structured?: StructuredReport;
  unstructured?: MaskReport & { sparsity: number; pattern?: string };
  /** Zero masks (1 = keep) of unstructured / N:M pruning, for fine-tuning that keeps them. */
  masks?: Map<string, Uint8Array>;
}

export function isGranularity(g: string): g is Granularity {
  return (GRANULARITIES as readonly string[]).includes(g);
}

export function parsePattern(s: string): { n: number; m: number } {
  const m = /^(\d+):(\d+)$/.exec(s.trim());
  if (!m) throw new InputError(`an N:M pattern looks like 2:4, not '${s}'`);
  const n = Number(m[1]);
  const mm = Number(m[2]);
  if (!(n >= 1 && mm > n && mm <= 64)) throw new InputError(`an N:M pattern needs 1 ≤ N < M ≤ 64, not ${s}`);
  return { n, m: mm };
}

function checkAmount(name: string, v: number | undefined, lo: number, hiExclusive: number): void {
  if (v === undefined) return;
  if (!Number.isFinite(v) || v < lo || v >= hiExclusive) throw new InputError(`${name} must be a number in [${lo}, ${hiExclusive}), not ${v}`);
}

export async function pruneModel(model: Model, opts: PruneOptions): Promise<{ model: Model; report: PruneReport }> {
  if (!isGranularity(opts.granularity)) throw new InputError(`unknown granularity '${opts.granularity}' (expected ${GRANULARITIES.join(', ')})`);
  const criterion = opts.criterion ?? (opts.granularity === 'layer' ? 'influence' : opts.activationNorms ? 'wanda' : 'l2');
  if (!CRITERIA.includes(criterion)) throw new InputError(`unknown importance '${criterion}' (expected ${CRITERIA.join(', ')})`);
  checkAmount('--sparsity', opts.sparsity, 0, 1);
  checkAmount('--target-flops', opts.targetFlops, Number.MIN_VALUE, 1);
  checkAmount('--target-params', opts.targetParams, Number.MIN_VALUE, 1);
  if (opts.targetLatency && !(opts.targetLatency.ms > 0)) throw new InputError(`--target-latency must be a positive number of ms`);
  if (opts.sensitivity && (opts.granularity === 'layer' || opts.granularity === 'unstructured' || opts.granularity === 'n:m')) {
    throw new InputError(`--sensitivity scans per-layer amounts of channels, heads or FFN neurons, not ${opts.granularity} pruning`);
  }
  if (opts.granularity === 'layer') return pruneLayers(model, opts);

  if (opts.granularity === 'unstructured' || opts.granularity === 'n:m') {
    if (opts.targetFlops !== undefined || opts.targetLatency) {
      throw new InputError(`--granularity ${opts.granularity} keeps every multiply (zeros are still computed on CPU): use --sparsity${opts.granularity === 'unstructured' ? ' or --target-params' : ''}`);
    }
    const nm = opts.granularity === 'n:m' ? (opts.nm ?? { n: 2, m: 4 }) : undefined;
    if (!nm && opts.sparsity === undefined && opts.targetParams === undefined) throw new InputError('give an amount: --sparsity (or --target-params)');
    if (criterion !== 'l1' && criterion !== 'l2' && criterion !== 'wanda') throw new InputError(`--importance ${criterion} ranks groups; unstructured pruning uses magnitude (l1/l2) or wanda`);
    if (criterion === 'wanda' && !opts.activationNorms) throw new InputError('wanda importance needs calibration data (--calib) for its activation norms');
    const m = cloneModel(model);
    const weights = prunableWeights(m, opts);
    if (weights.length === 0) throw new InputError('nothing to prune: the model has no Conv/Gemm/MatMul weights');
    let sparsity = opts.sparsity;
    if (opts.targetParams !== undefined) {
      const total = weights.reduce((s, w) => s + w.dims.reduce((a, b) => a * b, 1), 0);
      const all = [...m.graph.initializers.values()].reduce((s, v) => s + v.initializer!.size, 0);
      sparsity = Math.min(0.99, Math.max(0, (all * (1 - opts.targetParams)) / total));
    }
    const { masks, report } = computeMasks(m, weights, { sparsity, scope: opts.scope, nm, activationNorms: criterion === 'wanda' ? opts.activationNorms : undefined });
    applyMasks(m, masks);
    const achieved = zeroFraction(m, masks.keys());
    return { model: m, report: { granularity: opts.granularity, criterion, masks, unstructured: { ...report, sparsity: achieved, pattern: nm ? `${nm.n}:${nm.m}` : undefined } } };
  }
  if (criterion === 'wanda') throw new InputError('wanda scores single weights: use it with --granularity unstructured or n:m');
  const r = await pruneStructured(model, { ...opts, granularity: opts.granularity as StructuredGranularity, criterion });
  return { model: r.model, report: { granularity: opts.granularity, criterion, structured: r.report } };
}

/** Layer pruning: the least influential shape-keeping layers go (see layers.ts). */
async function pruneLayers(model: Model, opts: PruneOptions): Promise<{ model: Model; report: PruneReport }> {
  if ((opts.criterion ?? 'influence') !== 'influence') throw new InputError(`layers are ranked by their influence on the hidden state, not by ${opts.criterion}`);
  if (opts.targetLatency) throw new InputError('--granularity layer takes --sparsity, --target-flops or --target-params');
  const scores = await layerInfluence(model, opts.feeds, opts);
  const free = scores.filter((s) => !s.blocked).length;
  const params0 = parameterCount(opts.baseline ?? model);
  const flops0 = flopCount(opts.baseline ?? model, opts);
  let r = dropLeastInfluential(model, scores, 0);
  if (opts.sparsity !== undefined) r = dropLeastInfluential(model, scores, Math.round(opts.sparsity * free));
  else {
    for (let k = 1; k <= free; k++) {
      r = dropLeastInfluential(model, scores, k);
      const met = opts.targetFlops !== undefined ? flopCount(r.model, opts) <= opts.targetFlops * flops0 : parameterCount(r.model) <= opts.targetParams! * params0;
      if (met) break;
      if (k === free) opts.log?.(`the goal cannot be met by dropping layers (all ${free} that can go are gone)`);
    }
  }
  const blocked = new Map<string, number>();
  for (const s of scores) if (s.blocked) blocked.set(s.blocked, (blocked.get(s.blocked) ?? 0) + 1);
  opts.log?.(`layer influence (1 − cos): ${scores.map((s) => `${s.prefix} ${s.influence.toFixed(3)}${s.blocked ? ' (fixed)' : ''}`).join(', ')}${opts.feeds?.length ? '' : ' — on random inputs (give --calib for real ones)'}`);
  const structured: StructuredReport = {
    granularity: 'layer',
    criterion: 'influence',
    candidates: free,
    removed: r.dropped.length,
    blocked: [...blocked].map(([reason, groups]) => ({ reason, groups })),
    params: [params0, parameterCount(r.model)],
    flops: [flops0, flopCount(r.model, opts)],
  };
  return { model: r.model, report: { granularity: 'layer', criterion: 'influence', structured } };
}

export interface SizeReport {
  /** Bytes of the serialized model. */
  onDisk: number;
  /** Bytes after gzip -6 (zeros compress). */
  compressed: number;
  /**
   * Bytes if the sparse weights were stored as values + positions: a bitmap (1 bit per weight) for
   * unstructured, 2 bits of index per kept value for N:M (as sparse tensor cores store 2:4).
   */
  sparseStorage: number;
}

export function modelSizes(model: Model, masks?: ReadonlyMap<string, Uint8Array>, pattern?: { n: number; m: number }): SizeReport {
  const bytes = modelToBytes(model);
  let sparse = bytes.length;
  for (const [name, mask] of masks ?? []) {
    const t = model.graph.initializers.get(name)?.initializer;
    if (!t) continue;
    const kept = mask.reduce((s, k) => s + k, 0);
    const elem = t.bytes.length / t.size;
    const index = pattern ? Math.ceil((kept * Math.ceil(Math.log2(pattern.m))) / 8) : Math.ceil(mask.length / 8);
    sparse += kept * elem + index - t.bytes.length;
  }
  return { onDisk: bytes.length, compressed: gzipSync(bytes, { level: 6 }).length, sparseStorage: sparse };
}
