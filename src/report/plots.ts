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

/** Every candidate: latency vs metric, mark size by model size; chosen and baseline marked. */
export function paretoSpec(points: readonly ParetoPoint[], metricName: string): TopLevelSpec {
  return {
    width: 520,
    height: 300,
    config: { axis: FONT, legend: FONT },
    data: { values: points.map((p) => ({ ...p })) },
    layer: [
      {
        mark: { type: 'point', filled: true, opacity: 0.8 },
        encoding: {
          x: { field: 'latencyMs', type: 'quantitative', title: 'latency p50 (ms)', scale: { zero: false } },
          y: { field: 'metric', type: 'quantitative', title: metricName, scale: { zero: false } },
          size: { field: 'sizeMB', type: 'quantitative', title: 'size (MB)', scale: { range: [40, 600] } },
          color: {
            field: 'kind',
            type: 'nominal',
            title: 'candidate',
            scale: { domain: ['baseline', 'chosen', 'Pareto front', 'meets goals', 'misses a goal'], range: ['#555555', '#d62728', '#1f77b4', '#7fb3d5', '#cccccc'] },
          },
        },
      },
      {
        mark: { type: 'text', dx: 8, dy: -8, align: 'left', fontSize: 10 },
        encoding: {
          x: { field: 'latencyMs', type: 'quantitative' },
          y: { field: 'metric', type: 'quantitative' },
          text: { field: 'id', type: 'nominal' },
        },
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
