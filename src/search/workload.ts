import type { Model } from '../ir/graph.js';
import type { Tensor } from '../ir/tensor.js';
import { shapesText } from '../runtime/bench.js';
import { randomInputs, requireSizedDims, resolveDims, runtimeInputs, type InputSpec } from '../runtime/inputs.js';
import type { MetricSource } from './metric.js';

/** What latency is timed on: the inputs, where they come from, and their shapes — stated in every report. */
export interface Workload {
  /** Input sets the benchmark uses in turn (real batches from the data, or one seeded random set). */
  feeds: Record<string, Tensor>[];
  /** `data`: drawn from --data; `declared`: random values at the --shape/--dim given; `random`: declared dims. */
  source: 'data' | 'declared' | 'random';
  /** Each distinct set of input shapes (`x=1x3x48x320`) and how many input sets had it. */
  shapes: { shapes: string; count: number }[];
  /** Symbolic dims with one value in every input set (fixed in the model for profiling). */
  dims: Record<string, number>;
  /** One line for the report: shapes and where the values come from. */
  note: string;
}

/** Input sets drawn from the data for timing (8 batches: enough to cover its shapes, cheap to hold). */
const TIMING_BATCHES = 8;

/**
 * The batch size of the workload: the leading dim of a `--shape` given for the first input, else a `--dim`
 * for its symbolic leading dim, else 1 (one sample per inference, as the data's samples come).
 */
export function workloadBatch(model: Model, spec: InputSpec): number {
  const first = runtimeInputs(model)[0];
  if (!first) return 1;
  const given = spec.shapes?.[first.name];
  if (given?.[0] !== undefined) return given[0];
  const d0 = first.type?.kind === 'tensor' ? first.type.shape?.[0] : undefined;
  if (typeof d0 === 'string' && spec.dims?.[d0] !== undefined) return spec.dims[d0]!;
  return 1;
}

/**
 * The inputs `optimize` times every candidate on. With data: real batches from it (of the batch size that
 * `--shape`/`--dim` declare, else 1), so that symbolic sizes (a text line's width, a page's height) are the
 * data's, never a default — unless a declared `--shape`/`--dim` contradicts the data's non-batch sizes, in
 * which case the declaration wins (random values at that shape) and the note says so. Without data:
 * seeded random values at the declared shapes; a non-batch symbolic dim nothing sizes is refused.
 */
export async function timingWorkload(model: Model, spec: InputSpec, metric: Pick<MetricSource, 'timingFeeds'>, what?: string): Promise<Workload> {
  if (metric.timingFeeds) {
    const batch = workloadBatch(model, spec);
    const drawn = await metric.timingFeeds(batch, TIMING_BATCHES);
    // the data's last batch may be short: time full batches when there are any
    const lead = (f: Record<string, Tensor>) => Object.values(f)[0]?.dims[0];
    const full = drawn.filter((f) => lead(f) === batch);
    const feeds = full.length ? full : drawn;
    if (feeds.length > 0) {
      const conflict = declaredConflict(model, spec, feeds[0]!);
      if (!conflict) return describe(model, feeds, 'data', `${feeds.length} batch${feeds.length > 1 ? 'es' : ''} of ${batch} drawn from ${what ?? 'the data'} (real inputs)`);
      requireSizedDims(model, spec, { dataFlag: true });
      return describe(model, [randomInputs(model, spec)], 'declared', `random values at the declared shape (${conflict}; the data's samples are ${shapesText(feeds[0]!)})`);
    }
  }
  requireSizedDims(model, spec, { dataFlag: true });
  const declared = Object.keys(spec.shapes ?? {}).length > 0 || Object.keys(spec.dims ?? {}).length > 0;
  return describe(model, [randomInputs(model, spec)], declared ? 'declared' : 'random', `seeded random values at ${declared ? 'the declared --shape/--dim' : "the model's declared shapes"}`);
}

/** A --shape or --dim that gives a non-batch size other than the data's, as text; undefined when none does. */
function declaredConflict(model: Model, spec: InputSpec, sample: Record<string, Tensor>): string | undefined {
  for (const v of runtimeInputs(model)) {
    const t = sample[v.name];
    const shape = v.type?.kind === 'tensor' ? v.type.shape : undefined;
    if (!t || !shape) continue;
    for (let axis = 1; axis < shape.length; axis++) {
      const d = shape[axis];
      const given = spec.shapes?.[v.name]?.[axis] ?? (typeof d === 'string' ? spec.dims?.[d] : undefined);
      if (given !== undefined && given !== t.dims[axis]) {
        return spec.shapes?.[v.name] ? `--shape ${v.name}=${spec.shapes[v.name]!.join('x')}` : `--dim ${String(d)}=${given}`;
      }
    }
  }
  return undefined;
}

function describe(model: Model, feeds: Record<string, Tensor>[], source: Workload['source'], how: string): Workload {
  const counts = new Map<string, number>();
  for (const f of feeds) counts.set(shapesText(f), (counts.get(shapesText(f)) ?? 0) + 1);
  const shapes = [...counts].map(([s, count]) => ({ shapes: s, count }));
  const perSet = feeds.map((f) => resolveDims(model, { shapes: Object.fromEntries(Object.entries(f).map(([k, t]) => [k, [...t.dims]])) }));
  const dims: Record<string, number> = {};
  for (const [k, v] of Object.entries(perSet[0] ?? {})) if (perSet.every((d) => d[k] === v)) dims[k] = v;
  const text = shapes.length === 1 ? shapes[0]!.shapes : shapes.map((s) => `${s.shapes} (${s.count}×)`).join('; ');
  return { feeds, source, shapes, dims, note: `${text}: ${how}` };
}
