import type { OptimizeResults } from './results.js';
import { candidateCell, headline, summaryRows, timingLine } from './summary.js';

const esc = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
const table = (header: string[], rows: string[][]) =>
  [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.map(esc).join(' | ')} |`)].join('\n');

/** The Markdown report, for CI logs and pull requests. */
export function markdownReport(r: OptimizeResults): string {
  const out: string[] = [];
  const base = r.baseline.measurement!;
  out.push(`# inferopt optimize: ${r.model.file}`, '', `**${headline(r)}**`, '');
  out.push(`Goals: ${r.goalsText.join('; ')}. Target: ${r.target}. Budget: ${r.budget}. Metric: ${r.metric.name} — ${r.metric.note}.`, '', `${timingLine(r)}.`, '');
  out.push(`Chosen recipe: \`${r.chosen.label}\``, '');
  out.push(table(['', 'baseline', 'chosen', 'change'], summaryRows(r)), '');
  for (const w of r.warnings) out.push(`> **Note:** ${w}`);
  for (const f of r.failures) out.push(`> **Goal not met:** ${f}`);
  if (r.warnings.length || r.failures.length) out.push('');
  out.push('## Decision log', '', `Search stopped because ${r.stopped}.`, '');
  out.push(
    table(
      ['#', 'stage', 'recipe', 'result (p50, speed-up, size, metric)', 'verdict', 'why'],
      r.candidates.map((c) => [String(c.id), c.stage, c.label, candidateCell(c, base), c.id === r.chosen.id ? `${c.verdict}, chosen` : c.verdict, c.reason]),
    ),
    '',
  );
  if (r.skipped.length) {
    out.push('Not tried:', '');
    for (const s of r.skipped) out.push(`- ${s.what}: ${s.reason}`);
    out.push('');
  }
  if (r.opTypes) {
    const chosen = new Map(r.opTypes.chosen.map((t) => [t.opType, t.ms]));
    const types = [...new Set([...r.opTypes.baseline.map((t) => t.opType), ...r.opTypes.chosen.map((t) => t.opType)])];
    const before = new Map(r.opTypes.baseline.map((t) => [t.opType, t.ms]));
    out.push('## Time per op type (ms per run, ORT profiler)', '');
    out.push(table(['op type', 'baseline', 'chosen'], types.slice(0, 15).map((t) => [t, before.has(t) ? before.get(t)!.toFixed(3) : '-', chosen.has(t) ? chosen.get(t)!.toFixed(3) : '-'])), '');
  }
  const e = r.environment;
  out.push('## Environment', '', `${e.cpu}, ${e.cores} cores, ${e.memoryGB} GB; ${e.platform}; Node ${e.node}; onnxruntime-node ${e.onnxruntime.node ?? '-'}, onnxruntime-web ${e.onnxruntime.web ?? '-'}; inferopt ${e.inferopt}; ${r.chosen.recipe.session.threads} threads.`, '');
  out.push(`Files: ${Object.values(r.outputs).join(', ')}.`, '');
  return out.join('\n');
}
