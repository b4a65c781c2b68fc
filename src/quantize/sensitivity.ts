import type { Model, Node } from '../ir/graph.js';
import type { Tensor } from '../ir/tensor.js';
import { resolveParams } from '../passes/pass.js';
import { Session } from '../runtime/session.js';
import { runAll } from './fidelity.js';
import { compareArrays } from '../verify/compare.js';
import { quantizeModel, type QuantizeOptions } from './quantize.js';
import { calibrateFor, staticQuantizePass } from './static.js';
import { QUANTIZED_OPS } from './static-plan.js';

/**
 * Per-node sensitivity: each quantizable node is quantized alone and scored by the SQNR of its own output
 * and of the model's (first) output against the float model, on the same feeds. Ranked most sensitive
 * (lowest output SQNR) first; this order drives the accuracy-aware fallback.
 */
export interface NodeSensitivity {
  node: string;
  opType: string;
  /** dB: the node's own output with only this node quantized. */
  outputSqnr: number;
  /** dB: the model's first output with only this node quantized. */
  finalSqnr: number;
}

/** Names of the original nodes a quantization touched (replaced, or now reading a DequantizeLinear). */
export function quantizedNodeNames(original: Model, quantized: Model): string[] {
  const byName = new Map<string, Node>();
  for (const n of quantized.graph.nodes) byName.set(n.name, n);
  const out: string[] = [];
  for (const n of original.graph.nodes) {
    const q = byName.get(n.name);
    const replaced = !q || q.opType !== n.opType;
    // pass-through ops (MaxPool, Flatten…) read DequantizeLinear outputs too, but are not quantized themselves
    const readsDq = !!q && n.opType in QUANTIZED_OPS && q.inputs.some((v) => v?.producer?.opType === 'DequantizeLinear');
    if (replaced || readsDq) out.push(n.name);
  }
  return out;
}

/** Statistics computed once so every single-node static trial reuses them. */
export async function withStaticStats(model: Model, o: QuantizeOptions): Promise<QuantizeOptions> {
  if (o.mode !== 'static' || o.stats) return o;
  const cfg = resolveParams(staticQuantizePass, { calibration: o.calibration, calibrate: o.calibrate, include: o.include ?? [], exclude: o.exclude ?? [] });
  return { ...o, stats: await calibrateFor(model, cfg), calibration: undefined };
}

export async function nodeSensitivity(model: Model, options: QuantizeOptions, feeds: readonly Record<string, Tensor>[], log?: (m: string) => void): Promise<NodeSensitivity[]> {
  return (await rankNodes(model, options, feeds, { ...(log ? { log } : {}) })).ranking;
}

/**
 * nodeSensitivity with a deadline: `timeUp` is asked before each node (one quantization and one run each);
 * once it says true the scan stops, and the ranking holds the nodes scanned so far (`complete` false).
 */
export async function rankNodes(
  model: Model,
  options: QuantizeOptions,
  feeds: readonly Record<string, Tensor>[],
  x: { log?: (m: string) => void; timeUp?: () => boolean } = {},
): Promise<{ ranking: NodeSensitivity[]; complete: boolean; of: number }> {
  // calibration data is read once: static statistics are collected up front, GPTQ is ranked as RTN
  const o = await withStaticStats(model, options.mode === 'weight-only' ? { ...options, algorithm: 'rtn' } : options);
  const full = await quantizeModel(model, { ...o, inPlace: false });
  const candidates = quantizedNodeNames(model, full.model);
  const finalName = model.graph.outputs[0]!.name;
  const nodeOutput = new Map(candidates.map((c) => [c, model.graph.nodes.find((n) => n.name === c)!.outputs[0]!.name]));
  const ref = await runWithOutputs(model, [finalName, ...nodeOutput.values()], feeds);
  const result: NodeSensitivity[] = [];
  let k = 0;
  for (const name of candidates) {
    if (x.timeUp?.()) break;
    const q = await quantizeModel(model, { ...o, inPlace: false, include: [name], exclude: [] });
    const out = nodeOutput.get(name)!;
    const got = await runWithOutputs(q.model, [finalName, out], feeds);
    result.push({
      node: name,
      opType: model.graph.nodes.find((n) => n.name === name)!.opType,
      outputSqnr: compareArrays(flat(ref, out), flat(got, out)).sqnr,
      finalSqnr: compareArrays(flat(ref, finalName), flat(got, finalName)).sqnr,
    });
    x.log?.(`sensitivity ${++k}/${candidates.length}: ${name}`);
  }
  return { ranking: result.sort((a, b) => a.finalSqnr - b.finalSqnr || a.outputSqnr - b.outputSqnr), complete: result.length === candidates.length, of: candidates.length };
}

async function runWithOutputs(model: Model, names: string[], feeds: readonly Record<string, Tensor>[]) {
  const g = model.graph;
  const extra = names.filter((n) => !g.outputs.some((v) => v.name === n)).map((n) => g.findValue(n)).filter((v) => !!v);
  g.outputs.push(...extra);
  let s: Session;
  try {
    s = await Session.create(model, { optLevel: 'all' });
  } finally {
    g.outputs.splice(g.outputs.length - extra.length, extra.length);
  }
  return runAll(s, feeds, {}, names.filter((n) => s.outputNames.includes(n))).finally(() => s.release());
}

function flat(runs: Record<string, Tensor>[], name: string): Float32Array {
  const parts = runs.map((r) => r[name]?.toFloat32() ?? new Float32Array());
  const out = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
