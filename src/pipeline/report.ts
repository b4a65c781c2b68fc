import type { TopLevelSpec } from 'vega-lite';
import { environment } from '../report/environment.js';
import { renderSvg } from '../report/plots.js';
import type { PipelineRun } from './run.js';

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const FONT = { font: 'sans-serif', labelFont: 'sans-serif', titleFont: 'sans-serif' };
const ms = (x: number) => `${x.toFixed(1)} ms`;
const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

const CSS = `body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1100px;padding:0 1em;color:#222}
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:2em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f4f4f4}.num{text-align:right;font-variant-numeric:tabular-nums}.ok{color:#1a7f37}.bad{color:#b42318;font-weight:600}
.note{background:#fff8e1;border-left:4px solid #f0b400;padding:.4em .8em;margin:.4em 0}code,pre{background:#f6f6f6;padding:1px 4px}pre{padding:.6em;overflow:auto}`;

/** A pipeline run's key figures as one line. */
export function runHeadline(r: PipelineRun): string {
  const l = r.latency;
  const parts = [`p50 ${ms(l.latency.p50)}, p90 ${ms(l.latency.p90)}, p99 ${ms(l.latency.p99)}`, `${l.throughput.toFixed(1)} frames/s`];
  if (l.budgetMs !== undefined) parts.push(`${l.deadlineMisses}/${l.frames} frames over ${l.budgetMs} ms (${pct(l.missRate!)})`);
  const a = r.accuracy;
  if (a) parts.push(`F1 ${(100 * a.f1.value).toFixed(1)} [${(100 * a.f1.low).toFixed(1)}, ${(100 * a.f1.high).toFixed(1)}]`, `CER ${pct(a.cer)}`, `${a.idSwitches} ID switches`);
  return parts.join(' · ');
}

function table(header: string[], rows: string[][]): string {
  const num = (s: string) => /^[-+−]?[\d.,]+ ?(ms|%|×|points|frames\/s)?$/.test(s);
  return `<table><tr>${header.map((h) => `<th>${esc(h)}</th>`).join('')}</tr>${rows.map((r) => `<tr>${r.map((c) => `<td${num(c) ? ' class="num"' : ''}>${esc(c)}</td>`).join('')}</tr>`).join('')}</table>`;
}

/** Per-stage Gantt of a few frames: when each stage's pre-processing, model call and post-processing ran. */
export function waterfallSpec(run: PipelineRun, label: string): TopLevelSpec {
  const lat = run.frames.map((f) => f.latencyMs);
  const sorted = [...lat].sort((a, b) => a - b);
  const at = (q: number) => {
    const v = sorted[Math.min(sorted.length - 1, Math.floor(q * (sorted.length - 1)))]!;
    return run.frames.find((f) => f.latencyMs === v)!;
  };
  const picks = [
    ['median frame', at(0.5)],
    ['p90 frame', at(0.9)],
    ['slowest frame', at(1)],
  ] as const;
  const values = picks.flatMap(([name, f]) => f.spans.map((s) => ({ frame: `${name} (#${f.index}, ${f.latencyMs.toFixed(1)} ms)`, lane: s.stage, part: s.part, start: s.start, end: s.end, items: s.items ?? 0 })));
  return {
    title: { text: `${label}: where a frame's time goes`, ...FONT },
    config: { axis: FONT, legend: FONT, header: FONT },
    data: { values },
    facet: { row: { field: 'frame', type: 'nominal', title: null, sort: null, header: { labelAngle: 0, labelOrient: 'top', labelAnchor: 'start', labelFontSize: 12 } } },
    spec: {
      width: 700,
      height: { step: 16 },
      mark: { type: 'bar', stroke: 'white', strokeWidth: 0.5 },
      encoding: {
        y: { field: 'lane', type: 'nominal', title: 'stage', sort: run.spec.stages.map((s) => s.id) },
        x: { field: 'start', type: 'quantitative', title: 'ms from frame start' },
        x2: { field: 'end' },
        color: { field: 'part', type: 'nominal', title: 'part', scale: { domain: ['pre', 'model', 'post', 'track'], range: ['#9ecae1', '#3182bd', '#fd8d3c', '#74c476'] } },
        tooltip: [{ field: 'lane' }, { field: 'part' }, { field: 'start' }, { field: 'end' }, { field: 'items' }],
      },
    },
    resolve: { scale: { x: 'shared' } },
  } as TopLevelSpec;
}

