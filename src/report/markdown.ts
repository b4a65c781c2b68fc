import type { OptimizeResults } from './results.js';
import { candidateCell, formatMetricValue, headline, plural, runtimeLine, sparsityRows, summaryRows, timingLine } from './summary.js';

/**
 * Text as Markdown shows it literally: file, node, op and metric names are the user's, and a renderer passes
 * raw HTML through (`x"><img src=x onerror=…>.onnx`) and obeys line breaks (a newline in a file name would
 * start a heading). So HTML characters become entities, Markdown punctuation is backslash-escaped, line
 * breaks become spaces and other control characters are dropped. Everything interpolated goes through it.
 */
export function md(s: string): string {
  return s
    .replace(/\r\n|[\r\n\u2028\u2029]/g, ' ')
    .replace(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/[\\`*_|~#]/g, '\\$&')
    .replace(/\]\(/g, ']\\('); // no link or image: `[x](javascript:…)` stays text (brackets alone are plain text)
}
const table = (header: string[], rows: string[][]) =>
  [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.map(md).join(' | ')} |`)].join('\n');

/** The Markdown report, for CI logs and pull requests. */
export function markdownReport(r: OptimizeResults): string {
  const out: string[] = [];
  const base = r.baseline.measurement!;
  out.push(`# inferopt optimize: ${md(r.model.file)}`, '', `**${md(headline(r))}**`, '');
  out.push(`Goals: ${md(r.goalsText.join('; '))}. Target: ${md(r.target)}. Budget: ${md(r.budget)}. Metric: ${md(r.metric.name)} — ${md(r.metric.note)}.`, '', `${md(timingLine(r))}.`, '');
  out.push(`Chosen recipe: ${md(r.chosen.label)}`, '');
  out.push(table(['', 'baseline', 'chosen', 'change'], summaryRows(r)), '');
  for (const w of r.warnings) out.push(`> **Note:** ${md(w)}`);
  for (const f of r.failures) out.push(`> **Goal not met:** ${md(f)}`);
  if (r.warnings.length || r.failures.length) out.push('');
  out.push('## Decision log', '', `Search stopped because ${md(r.stopped)}.`, '');
  out.push(
    table(
      ['#', 'stage', 'recipe', 'result (p50 (speed-up vs baseline, timed side by side with it [95%]), size, metric)', 'verdict', 'why'],
      r.candidates.map((c) => [String(c.id), c.stage, c.label, candidateCell(c, base), c.id === r.chosen.id ? `${c.verdict}, chosen` : c.verdict, c.reason]),
    ),
    '',
  );
  const slower = r.candidates.filter((c) => c.explanation);
  if (slower.length) {
    out.push('## Why the slower quantized candidates were slower', '');
    for (const c of slower) out.push(`- #${c.id} ${md(c.label)}: ${md(c.explanation!)}`);
    out.push('');
  }
  if (r.skipped.length) {
    out.push('Not tried:', '');
    for (const s of r.skipped) out.push(`- ${md(s.what)}: ${md(s.reason)}`);
    out.push('');
  }
  const sparse = sparsityRows(r);
  if (sparse.length) {
    out.push('## Pruning: accuracy and latency against sparsity', '', `Sparsity: parameters removed (structured) or zero (unstructured, 2:4); ${sparse.some((x) => x.fineTuned) ? 'each fine-tuned' : 'one-shot'}; speed-up timed side by side with the baseline.`, '');
    out.push(table(['#', 'granularity', 'sparsity', md(r.metric.name), 'latency', 'speed-up'], sparse.map((x) => [String(x.id), x.granularity, `${x.sparsity.toFixed(1)}%`, formatMetricValue(base.metric, x.metric), `${x.latencyMs.toFixed(3)} ms`, `${x.speedup.toFixed(2)}×`])), '');
  }
  if (r.opTypes) {
    const chosen = new Map(r.opTypes.chosen.map((t) => [t.opType, t.ms]));
    const types = [...new Set([...r.opTypes.baseline.map((t) => t.opType), ...r.opTypes.chosen.map((t) => t.opType)])];
    const before = new Map(r.opTypes.baseline.map((t) => [t.opType, t.ms]));
    out.push('## Time per op type (ms per run, ORT profiler)', '');
    const cell = (m: Map<string, number>, t: string) => (m.has(t) ? m.get(t)!.toFixed(3) : 'none');
    out.push(table(['op type', 'baseline', 'chosen'], types.slice(0, 15).map((t) => [t, cell(before, t), cell(chosen, t)])), '');
    out.push('"none": the model runs no kernel of that type (quantized and fused kernels replace the float ones they stand for).', '');
  }
  if (r.distributed?.timingClass) {
    const d = r.distributed;
    out.push('## Workers', '', md(`Timed on hardware class ${d.timingClass!.class} (${d.timingClass!.fingerprint}); ${d.jobs} jobs on ${d.workers.map((w) => `${w.worker} (${w.jobs})`).join(', ')} through ${d.redis}. The environment below is the coordinator's.`), '');
  }
  const e = r.environment;
  out.push('## Environment', '', md(`${e.cpu}, ${e.cores} cores, ${e.memoryGB} GB; ${e.platform}; ${runtimeLine(e)}; inferopt ${e.inferopt}; chosen session ${plural(r.chosen.recipe.session.threads, 'thread')}.`), '');
  out.push(`Files: ${md(Object.values(r.outputs).join(', '))}.`, '');
  return out.join('\n');
}
