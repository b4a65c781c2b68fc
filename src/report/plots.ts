import * as vega from 'vega';
import * as vl from 'vega-lite';
import type { TopLevelSpec } from 'vega-lite';

/**
 * Plots as inline SVG, rendered here (vega-lite compiled to vega, vega's headless renderer): the report opens
 * offline with no script and no external resource.
 */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const compiled = vl.compile(spec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

export interface ParetoPoint {
  id: number;
  label: string;
  latencyMs: number;
  metric: number;
  sizeMB: number;
  /** baseline, chosen, pareto, other, or failed-goal. */
  kind: 'baseline' | 'chosen' | 'Pareto front' | 'meets goals' | 'misses a goal';
}

const FONT = { font: 'sans-serif', labelFont: 'sans-serif', titleFont: 'sans-serif' };

/**
 * A padded axis domain around the values (never the 0–1 default of a rate, which squashes 0.003 against the
 * edge; never a zero-width domain, which puts every point on one edge when all scores are equal).
 */
export function paddedDomain(values: readonly number[], floor: number): [number, number] {
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  const pad = Math.max((hi - lo) * 0.15, Math.abs(hi) * 0.01, floor);
  return [lo - pad, hi + pad];
}

/**
 * Every candidate: latency vs metric, mark size by model size. The chosen model is drawn last with a ring so
 * that nothing hides it; only the baseline, the chosen model and the Pareto front carry id labels (the
 * others are in the decision log), so labels of clustered candidates do not overprint each other. The metric
 * axis spans the candidates within the goals; one that missed them far off that range (a broken
 * quantization at 100% CER beside candidates at 0.3%) is drawn as a triangle at the edge, and the title
 * names its id and value, instead of squashing every other point onto one line.
 */
export function paretoSpec(points: readonly ParetoPoint[], metricName: string): TopLevelSpec {
  const kept = points.filter((p) => p.kind !== 'misses a goal');
  const inner = paddedDomain((kept.length ? kept : points).map((p) => p.metric), 1e-4);
  const span = inner[1] - inner[0];
  const far = (v: number) => v < inner[0] - 3 * span || v > inner[1] + 3 * span;
  const y = paddedDomain(points.filter((p) => !far(p.metric)).map((p) => p.metric), 1e-4);
  const x = paddedDomain(points.map((p) => p.latencyMs), 1e-3);
  const xEnc = { field: 'latencyMs', type: 'quantitative' as const, title: 'latency p50 (ms)', scale: { domain: x, nice: false, zero: false } };
  const yEnc = { field: 'shown', type: 'quantitative' as const, title: metricName, scale: { domain: y, nice: false, zero: false } };
  const order = { baseline: 1, 'Pareto front': 2, 'meets goals': 3, 'misses a goal': 4, chosen: 0 } as const;
  const values = points.map((p) => {
    const off = far(p.metric) ? (p.metric > y[1] ? 'above' : 'below') : undefined;
    const shown = off === 'above' ? y[1] : off === 'below' ? y[0] : p.metric;
    const labelled = p.kind === 'baseline' || p.kind === 'chosen' || p.kind === 'Pareto front';
    return { ...p, shown, shape: off === 'above' ? 'triangle-up' : off === 'below' ? 'triangle-down' : 'circle', labelled, off, z: order[p.kind] };
  });
  // several candidates off the scale usually sit together (one broken setting tried twice): named once, above the plot
  const offScale = values.filter((v) => v.off).map((v) => `#${v.id} ${metricName} ${Number(v.metric.toPrecision(3))}`);
  return {
    width: 520,
    height: 300,
    config: { axis: FONT, legend: FONT },
    ...(offScale.length ? { title: { text: `off the scale (▲▼ at the edge): ${offScale.join(', ')}`, anchor: 'start' as const, fontSize: 11, fontWeight: 'normal' as const, font: 'sans-serif' } } : {}),
    data: { values },
    layer: [
      {
        transform: [{ filter: "datum.kind !== 'chosen'" }],
        mark: { type: 'point', filled: true, opacity: 0.75, clip: false },
        encoding: {
          x: xEnc,
          y: yEnc,
          shape: { field: 'shape', type: 'nominal', scale: null, legend: null },
          size: { field: 'sizeMB', type: 'quantitative', title: 'size (MB)', scale: { range: [40, 600] } },
          color: {
            field: 'kind',
            type: 'nominal',
            title: 'candidate',
            scale: { domain: ['baseline', 'chosen', 'Pareto front', 'meets goals', 'misses a goal'], range: ['#555555', '#d62728', '#1f77b4', '#7fb3d5', '#cccccc'] },
          },
          order: { field: 'z', type: 'quantitative', sort: 'descending' },
        },
      },
      {
        transform: [{ filter: "datum.kind === 'chosen'" }],
        mark: { type: 'point', filled: true, opacity: 1, stroke: '#000000', strokeWidth: 2, clip: false },
        encoding: { x: xEnc, y: yEnc, size: { field: 'sizeMB', type: 'quantitative' }, color: { field: 'kind', type: 'nominal' } },
      },
      {
        transform: [{ filter: 'datum.labelled' }],
        mark: { type: 'text', dx: 9, dy: -9, align: 'left', fontSize: 11, fontWeight: 'bold' },
        encoding: { x: xEnc, y: yEnc, text: { field: 'id', type: 'nominal' } },
      },
    ],
  };
}

/** Per-run latency distributions of the baseline and the chosen model, overlaid. */
export function latencyHistogramSpec(series: { model: string; samples: readonly number[] }[]): TopLevelSpec {
  const values = series.flatMap((s) => s.samples.map((ms) => ({ model: s.model, ms })));
  return {
    width: 520,
    height: 200,
    config: { axis: FONT, legend: FONT },
    data: { values },
    mark: { type: 'bar', opacity: 0.6, binSpacing: 0 },
    encoding: {
      x: { field: 'ms', type: 'quantitative', bin: { maxbins: 40 }, title: 'latency per run (ms)' },
      y: { aggregate: 'count', type: 'quantitative', title: 'runs', stack: null },
      color: { field: 'model', type: 'nominal', title: 'model', scale: { range: ['#555555', '#d62728'] } },
    },
  };
}

/** Time per op type (ms per run) before and after, from ORT's profiler. */
export function opTypeSpec(rows: { model: string; opType: string; ms: number }[]): TopLevelSpec {
  return {
    width: 520,
    config: { axis: FONT, legend: FONT },
    data: { values: rows.map((r) => ({ ...r })) },
    mark: 'bar',
    encoding: {
      y: { field: 'opType', type: 'nominal', title: 'op type', sort: '-x' },
      yOffset: { field: 'model' },
      x: { field: 'ms', type: 'quantitative', title: 'ms per run' },
      color: { field: 'model', type: 'nominal', title: 'model', scale: { range: ['#555555', '#d62728'] } },
    },
  };
}

export interface SparsityPoint {
  granularity: string;
  /** Fraction of the parameters removed or zeroed, in percent (0: the unpruned model). */
  sparsity: number;
  metric: number;
  latencyMs: number;
  id: number;
}

/**
 * The seed's "unstructured vs structured vs 2:4" answer: per granularity, the metric and the measured latency
 * against sparsity (each line starts at the unpruned model). Structured lines fall in latency; unstructured and
 * 2:4 stay flat on CPU, whatever the sparsity.
 */
export function sparsitySpec(points: readonly SparsityPoint[], metricName: string): TopLevelSpec {
  const values = points.map((p) => ({ ...p }));
  const color = { field: 'granularity', type: 'nominal' as const, title: 'granularity' };
  const x = { field: 'sparsity', type: 'quantitative' as const, title: 'parameters removed or zero (%)', scale: { domain: [0, Math.max(10, ...points.map((p) => p.sparsity)) * 1.05], nice: false } };
  const panel = (field: 'metric' | 'latencyMs', title: string, floor: number) => ({
    width: 300,
    height: 240,
    layer: [
      { mark: { type: 'line' as const, point: { filled: true, size: 60 } }, encoding: { x, y: { field, type: 'quantitative' as const, title, scale: { domain: paddedDomain(points.map((p) => p[field]), floor), nice: false, zero: false } }, color, order: { field: 'sparsity', type: 'quantitative' as const } } },
      // ids of the pruned candidates (the decision log's); the unpruned start of every line is the baseline
      { transform: [{ filter: 'datum.sparsity > 0' }], mark: { type: 'text' as const, dx: 8, dy: -8, align: 'left' as const, fontSize: 10 }, encoding: { x, y: { field, type: 'quantitative' as const }, text: { field: 'id', type: 'nominal' as const }, color } },
    ],
  });
  return {
    config: { axis: FONT, legend: FONT },
    data: { values },
    hconcat: [panel('metric', metricName, 1e-4), panel('latencyMs', 'latency p50 (ms)', 1e-3)],
  } as TopLevelSpec;
}
