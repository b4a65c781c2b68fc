import * as path from 'node:path';
import type { Command } from 'commander';
import { InputError } from '../../errors.js';
import { loadModel } from '../../ir/io.js';
import { saveModelProven } from '../../runtime/prove.js';
import { checkOutputFile } from '../../util/files.js';
import type { PassContext, Target } from '../../passes/pass.js';
import { CLEANUP_PASSES, FUSION_PASSES, simplifyModel, simplifyPassIds } from '../../passes/simplify.js';
import { opDiffRows, summarizeModel } from '../../passes/summary.js';
import { textTable } from '../../report/text-table.js';
import { collect, parseDimFlags } from '../flags.js';
import { INPUT_FLAG_HELP, parseInputFlags, parseShapeFlags, type InputSpec } from '../../runtime/inputs.js';

interface SimplifyFlags {
  output: string;
  target: string;
  skip: string[];
  explain?: boolean;
  json?: boolean;
  shape: string[];
  dim: string[];
  input: string[];
}

const TARGETS: readonly Target[] = ['cpu', 'std', 'wasm'];

interface RuleReport {
  fired: number;
  refused: Map<string, number>;
  nearMisses: number;
}

/** Collects --explain entries per rule: firings, refusals by reason, pattern near-misses. */
function explainCollector(): { ctx: PassContext['explain']; rules: Map<string, RuleReport> } {
  const rules = new Map<string, RuleReport>();
  const ctx: PassContext['explain'] = (e) => {
    const key = e.rule ?? e.pass;
    const r = rules.get(key) ?? { fired: 0, refused: new Map(), nearMisses: 0 };
    rules.set(key, r);
    if (e.fired) r.fired++;
    else if (e.reason?.startsWith('pattern:')) r.nearMisses++;
    else r.refused.set(e.reason ?? '?', (r.refused.get(e.reason ?? '?') ?? 0) + 1);
  };
  return { ctx, rules };
}

function formatExplain(rules: Map<string, RuleReport>): string {
  const lines: string[] = [];
  for (const [name, r] of [...rules].sort((a, b) => b[1].fired - a[1].fired || a[0].localeCompare(b[0]))) {
    if (r.fired === 0 && r.refused.size === 0) continue;
    lines.push(`${name}: fired ${r.fired}${r.nearMisses ? `, ${r.nearMisses} partial pattern matches` : ''}`);
    const reasons = [...r.refused].sort((a, b) => b[1] - a[1]);
    for (const [why, n] of reasons.slice(0, 5)) lines.push(`  refused ${n}×: ${why}`);
    if (reasons.length > 5) lines.push(`  … ${reasons.length - 5} more reasons`);
  }
  return lines.join('\n');
}

/** Help text from the passes' own declarations: id, doc, parameters, and the rules inside rule passes. */
function passHelp(): string {
  const lines = ['', 'Passes (run in this order, repeated until nothing changes; any id works with --skip):'];
  const seen = new Set<string>();
  for (const p of [...CLEANUP_PASSES, ...FUSION_PASSES]) {
    if (seen.has(p.id)) continue;
    seen.add(p.id);
    lines.push(`  ${p.id.padEnd(24)} ${p.doc}`);
    for (const [k, spec] of Object.entries(p.params) as [string, { default: unknown; doc: string }][]) lines.push(`    ${k} = ${String(spec.default)}: ${spec.doc}`);
    const rules = (p as unknown as { rules?: readonly { name: string; doc: string; targets?: readonly string[] }[] }).rules ?? [];
    for (const r of rules) lines.push(`    ${r.name}: ${r.doc}${r.targets ? ` [${r.targets.join(', ')}]` : ''}`);
  }
  return lines.join('\n');
}

