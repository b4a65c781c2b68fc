import type { Pass, Target } from '../passes/pass.js';
import type { OptLevel } from '../runtime/session.js';
import type { SessionSettings } from './recipe.js';

/**
 * A pass as the search sees it: where it goes in a recipe and what it can speed up. Parameter values to try
 * come from the pass's own declared `params[name].search`.
 */
export interface SearchablePass {
  pass: Pass<any>;
  /**
   * 'graph' passes apply first and are kept when they help; 'prune' passes next (each at its sparsity search
   * values; the best accurate one that is faster stays under the quantizers); one 'quantize' pass at most per recipe; 'train'
   * passes (QAT) are not enumerated: they replace a quantize step that missed the accuracy goal, when the
   * evaluator has training data (Evaluator.train).
   */
  kind: 'graph' | 'prune' | 'quantize' | 'train';
  /**
   * Op types whose time this pass can reduce. The search skips the pass when the baseline profile says
   * these take less than `minShare` of the time (quantizing a model that is 90% Resize buys nothing).
   */
  speedsUp?: readonly string[];
  /** Makes the model smaller: tried whenever a size goal is set, even if the profile says it cannot speed up. */
  reducesSize?: boolean;
  /** Relative cost of building the candidate (cheap first: 1 = a graph rewrite, 10 = calibration). */
  buildCost: number;
  /** Targets the pass supports (default: all). */
  targets?: readonly Target[];
  /** Parameters whose search values the refine stage tries (default: every parameter with search values). */
  searchParams?: readonly string[];
  /** More parameters tried for one target only (static int8's depthwise Conv on wasm, where it matters). */
  targetSearchParams?: Partial<Record<Target, readonly string[]>>;
  /** Fixed parameters this entry uses instead of the pass defaults (lets one pass appear as variants). */
  params?: Record<string, unknown>;
  /** A label when one pass is listed more than once (e.g. static int8 per-tensor vs per-channel). */
  variant?: string;
  /** Build-time data the pass cannot run without ('training': tried only when the search has training data). */
  needs?: readonly string[];
}

export interface SessionSpace {
  threads: number[];
  optLevel: readonly OptLevel[];
  executionMode: readonly SessionSettings['executionMode'][];
  /**
   * 'webgpu': a device page with a WebGPU adapter times the float model (fp32 and fp16) on WebGPU too, after
   * the search on its CPU (wasm); the fastest measured on the device is chosen (see runSearch).
   */
  ep?: readonly 'webgpu'[];
}

export interface SearchSpace {
  passes: readonly SearchablePass[];
  session: SessionSpace;
}

/** Session settings worth trying on a machine with `cores` cores, starting from `base`. */
export function defaultSessionSpace(cores: number, base: SessionSettings): SessionSpace {
  const threads = [...new Set([1, Math.max(1, Math.floor(cores / 2)), cores, base.threads])].sort((a, b) => a - b);
  return { threads, optLevel: ['basic', 'extended', 'all'], executionMode: ['sequential', 'parallel'] };
}

/** The parameter variations of a pass: each searchable parameter moved off its default, one at a time. */
export function paramVariations(sp: SearchablePass, target?: Target): { name: string; value: unknown }[] {
  const out: { name: string; value: unknown }[] = [];
  const names = [...(sp.searchParams ?? Object.keys(sp.pass.params)), ...((target && sp.targetSearchParams?.[target]) ?? [])];
  for (const name of names) {
    const spec = (sp.pass.params as Record<string, { default: unknown; search?: readonly unknown[] }>)[name];
    if (!spec?.search) continue;
    const current = sp.params?.[name] ?? spec.default;
    for (const v of spec.search) if (JSON.stringify(v) !== JSON.stringify(current)) out.push({ name, value: v });
  }
  return out;
}

/** The share of baseline time spent in op types a pass can speed up (1 when it does not say). */
export function reachableShare(sp: SearchablePass, opShare: Readonly<Record<string, number>> | undefined): number {
  if (!sp.speedsUp || !opShare) return 1;
  return sp.speedsUp.reduce((s, op) => s + (opShare[op] ?? 0), 0);
}
