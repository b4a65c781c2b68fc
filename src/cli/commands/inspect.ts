import type { Command } from 'commander';
import { loadModel, modelSizeOnDisk } from '../../ir/io.js';
import { formatInspect, inspectModel } from '../../inspect/index.js';
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
      const model = loadModel(file);
      const report = inspectModel(model, { shapes, dims, sizeOnDisk: modelSizeOnDisk(file) });
      process.stdout.write((flags.json ? JSON.stringify({ model: file, ...report }, null, 2) : formatInspect(report, file)) + '\n');
    });
}
