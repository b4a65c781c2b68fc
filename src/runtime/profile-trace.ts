/**
 * ONNX Runtime's profile as trace events, the part that runs anywhere (Node and a device page's worker, so
 * no file system here): parsing the events, running a model under onnxruntime-web's profiler (which prints
 * its trace instead of writing a file), stand-in names for nodes ORT would write unescaped, and dropping
 * the warm-up runs. runtime/profile.ts builds `profileModel` on these.
 */
import type { Graph, Model, Node } from '../ir/graph.js';
import type { Tensor } from '../ir/tensor.js';
import { Session, type SessionOptions } from './session.js';

/** One kernel execution as ORT's profiler records it. */
export interface KernelEvent {
  /** The node name ORT ran (after its own fusions: may name a fused node inferopt's graph lacks). */
  node: string;
  opType: string;
  /** Duration in microseconds. */
  durUs: number;
  /** Start, µs since the profiler started. */
  tsUs: number;
  /** Which run (0-based) the event belongs to, counted from `model_run` events. */
  run: number;
  provider?: string;
}

export interface OrtProfile {
  kernels: KernelEvent[];
  /** Wall time of each profiled run (µs), from ORT's `model_run` events. */
  runsUs: number[];
  /** The raw trace events (Chrome trace format), for --trace. */
  raw: unknown[];
}

interface RawEvent {
  cat?: string;
  name?: string;
  ts?: number;
  dur?: number;
  args?: { op_name?: string; provider?: string };
}

/** Parses ORT's profile JSON (an array of Chrome-trace events) into kernel events grouped by run. */
export function parseOrtProfile(json: unknown): OrtProfile {
  if (!Array.isArray(json)) throw new Error('not an ONNX Runtime profile: expected a JSON array of trace events');
  const events = json as RawEvent[];
  const runs = events
    .filter((e) => e.cat === 'Session' && e.name === 'model_run')
    .map((e) => ({ ts: e.ts ?? 0, end: (e.ts ?? 0) + (e.dur ?? 0) }))
    .sort((a, b) => a.ts - b.ts);
  const runOf = (ts: number) => {
    const i = runs.findIndex((r) => ts >= r.ts && ts <= r.end);
    return i < 0 ? 0 : i;
  };
  const kernels: KernelEvent[] = [];
  for (const e of events) {
    if (e.cat !== 'Node' || !e.name?.endsWith('_kernel_time')) continue;
    kernels.push({
      node: e.name.slice(0, -'_kernel_time'.length),
      opType: e.args?.op_name ?? '?',
      durUs: e.dur ?? 0,
      tsUs: e.ts ?? 0,
      run: runOf(e.ts ?? 0),
      ...(e.args?.provider ? { provider: e.args.provider } : {}),
    });
  }
  return { kernels, runsUs: runs.map((r) => r.end - r.ts), raw: events };
}

/**
 * onnxruntime-web writes no profile file: its wasm build prints the trace events when profiling ends, which
 * `endProfilingPrinted` collects — the same events as a native profile (kernel times per node, model_run),
 * warm-up runs included. `model` is what Session.create takes (a device page passes the bytes it received).
 */
export async function printedProfileEvents(model: Model | Uint8Array, feeds: Record<string, Tensor>, opts: Omit<SessionOptions, 'profilePrefix'>, runs: number, warmup: number): Promise<unknown[]> {
  const session = await Session.create(model, { ...opts, backend: 'wasm', profilePrefix: 'ort' });
  try {
    const run = session.prepareFeeds(feeds);
    for (let i = 0; i < warmup + runs; i++) await run();
    return session.endProfilingPrinted();
  } finally {
    await session.release();
  }
}

/** Characters ORT's profiler copies into its JSON without escaping (it writes node names raw). */
const UNSAFE_IN_PROFILE = /["\\\u0000-\u001f\u007f]/;
const STAND_IN = /inferopt_profiled_node_\d+/g;

/**
 * ORT writes node names into the profile JSON unescaped, so a name with `"`, `\` or a control character
 * makes the whole file unreadable. Such nodes (in every graph) run under stand-in names for the profiled
 * session; `events` maps the names in the parsed profile back (also inside names ORT derives from them, as
 * for fused nodes) and `names` puts the original names back on the model.
 */
export function standInNames(model: Model): { renamed: boolean; names(): void; events(p: OrtProfile): OrtProfile } {
  const renamed: { node: Node; name: string }[] = [];
  const visit = (g: Graph) => {
    for (const n of g.nodes) {
      if (UNSAFE_IN_PROFILE.test(n.name)) renamed.push({ node: n, name: n.name });
      for (const sg of n.subgraphs()) visit(sg);
    }
  };
  visit(model.graph);
  const original = new Map<string, string>();
  renamed.forEach((r, i) => {
    const standIn = `inferopt_profiled_node_${i}`;
    original.set(standIn, r.name);
    r.node.name = standIn;
  });
  const back = (s: string) => (original.size ? s.replace(STAND_IN, (x) => original.get(x) ?? x) : s);
  return {
    renamed: renamed.length > 0,
    names: () => renamed.forEach((r) => (r.node.name = r.name)),
    events: (p) =>
      original.size
        ? {
            ...p,
            kernels: p.kernels.map((k) => ({ ...k, node: back(k.node) })),
            raw: (p.raw as { name?: unknown }[]).map((e) => (typeof e?.name === 'string' ? { ...e, name: back(e.name) } : e)),
          }
        : p,
  };
}

/** Drops the first `warmup` runs' kernel events and run times (the raw trace keeps them). */
export function dropWarmup(p: OrtProfile, warmup: number): OrtProfile {
  if (warmup <= 0 || p.runsUs.length <= warmup) return p;
  return {
    kernels: p.kernels.filter((k) => k.run >= warmup).map((k) => ({ ...k, run: k.run - warmup })),
    runsUs: p.runsUs.slice(warmup),
    raw: p.raw,
  };
}
