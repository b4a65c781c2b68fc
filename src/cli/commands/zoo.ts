import type { Command } from 'commander';
import { InputError } from '../../errors.js';
import { saveModelProven } from '../../runtime/prove.js';
import { checkOutputFile } from '../../util/files.js';
import { buildZooModel, countParameters, isZooName, zooDescription, zooNames, type ZooOptions } from '../../zoo/index.js';
import { parseIntFlag } from '../flags.js';

interface ZooFlags {
  output?: string;
  seed: string;
  list?: boolean;
  layerNorm?: string;
  reshape?: string;
  foldBn?: boolean;
}

const LAYER_NORM_FORMS = ['decomposed', 'fused', 'mixed'] as const;
const RESHAPE_FORMS = ['dynamic', 'constant'] as const;

function oneOf<T extends string>(flag: string, value: string | undefined, allowed: readonly T[]): T | undefined {
  if (value === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(value)) throw new InputError(`${flag} must be one of ${allowed.join(', ')}, not '${value}'`);
  return value as T;
}

/** One line per zoo model: name, parameters, float32 size, description (built with zero weights: fast). */
export function zooTable(): string {
  const rows = zooNames.map((name) => {
    const params = countParameters(buildZooModel(name, { zeroWeights: true }));
    return [name, `${(params / 1e6).toFixed(2)} M`, `${((params * 4) / 1e6).toFixed(1)} MB`, zooDescription(name)];
  });
  const widths = [0, 1, 2].map((c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => r.map((cell, c) => (c < 3 ? (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!)) : cell)).join('  ')).join('\n');
}

export function register(program: Command): void {
  program
    .command('zoo')
    .description('Write a reference model (random weights, seeded) or list the zoo')
    .argument('[name]', `model: ${zooNames.join(', ')}`)
    .option('-o, --output <file>', 'where to write the .onnx file')
    .option('--seed <n>', 'weight seed', '0')
    .option('--list', 'list the models with parameter counts')
    .option('--layer-norm <form>', `BERT only: ${LAYER_NORM_FORMS.join(' | ')} (default decomposed)`)
    .option('--fold-bn', 'CNNs only: fold BatchNormalization into Conv, as torch exports eval models')
    .option('--reshape <form>', `BERT only: head reshape ${RESHAPE_FORMS.join(' | ')} (default dynamic)`)
    .action(async (name: string | undefined, flags: ZooFlags) => {
      if (flags.list || name === undefined) {
        process.stdout.write(zooTable() + '\n');
        return;
      }
      if (!isZooName(name)) throw new InputError(`unknown zoo model '${name}'; choose one of: ${zooNames.join(', ')}`);
      if (!flags.output) throw new InputError(`say where to write the model: inferopt zoo ${name} -o ${name}.onnx`);
      const opts: ZooOptions = {
        seed: parseIntFlag('--seed', flags.seed, 0),
        layerNorm: oneOf('--layer-norm', flags.layerNorm, LAYER_NORM_FORMS),
        reshape: oneOf('--reshape', flags.reshape, RESHAPE_FORMS),
        foldBatchNorm: flags.foldBn,
      };
      const bert = name.startsWith('bert');
      if ((opts.layerNorm || opts.reshape) && !bert) throw new InputError('--layer-norm and --reshape apply to the bert models only');
      if (opts.foldBatchNorm && (bert || name === 'mlp')) throw new InputError(`--fold-bn applies to the models with BatchNormalization, not ${name}`);
      checkOutputFile(flags.output, '-o');
      const model = buildZooModel(name, opts);
      const { bytes, dataBytes } = await saveModelProven(model, flags.output, { flag: '-o' });
      const size = ((bytes + dataBytes) / 1e6).toFixed(1);
      const params = (countParameters(model) / 1e6).toFixed(2);
      process.stdout.write(`wrote ${flags.output}: ${name}, ${params} M parameters, ${size} MB, seed ${opts.seed}\n`);
    });
}
