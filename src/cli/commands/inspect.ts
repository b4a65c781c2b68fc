import type { Command } from 'commander';
import { InputError } from '../../errors.js';
import { checkModel, type GraphProblem } from '../../ir/check.js';
import { loadModel, modelSizeOnDisk } from '../../ir/io.js';
import { formatInspect, inspectModel, type InspectReport } from '../../inspect/index.js';
import { parseShapeFlags } from '../../runtime/inputs.js';
import { collect, parseDimFlags } from '../flags.js';

interface InspectFlags {
  json?: boolean;
  shape: string[];
  dim: string[];
}

export function register(program: Command): void {
  program
    .command('inspect')
    .description('Show a model: inputs/outputs, opsets, op histogram, parameters, size, MACs/FLOPs, unknown ops')
    .argument('<model>', 'ONNX file')
    .option('--json', 'print one JSON object instead of tables')
    .option('--shape <name=dims>', 'input shape for the compute numbers, e.g. x=1x3x224x224 (repeatable)', collect, [])
    .option('--dim <name=value>', 'value of a symbolic dim, e.g. seq=128 (repeatable; others default to 1, seq to 128)', collect, [])
    .action((file: string, flags: InspectFlags) => {
      const shapes = parseShapeFlags(flags.shape);
      const dims = parseDimFlags(flags.dim);
      // an invalid graph is described as far as it can be, its problems listed, and the exit code is 2
      const model = loadModel(file, { check: false });
      const problems = checkModel(model);
      let report: InspectReport | undefined;
      try {
        report = inspectModel(model, { shapes, dims, sizeOnDisk: modelSizeOnDisk(file) });
      } catch (e) {
        if (!problems.length) throw e;
      }
      if (flags.json) process.stdout.write(JSON.stringify({ model: file, valid: problems.length === 0, ...(problems.length ? { problems } : {}), ...report }, null, 2) + '\n');
      else {
        if (problems.length) process.stdout.write(formatProblems(problems) + '\n\n');
        if (report) process.stdout.write(formatInspect(report, file) + '\n');
      }
      if (problems.length) throw new InputError(`${file}: invalid ONNX graph (${problems.length === 100 ? '100 or more' : problems.length} problem${problems.length === 1 ? '' : 's'}${flags.json ? ' in "problems"' : ', listed above the description'})`);
    });
}

function formatProblems(problems: readonly GraphProblem[]): string {
  return [`INVALID ONNX GRAPH — ${problems.length} problem${problems.length === 1 ? '' : 's'}:`, ...problems.map((p) => `  ${p.graph}: ${p.message}`)].join('\n');
}