/** Time per stage in every frame, stacked, with the budget line: the rhythm of detector frames shows. */
export function perFrameSpec(run: PipelineRun, budgetMs?: number): TopLevelSpec {
  const values = run.frames.flatMap((f) => {
    const m = new Map<string, number>();
    for (const s of f.spans) m.set(s.stage, (m.get(s.stage) ?? 0) + s.end - s.start);
    return [...m].map(([stage, t]) => ({ frame: f.index, stage, ms: t }));
  });
  const layers: unknown[] = [
    {
      mark: { type: 'bar', width: { band: 1 } },
      encoding: {
        x: { field: 'frame', type: 'ordinal', title: 'frame', axis: { values: run.frames.filter((f) => f.index % 25 === 0).map((f) => f.index) } },
        y: { field: 'ms', type: 'quantitative', aggregate: 'sum', title: 'ms', stack: 'zero' },
        color: { field: 'stage', type: 'nominal', sort: run.spec.stages.map((s) => s.id) },
      },
    },
  ];
  if (budgetMs !== undefined) layers.push({ mark: { type: 'rule', color: '#b42318', strokeDash: [4, 3] }, encoding: { y: { datum: budgetMs } } });
  return { width: 900, height: 220, config: { axis: FONT, legend: FONT }, data: { values }, layer: layers } as TopLevelSpec;
}

/** Frame latency histograms (one or two runs) with the budget as a vertical line. */
export function latencySpec(runs: { label: string; run: PipelineRun }[], budgetMs?: number): TopLevelSpec {
  const values = runs.flatMap(({ label, run }) => run.frames.map((f) => ({ run: label, ms: f.latencyMs })));
  const max = Math.max(...values.map((v) => v.ms), budgetMs ?? 0);
  const layers: unknown[] = [
    {
      mark: { type: 'bar', opacity: 0.65, binSpacing: 0 },
      encoding: {
        x: { field: 'ms', type: 'quantitative', bin: { maxbins: 60, extent: [0, Math.ceil(max * 1.02)] }, title: 'end-to-end latency per frame (ms)' },
        y: { aggregate: 'count', type: 'quantitative', title: 'frames', stack: null },
        color: { field: 'run', type: 'nominal', title: 'pipeline', scale: { range: ['#555555', '#d62728'] } },
      },
    },
  ];
  if (budgetMs !== undefined) {
    layers.push({ mark: { type: 'rule', color: '#b42318', strokeDash: [4, 3], size: 2 }, encoding: { x: { datum: budgetMs } } });
    layers.push({ mark: { type: 'text', align: 'left', dx: 4, dy: -6, color: '#b42318' }, encoding: { x: { datum: budgetMs }, y: { value: 8 }, text: { value: `budget ${budgetMs} ms` } } });
  }
  return { width: 700, height: 220, config: { axis: FONT, legend: FONT }, data: { values }, layer: layers } as TopLevelSpec;
}

export interface ReportSection {
  title: string;
  html: string;
}

