import { cloneModel } from '../ir/clone.js';
import type { Model } from '../ir/graph.js';
import { constantToInitializer } from './constant-to-initializer.js';
import { cse } from './cse.js';
import { deadCode } from './dead-code.js';
import { foldConstants } from './fold-constants.js';
import { fuseAttention } from './fusions/attention.js';
import { fuseEmbedLayerNorm } from './fusions/embed-layer-norm.js';
import { fuseBiasGelu, fuseGelu } from './fusions/gelu.js';
import { fuseLayerNorm } from './fusions/layer-norm.js';
import { fuseSkipLayerNorm } from './fusions/skip-layer-norm.js';
import { inferShapesPass } from './infer-shapes.js';
import { upgradeOpsetForGelu } from './upgrade-opset.js';
import { runPasses, type PipelineOptions, type PipelineResult } from './manager.js';
import type { Pass, PassContext, Target } from './pass.js';
import { foldIntoConv } from './rules/conv.js';
import { foldIntoMatMul } from './rules/gemm.js';
import { eliminateNoops } from './rules/noop.js';

/** Classic simplifications, valid on every target. */
export const CLEANUP_PASSES: readonly Pass<any>[] = [constantToInitializer, inferShapesPass, foldConstants, eliminateNoops, cse, deadCode, foldIntoConv, foldIntoMatMul];

/**
 * Transformer fusions in dependency order: LayerNorm first (the others match LayerNormalization), then the
 * embedding and residual forms, GELU before its bias, Attention last. Each rule declares the targets it
 * supports; `std` keeps only standard ops (and raises opset 17–19 to 20 when safe, for the standard Gelu).
 */
export const FUSION_PASSES: readonly Pass<any>[] = [inferShapesPass, upgradeOpsetForGelu, fuseLayerNorm, fuseEmbedLayerNorm, fuseSkipLayerNorm, fuseGelu, fuseBiasGelu, fuseAttention];

/** Every pass and rule `simplify` knows, by id (for --skip validation and docs). */
export function simplifyPassIds(): string[] {
  const ids = new Set<string>();
  for (const p of [...CLEANUP_PASSES, ...FUSION_PASSES]) {
    ids.add(p.id);
    for (const r of (p as { rules?: readonly { name: string }[] }).rules ?? []) ids.add(r.name);
  }
  return [...ids];
}

export function simplifyPipeline(target: Target): Pass<any>[] {
  void target; // rules filter themselves by target
  return [...CLEANUP_PASSES, ...FUSION_PASSES];
}

export interface SimplifyOptions extends PipelineOptions {
  /** Change `model` itself instead of a copy (saves the copy's memory when the caller no longer needs it). */
  inPlace?: boolean;
}

/**
 * Runs the simplify pipeline to a fixed point and returns the simplified model in `result.model`. `model`
 * is left as it was unless `inPlace` is set. `ctx` defaults to the `cpu` target.
 */
export async function simplifyModel(model: Model, ctx: PassContext = { target: 'cpu' }, opts: SimplifyOptions = {}): Promise<PipelineResult> {
  const { inPlace, ...pipeline } = opts;
  return runPasses(inPlace ? model : cloneModel(model), simplifyPipeline(ctx.target ?? 'cpu'), { ...ctx, target: ctx.target ?? 'cpu' }, pipeline);
}
