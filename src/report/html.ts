import { metricDrop, speedupOf } from '../search/goals.js';
import type { Candidate } from '../search/candidate.js';
import { latencyHistogramSpec, opTypeSpec, paretoSpec, renderSvg, sparsitySpec, type ParetoPoint } from './plots.js';
import { timingJobs, type DistributedSummary } from '../distributed/coordinator.js';
import type { OptimizeResults } from './results.js';
import { candidateCell, formatMetricValue, headline, runtimeLine, sparsityRows, summaryRows, timingLine } from './summary.js';

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

const CSS = `body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1100px;padding:0 1em;color:#222}
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:2em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f4f4f4}.num{text-align:right;font-variant-numeric:tabular-nums}.ok{color:#1a7f37}.bad{color:#b42318;font-weight:600}
.note{background:#fff8e1;border-left:4px solid #f0b400;padding:.4em .8em;margin:.4em 0}.fail{background:#fdecea;border-left:4px solid #b42318;padding:.4em .8em;margin:.4em 0}
.chosen td{background:#fdeaea}code,pre{background:#f6f6f6;padding:1px 4px}pre{padding:.6em;overflow:auto}figure{margin:1em 0}`;

/** The self-contained HTML report: no script, no external resource; plots are inline SVG. */
export async function htmlReport(r: OptimizeResults): Promise<string> {
  const base = r.baseline.measurement!;
  const parts: string[] = [];
  parts.push(`<h1>inferopt optimize: ${esc(r.model.file)}</h1>`);
  parts.push(`<p class="${r.met ? 'ok' : 'bad'}"><strong>${esc(headline(r))}</strong></p>`);
  parts.push(`<p>Goals: ${esc(r.goalsText.join('; '))}. Target: ${esc(r.target)}. Budget: ${esc(r.budget)}. Metric: <strong>${esc(r.metric.name)}</strong> — ${esc(r.metric.note)}.</p>`);
  parts.push(`<p>${esc(timingLine(r))}.</p>`);
  parts.push(`<p>Chosen recipe: <code>${esc(r.chosen.label)}</code></p>`);
  parts.push(table(['', 'baseline', 'chosen', 'change'], summaryRows(r)));
  for (const w of r.warnings) parts.push(`<div class="note">${esc(w)}</div>`);
  for (const f of r.failures) parts.push(`<div class="fail">Goal not met: ${esc(f)}</div>`);
  if (r.chosen.checks) parts.push(`<p>${r.chosen.checks.map((g) => `<span class="${g.met ? 'ok' : 'bad'}">${g.met ? '✔' : '✘'} ${esc(g.detail)}</span>`).join(' &nbsp; ')}</p>`);

  parts.push("<h2>Candidates</h2><p>Every candidate measured: latency (the baseline's p50 over the candidate's speed-up timed side by side with it) against the metric, mark size by model size. Numbers are the ids (in the decision log) of the baseline, the chosen model (ringed) and the Pareto front.</p>");
  parts.push(`<figure>${await renderSvg(paretoSpec(paretoPoints(r), r.metric.name))}</figure>`);

  const sparse = sparsityRows(r);
  if (sparse.length) {
    const tuned = sparse.some((x) => x.fineTuned);
    parts.push(`<h2>Pruning: accuracy and latency against sparsity</h2><p>Each granularity the search pruned with${tuned ? ', each fine-tuned (distilled from the unpruned model)' : ', one-shot (no --train-data: no fine-tuning)'}; sparsity is the share of the model's parameters removed (structured) or zero (unstructured, 2:4); latency is the baseline's p50 over the speed-up timed side by side with it. Structured pruning removes work; zeros are still multiplied by ONNX Runtime's CPU kernels, so unstructured and 2:4 stay at the baseline's speed.</p>`);
    parts.push(`<figure>${await renderSvg(sparsitySpec(sparse, r.metric.name))}</figure>`);
    parts.push(table(['#', 'granularity', 'sparsity', r.metric.name, 'speed-up'], sparse.map((x) => [String(x.id), x.granularity, `${x.sparsity.toFixed(1)}%`, formatMetricValue(base.metric, x.metric), `${x.speedup.toFixed(2)}×`])));
  }

  // the final side-by-side run when there is one: the same runs as the headline and the table
  const lb = r.sideBySide?.baseline ?? base.latency;
  const lc = r.sideBySide?.chosen ?? r.chosen.measurement!.latency;
  const hist = [
    { model: 'baseline', samples: lb.samples ?? [] },
    { model: 'chosen', samples: r.chosen.id === r.baseline.id ? [] : (lc.samples ?? []) },
  ].filter((s) => s.samples.length > 0);
  if (hist.length) {
    // a few runs that lost the CPU to another process would squash the plot: cut at 3× the slower p90
    const cut = 3 * Math.max(lb.p90 ?? lb.p99, lc.p90 ?? lc.p99);
    const hidden = hist.reduce((n, s) => n + s.samples.filter((x) => x > cut).length, 0);
    for (const s of hist) s.samples = s.samples.filter((x) => x <= cut);
    parts.push(`<h2>Latency distribution</h2><p>Per-run latency of each model${r.sideBySide ? ', from the final side-by-side run' : ''} (${hist.map((s) => `${s.samples.length} runs`).join(' and ')})${hidden ? `; ${hidden} runs above ${cut.toFixed(2)} ms not drawn` : ''}.</p>`);
    parts.push(`<figure>${await renderSvg(latencyHistogramSpec(hist))}</figure>`);
  }
  if (r.opTypes) {
    parts.push('<h2>Time per op type</h2><p>ms per run from ONNX Runtime’s profiler (kernel time), baseline and chosen model.</p>');
    const top = new Set([...r.opTypes.baseline.slice(0, 10), ...r.opTypes.chosen.slice(0, 10)].map((t) => t.opType));
    const rows = [
      ...r.opTypes.baseline.filter((t) => top.has(t.opType)).map((t) => ({ model: 'baseline', opType: t.opType, ms: t.ms })),
      ...r.opTypes.chosen.filter((t) => top.has(t.opType)).map((t) => ({ model: 'chosen', opType: t.opType, ms: t.ms })),
    ];
    parts.push(`<figure>${await renderSvg(opTypeSpec(rows))}</figure>`);
  }

  parts.push(`<h2>Decision log</h2><p>Search stopped because ${esc(r.stopped)}; ${r.candidates.length - 1} candidates in ${(r.searchWallMs / 1000).toFixed(1)} s.</p>`);
  parts.push(
    table(
      ['#', 'stage', 'recipe', 'p50 (speed-up vs baseline, timed side by side with it [95%]), size, metric', 'verdict', 'why'],
      r.candidates.map((c) => [String(c.id), c.stage, c.label, candidateCell(c, base), c.id === r.chosen.id ? `${c.verdict}, chosen` : c.verdict, c.reason]),
      (i) => r.candidates[i]!.id === r.chosen.id,
    ),
  );
  const slower = r.candidates.filter((c) => c.explanation);
  if (slower.length) parts.push(`<h3>Why the slower quantized candidates were slower</h3><ul>${slower.map((c) => `<li>#${c.id} <code>${esc(c.label)}</code>: ${esc(c.explanation!)}</li>`).join('')}</ul>`);
  if (r.skipped.length) parts.push(`<p>Not tried:</p><ul>${r.skipped.map((s) => `<li>${esc(s.what)}: ${esc(s.reason)}</li>`).join('')}</ul>`);

  if (r.distributed) parts.push(workersSection(r.distributed));
  const e = r.environment;
  parts.push('<h2>Environment</h2>');
  parts.push(
    table(null, [
      ['CPU', `${e.cpu} (${e.cores} cores, ${e.memoryGB} GB)`],
      ['threads (chosen session)', String(r.chosen.recipe.session.threads)],
      ['platform', e.platform],
      ['runtime', runtimeLine(e)],
      ['inferopt', e.inferopt],
      ['model', `${r.model.file} (sha256 ${r.model.sha256.slice(0, 16)}…)`],
      ['written', Object.values(r.outputs).join(', ')],
    ]),
  );
  parts.push(`<h2>Recipe</h2><pre>${esc(JSON.stringify(r.chosen.recipe, null, 2))}</pre>`);
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>inferopt report: ${esc(r.model.file)}</title><style>${CSS}</style></head><body>${parts.join('\n')}<footer><p>Generated by inferopt ${esc(e.inferopt)} at ${esc(r.createdAt)}.</p></footer></body></html>\n`;
}

/**
 * `optimize --workers` (and `pipeline optimize --workers`, which gives its own heading): which hardware class
 * timed every figure of the report, and what each worker did.
 */
export function workersSection(d: DistributedSummary, heading = true): string {
  const timed = !d.timingClass
    ? ''
    : d.pipelines
      ? `Every pipeline run in this report ran on a worker of hardware class ${d.timingClass.class} (${d.timingClass.fingerprint}), alone on its machine; each candidate ran beside the current best on one worker, and the final baseline beside the optimized pipeline. The environment below is the coordinator's.`
      : `Every latency and speed-up in this report was timed on workers of hardware class ${d.timingClass.class} (${d.timingClass.fingerprint}), each candidate side by side with the baseline on one worker; the environment below is the coordinator's.`;
  const how = d.pipelines ? `${d.jobs} jobs (one per pair of pipeline runs)` : `${d.jobs} jobs, each candidate scored in ${d.shards} shard${d.shards === 1 ? '' : 's'} (per-sample records merged as one local evaluation)`;
  return [
    `${heading ? '<h2>Workers</h2>' : ''}<p>Measured by ${d.workers.length} worker${d.workers.length === 1 ? '' : 's'} through Redis at ${esc(d.redis)}: ${how}. ${esc(timed)}</p>`,
    table(
      d.pipelines ? ['worker', 'class', 'jobs', 'pipeline jobs', 'busy', 'hardware'] : ['worker', 'class', 'jobs', 'timing jobs', 'scoring jobs', 'busy', 'hardware'],
      d.workers.map((w) => [w.worker, w.class, String(w.jobs), ...(d.pipelines ? [String(w.kinds.pipeline ?? 0)] : [String(timingJobs(w)), String((w.kinds.score ?? 0) + (w.kinds.eval ?? 0))]), `${(w.busyMs / 1000).toFixed(1)}\u00a0s`, w.timed || !d.timingClass || w.class === d.timingClass.class ? w.fingerprint : `${w.fingerprint} (another class: ${d.pipelines ? 'ran nothing of this search' : 'scored only'})`]),
    ),
  ].join('\n');
}

function table(header: string[] | null, rows: string[][], highlight?: (i: number) => boolean): string {
  const num = (s: string) => /^[-+−]?[\d.,]+ ?(ms|MB|%|×|points)?( faster| smaller)?$/.test(s);
  const head = header ? `<tr>${header.map((h) => `<th>${esc(h)}</th>`).join('')}</tr>` : '';
  const body = rows.map((r, i) => `<tr${highlight?.(i) ? ' class="chosen"' : ''}>${r.map((c) => `<td${num(c) ? ' class="num"' : ''}>${esc(c)}</td>`).join('')}</tr>`).join('\n');
  return `<table>${head}\n${body}</table>`;
}

function paretoPoints(r: OptimizeResults): ParetoPoint[] {
  const base = r.baseline.measurement!;
  const pareto = new Set(r.pareto);
  return r.candidates
    .filter((c): c is Candidate & { measurement: NonNullable<Candidate['measurement']> } => c.measurement !== undefined)
    .map((c) => ({
      id: c.id,
      label: c.label,
      latencyMs: base.latency.p50 / speedupOf(base, c.measurement),
      metric: c.measurement.metric.value,
      sizeMB: c.measurement.sizeBytes / 1e6,
      kind: c.id === r.chosen.id ? 'chosen' : c.id === r.baseline.id ? 'baseline' : pareto.has(c.id) ? 'Pareto front' : c.meetsAll ? 'meets goals' : 'misses a goal',
    }));
}