function runTables(r: PipelineRun, paceMs?: number): string {
  const l = r.latency;
  const rows: string[][] = [
    ['frames', String(l.frames)],
    ['latency p50 / p90 / p99 / max', `${ms(l.latency.p50)} / ${ms(l.latency.p90)} / ${ms(l.latency.p99)} / ${ms(l.latency.max)}`],
    [paceMs ? `throughput (a frame offered every ${ms(paceMs)})` : 'throughput (frames back to back)', `${l.throughput.toFixed(1)} frames/s`],
  ];
  if (l.budgetMs !== undefined) rows.push([`deadline misses (> ${l.budgetMs} ms)`, `${l.deadlineMisses} (${pct(l.missRate!)})`]);
  const a = r.accuracy;
  if (a) {
    rows.push(['text-spotting F1 (IoU ≥ 0.5 and exact text), 95% block-bootstrap interval', `${(100 * a.f1.value).toFixed(2)} [${(100 * a.f1.low).toFixed(2)}, ${(100 * a.f1.high).toFixed(2)}]`]);
    rows.push(['precision / recall', `${pct(a.precision)} / ${pct(a.recall)} (${a.counts.tp} hits, ${a.counts.fp} false, ${a.counts.fn} missed)`]);
    rows.push(['CER over all scored appearances', pct(a.cer)]);
    rows.push(['tracker ID switches', `${a.idSwitches} over ${a.truthTracks} ground-truth tracks`]);
  }
  const stages = table(
    ['stage', 'mean ms/frame', 'p99 ms/frame', 'frames run', 'share of time'],
    l.stages.map((s) => [s.stage, s.mean.toFixed(2), s.p99.toFixed(2), String(s.ranIn), pct(s.share)]),
  );
  const shapes = Object.entries(r.shapes).map(([k, m]) => `<li><code>${esc(k)}</code>: ${Object.entries(m).sort((a, b) => b[1] - a[1]).slice(0, 6).map(([s, n]) => `${esc(s)} ×${n}`).join(', ')}${Object.keys(m).length > 6 ? `, … (${Object.keys(m).length} shapes)` : ''}</li>`).join('');
  return table(['', ''], rows) + '<h3>Per stage</h3>' + stages + `<p>Model input shapes seen:</p><ul>${shapes}</ul>`;
}

function trackTable(r: PipelineRun): string {
  const a = r.accuracy;
  if (!a) return '';
  const worst = [...a.tracks].sort((x, y) => y.cer - x.cer).slice(0, 12);
  return '<h3>CER per track (worst first)</h3>' + table(['track', 'text', 'frames scored', 'CER'], worst.map((t) => [String(t.id), t.text, String(t.frames), pct(t.cer)]));
}

/** The HTML report of one run or of a baseline/optimized pair (self-contained; plots are inline SVG). */
export async function pipelineReport(o: { title: string; runs: { label: string; run: PipelineRun }[]; budgetMs?: number; sections?: ReportSection[]; framesDir?: string; paceMs?: number }): Promise<string> {
  const parts: string[] = [`<h1>${esc(o.title)}</h1>`];
  // `paceMs`: the runs took their frames as a camera gives them, one every paceMs
  const pace = o.paceMs ? `frames offered one every ${ms(o.paceMs)} (${(1000 / o.paceMs).toFixed(1)} frames/s, as a camera gives them: a pipeline that keeps up waits for its next frame, one that falls behind takes them back to back)` : 'frames processed back to back';
  if (o.framesDir) parts.push(`<p>Frames: <code>${esc(o.framesDir)}</code>, decoded before timing; each frame's latency runs from its first stage to its result, ${pace} on this machine.</p>`);
  for (const { label, run } of o.runs) parts.push(`<p><strong>${esc(label)}</strong>: ${esc(runHeadline(run))}</p>`);
  for (const s of o.sections ?? []) parts.push(`<h2>${esc(s.title)}</h2>${s.html}`);
  parts.push('<h2>Latency per frame</h2>');
  parts.push(`<figure>${await renderSvg(latencySpec(o.runs, o.budgetMs))}</figure>`);
  for (const { label, run } of o.runs) {
    parts.push(`<h2>${esc(label)}</h2>`);
    parts.push(runTables(run, o.paceMs));
    parts.push(`<h3>Waterfall</h3><p>Per-stage Gantt of the median, p90 and slowest frames: pre-processing, model call and post-processing of each stage on the frame's clock.</p><figure>${await renderSvg(waterfallSpec(run, label))}</figure>`);
    parts.push(`<h3>Stage time in every frame</h3><figure>${await renderSvg(perFrameSpec(run, o.budgetMs))}</figure>`);
    parts.push(trackTable(run));
    parts.push(`<details><summary>Pipeline spec</summary><pre>${esc(JSON.stringify({ ...run.spec, baseDir: undefined }, null, 2))}</pre></details>`);
  }
  const e = environment();
  parts.push('<h2>Environment</h2>' + table(['', ''], [['CPU', `${e.cpu} (${e.cores} cores)`], ['runtime', `Node ${e.node}; onnxruntime-node ${e.onnxruntime.node ?? '-'}`], ['inferopt', e.inferopt]]));
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(o.title)}</title><style>${CSS}</style></head><body>${parts.join('\n')}<footer><p>Generated by inferopt at ${new Date().toISOString()}.</p></footer></body></html>\n`;
}
