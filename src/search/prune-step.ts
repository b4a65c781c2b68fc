import { InputError } from '../errors.js';
import type { Model } from '../ir/graph.js';
import type { Tensor } from '../ir/tensor.js';
import type { Pass } from '../passes/pass.js';
import { readerStats } from '../prune/compensate.js';
import { finetune } from '../prune/finetune.js';
import { parameterCount, pruneModel, type PruneOptions } from '../prune/index.js';
import type { TensorData } from '../train/trainer.js';

/** The granularities the search tries (whole layers are left to `inferopt prune --granularity layer`). */
export const SEARCH_GRANULARITIES = ['channel', 'head', 'ffn', 'unstructured', 'n:m'] as const;
export type SearchGranularity = (typeof SEARCH_GRANULARITIES)[number];

export interface PruneStepConfig {
  granularity: SearchGranularity;
  /** Fraction of the removable groups (structured) or of the weights (unstructured); n:m keeps 2 of every 4. */
  sparsity: number;
  importance: 'l1' | 'l2';
  /** Structured: a pruned layer keeps a multiple of this many units (heads: 1). */
  align: number;
  /** Recovery fine-tuning: optimizer steps (0: one-shot, no training data needed). */
  steps: number;
  lr: number;
  batch: number;
  /** Weight of the unpruned model's soft targets in the fine-tuning loss (knowledge distillation; 0: labels only). */
  distill: number;
  seed: number;
  /** A safety cap on fine-tuning wall time; the step count is what makes a recipe re-run identically. */
  seconds: number;
  /** Run-time data (never in a recipe file): calibration inputs for mean compensation, training data. */
  calibration?: Record<string, Tensor>[];
  train?: TensorData;
  test?: TensorData;
}

/**
 * Pruning as a recipe step, through src/prune's library API: one granularity at one amount, structured groups
 * removed physically (the means of removed units folded into the next layer's bias, from the calibration
 * data), unstructured / N:M weights zeroed; then, with `steps` > 0 and training data, a recovery fine-tune of
 * that many optimizer steps (masks held), distilled from the unpruned model. The fine-tune is bounded by its
 * step count, so a recipe builds the same model again from the same data.
 */
export const prunePass: Pass<PruneStepConfig> = {
  id: 'prune',
  doc: 'pruning: channels, attention heads or FFN neurons removed physically, or weights zeroed (unstructured, 2:4), optionally fine-tuned with distillation from the unpruned model',
  params: {
    granularity: { type: 'string', choices: SEARCH_GRANULARITIES, default: 'channel', doc: 'what is removed: channel | head | ffn (structured, physically) or unstructured | n:m (zeros, 2:4)' },
    sparsity: { type: 'number', min: 0, max: 0.95, default: 0.5, search: [0.25, 0.5, 0.75], doc: 'fraction of removable groups (structured) or of weights (unstructured); ignored by n:m (2 of every 4)' },
    importance: { type: 'string', choices: ['l1', 'l2'], default: 'l2', doc: 'magnitude criterion' },
    align: { type: 'integer', min: 1, max: 64, default: 8, doc: 'structured: each pruned layer keeps a multiple of this many units (heads: 1)' },
    steps: { type: 'integer', min: 0, max: 1_000_000, default: 0, doc: 'recovery fine-tuning steps (0: one-shot; more needs training data)' },
    lr: { type: 'number', min: 1e-7, max: 1, default: 0.01, doc: 'fine-tuning peak learning rate (SGD with Nesterov momentum, cosine)' },
    batch: { type: 'integer', min: 1, max: 4096, default: 64, doc: 'fine-tuning batch size' },
    distill: { type: 'number', min: 0, max: 1, default: 0.5, doc: "weight of the unpruned model's soft targets in the fine-tuning loss (T = 2; 0: labels only)" },
    seed: { type: 'integer', min: 0, max: 2 ** 31 - 1, default: 0, doc: 'seed of the fine-tuning shuffle' },
    seconds: { type: 'number', min: 1, max: 86400, default: 900, doc: 'safety cap on fine-tuning time (a recipe re-runs identically only when the step count ends it)' },
    calibration: { type: 'object', default: undefined, doc: 'calibration inputs for mean compensation (run-time data)' },
    train: { type: 'object', default: undefined, doc: 'training samples (run-time data)' },
    test: { type: 'object', default: undefined, doc: 'held-out samples (run-time data)' },
  },
  async run(model, ctx, cfg) {
    const { granularity, sparsity, importance, align, steps, lr, batch, distill, seed, seconds, calibration, train, test } = cfg;
    if (steps > 0 && !train) throw new InputError(`the prune step fine-tunes (${steps} steps): it needs training data (--train-data)`);
    const structured = granularity !== 'unstructured' && granularity !== 'n:m';
    const params0 = parameterCount(model);
    const opts: PruneOptions = { granularity, criterion: importance, align: granularity === 'head' ? 1 : align, ...(granularity === 'n:m' ? {} : { sparsity }), ...(ctx.log ? { log: ctx.log } : {}) };
    if (structured && calibration?.length) opts.means = (await readerStats(model, calibration.slice(0, 64))).means;
    const pruned = await pruneModel(model, opts);
    let out: Model = pruned.model;
    let removed = params0 - parameterCount(out);
    for (const [, mask] of pruned.report.masks ?? []) removed += mask.length - mask.reduce((s, k) => s + k, 0);
    const stats: Record<string, number> = { sparsity: removed / params0, removed, params: params0 - removed };
    if (pruned.report.structured) stats.groupsRemoved = pruned.report.structured.removed;
    if (steps > 0) {
      const t0 = performance.now();
      const f = await finetune(out, {
        train: train!,
        ...(test ? { test } : {}),
        epochs: Math.max(1, Math.ceil((steps * batch) / train!.length)),
        maxSteps: steps,
        batch,
        lr,
        seed,
        seconds,
        ...(pruned.report.masks ? { masks: pruned.report.masks } : {}),
        ...(distill > 0 ? { teacher: model, alpha: distill } : {}),
      });
      out = f.model;
      stats.finetuneSteps = steps;
      stats.finetuneSeconds = Math.round((performance.now() - t0) / 100) / 10;
      const last = f.history.at(-1);
      if (last?.testAccuracy !== undefined) stats.heldOut = last.testAccuracy;
      if (f.seconds >= seconds) ctx.log?.(`prune: fine-tuning stopped at its ${seconds} s cap before ${steps} steps: this recipe will not rebuild the same model`);
    }
    return { model: out, modified: removed > 0, stats };
  },
};