export function register(program: Command): void {
  program
    .command('simplify')
    .description('Simplify a model: fold constants, remove no-ops, fold BatchNorm, fuse transformer blocks into ORT ops')
    .argument('<model>', 'ONNX model file')
    .requiredOption('-o, --output <file>', 'where to write the simplified model (never the input)')
    .option('--target <t>', 'cpu (ORT contrib ops) | std (standard ONNX only) | wasm (what onnxruntime-web runs)', 'cpu')
    .option('--skip <ids>', 'passes or rules to skip, comma-separated (repeatable), e.g. fuse-attention', collect, [])
    .option('--explain', 'list the rules that fired and why others refused')
    .option('--json', 'print JSON')
    .option('--shape <name=dims>', 'input shape for the check run of the written model (repeatable)', collect, [])
    .option('--dim <name=n>', 'symbolic dimension for the check run (repeatable)', collect, [])
    .option('--input <name=value>', `for the check run: ${INPUT_FLAG_HELP}`, collect, [])
    .addHelpText('after', passHelp)
    .action(async (file: string, flags: SimplifyFlags) => {
      const target = flags.target as Target;
      if (!TARGETS.includes(target)) throw new InputError(`--target must be one of ${TARGETS.join(', ')}, not '${flags.target}'`);
      if (path.resolve(flags.output) === path.resolve(file)) throw new InputError(`-o ${flags.output} is the input: inferopt never writes over its input`);
      const skip = new Set(flags.skip.flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean));
      const known = new Set(simplifyPassIds());
      for (const s of skip) if (!known.has(s)) throw new InputError(`--skip ${s}: no such pass or rule; known: ${[...known].join(', ')}`);
      // the written model is loaded and run once on these inputs before it is put in place
      const input: InputSpec = { shapes: parseShapeFlags(flags.shape), dims: parseDimFlags(flags.dim), ...(flags.input.length ? { values: parseInputFlags(flags.input) } : {}) };
      const model = loadModel(file);
      checkOutputFile(flags.output, '-o'); // after the load: the model and its external data are inputs now
      const before = summarizeModel(model);
      const explain = explainCollector();
      const t0 = performance.now();
      const result = await simplifyModel(model, { target, skip, explain: explain.ctx }, { inPlace: true });
      const ms = performance.now() - t0;
      const after = summarizeModel(result.model);
      const { proof } = await saveModelProven(result.model, flags.output, { flag: '-o', reference: file, input, backend: target === 'wasm' ? 'wasm' : 'node' });
      if (proof.note) process.stderr.write(`inferopt: note: ${flags.output} ${proof.note}\n`);
      const rules: Record<string, number> = {};
      // rule passes count firings under the rule's name
      for (const p of result.passes) for (const [k, v] of Object.entries(p.stats)) if (known.has(k)) rules[k] = (rules[k] ?? 0) + v;
      if (flags.json) {
        const passes = result.passes.map((p) => ({ id: p.id, runs: p.runs, modified: p.modified, ms: Math.round(p.ms), stats: p.stats }));
        const explained = flags.explain ? Object.fromEntries([...explain.rules].map(([k, r]) => [k, { fired: r.fired, nearMisses: r.nearMisses, refused: Object.fromEntries(r.refused) }])) : undefined;
        process.stdout.write(JSON.stringify({ input: file, output: flags.output, target, rounds: result.rounds, ms: Math.round(ms), before, after, rules, passes, explain: explained }, null, 1) + '\n');
        return;
      }
      const out = process.stdout;
      out.write(`${file} → ${flags.output} (target ${target}, ${result.rounds} rounds, ${Math.round(ms)} ms)\n\n`);
      const rows: (string | number)[][] = opDiffRows(before, after).map(([op, a, b]) => [op, a, b]);
      rows.push(['nodes', before.nodes, after.nodes], ['params', before.params, after.params], ['bytes', before.bytes, after.bytes]);
      out.write(textTable(['', 'before', 'after'], rows) + '\n\n');
      const passRows = result.passes.filter((p) => p.modified > 0).map((p) => [p.id, p.modified, Math.round(p.ms), Object.entries(p.stats).map(([k, v]) => `${k} ${v}`).join(', ')]);
      if (passRows.length) out.write(textTable(['pass', 'changed', 'ms', 'stats'], passRows) + '\n');
      else out.write('no pass changed the model\n');
      if (flags.explain) out.write('\n' + formatExplain(explain.rules) + '\n');
    });
}
