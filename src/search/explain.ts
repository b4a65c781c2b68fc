/**
 * Why a quantized candidate ran slower than the baseline, from what ONNX Runtime ran: the int8 and float
 * compute kernels of the graph ORT made of it (runtime/kernels.ts — a DequantizeLinear → float Conv that ORT
 * did not fuse computes in float and adds the conversions), the time per op type from ORT's profiler against
 * the baseline's, and the session settings it differs in. A user told only "0.67× the latency" cannot act
 * on it; "ORT runs 0 of 60 compute ops as int8 kernels, DequantizeLinear takes 31% of its time" they can.
 */
import type { Model } from '../ir/graph.js';
import { opIsQuantConversion } from '../ops/index.js';
import type { OpTypeTime } from '../report/profile/aggregate.js';
import { kernelSummary, type KernelCount } from '../runtime/kernels.js';
import type { SessionSettings, Recipe } from './recipe.js';
import type { Candidate } from './search.js';

/** What the explanation is made from, for one candidate. */
export interface SlowerEvidence {
  /** The candidate's speed-up over the baseline, timed side by side (below 1: slower). */
  speedup: { speedup: number; low: number; high: number };
  /** The kernels ORT runs for the candidate (undefined: ORT could not write its optimized graph). */
  kernels?: KernelCount;
  /** Time per op type (ms per run) of the baseline and of the candidate, from ORT's profiler. */
  baseline: readonly OpTypeTime[];
  candidate: readonly OpTypeTime[];
  /** Session settings of each (differences are part of the explanation). */
  baseSession: SessionSettings;
  session: SessionSettings;
}

/** Op types listed as the largest increases. */
const TOP_CHANGES = 3;

/** One line: how much slower, which kernels ORT ran, where the time went, which session settings differ. */
export function explainSlower(e: SlowerEvidence): string {
  const parts = [`${e.speedup.speedup.toFixed(2)}× the baseline's speed [95% ${e.speedup.low.toFixed(2)}–${e.speedup.high.toFixed(2)}]`];
  if (e.kernels) parts.push(`ONNX Runtime runs ${kernelSummary(e.kernels)}`);
  const before = new Map(e.baseline.map((t) => [t.opType, t.ms]));
  const after = new Map(e.candidate.map((t) => [t.opType, t.ms]));
  const types = [...new Set([...before.keys(), ...after.keys()])];
  const rises = types
    .map((t) => ({ t, from: before.get(t), to: after.get(t), rise: (after.get(t) ?? 0) - (before.get(t) ?? 0) }))
    .filter((c) => c.rise > 0)
    .sort((a, b) => b.rise - a.rise)
    .slice(0, TOP_CHANGES);
  const cell = (v: number | undefined) => (v === undefined ? 'none' : v.toFixed(2));
  if (rises.length) parts.push(`the most added time per op type (ORT profiler, ms per run, baseline → candidate): ${rises.map((c) => `${c.t} ${cell(c.from)} → ${cell(c.to)}`).join(', ')}`);
  const total = e.candidate.reduce((s, t) => s + t.ms, 0);
  const conversion = e.candidate.filter((t) => opIsQuantConversion('', t.opType)).reduce((s, t) => s + t.ms, 0);
  if (total > 0 && conversion > 0) parts.push(`quantize/dequantize kernels take ${((conversion / total) * 100).toFixed(0)}% of its kernel time`);
  const settings = sessionChanges(e.baseSession, e.session);
  if (settings) parts.push(`session: ${settings}`);
  return parts.join('; ');
}

function sessionChanges(base: SessionSettings, s: SessionSettings): string {
  const out: string[] = [];
  if (s.threads !== base.threads) out.push(`${s.threads} thread${s.threads === 1 ? '' : 's'} (baseline ${base.threads})`);
  if (s.optLevel !== base.optLevel) out.push(`ORT level ${s.optLevel} (baseline ${base.optLevel})`);
  if (s.executionMode !== base.executionMode) out.push(`${s.executionMode} execution (baseline ${base.executionMode})`);
  return out.join(', ');
}

export interface ExplainOptions {
  /** Whether the recipe quantizes (the candidates explained). */
  quantizes(recipe: Recipe): boolean;
  build(recipe: Recipe): Promise<Model>;
  kernels(model: Model, recipe: Recipe): Promise<KernelCount>;
  profile(model: Model, recipe: Recipe): Promise<OpTypeTime[]>;
  /** The baseline's time per op type. */
  baseline: readonly OpTypeTime[];
  /** At most this many candidates, the slowest first (default 4): each costs a build and a profile. */
  max?: number;
  log?: (line: string) => void;
}

/**
 * Explains the quantized candidates that were significantly slower than the baseline side by side (their
 * whole interval below 1), the slowest first, in `candidate.explanation`. Returns the candidates explained.
 */
export async function explainSlowerCandidates(candidates: readonly Candidate[], baseline: Candidate, o: ExplainOptions): Promise<Candidate[]> {
  const slower = candidates
    .filter((c) => c !== baseline && c.measurement?.vsBaseline && c.measurement.vsBaseline.high < 1 && o.quantizes(c.recipe))
    .sort((a, b) => a.measurement!.vsBaseline!.speedup - b.measurement!.vsBaseline!.speedup)
    .slice(0, o.max ?? 4);
  for (const c of slower) {
    const model = await o.build(c.recipe);
    let kernels: KernelCount | undefined;
    try {
      kernels = await o.kernels(model, c.recipe);
    } catch (e) {
      o.log?.(`could not count the kernels ONNX Runtime runs for candidate ${c.id}: ${(e as Error).message.split('\n')[0]}`);
    }
    const candidate = await o.profile(model, c.recipe);
    c.explanation = explainSlower({ speedup: c.measurement!.vsBaseline!, ...(kernels ? { kernels } : {}), baseline: o.baseline, candidate, baseSession: baseline.recipe.session, session: c.recipe.session });
    o.log?.(`[${c.id}] slower: ${c.explanation}`);
  }
  return slower;
}
