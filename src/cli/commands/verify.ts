import * as fs from 'node:fs';
import type { Command } from 'commander';
import { InputError } from '../../errors.js';
import { loadModel } from '../../ir/io.js';
import { INPUT_FLAG_HELP, parseInputFlags, parseShapeFlags } from '../../runtime/inputs.js';
import { textTable } from '../../report/text-table.js';
import { calibrationData, takeFeeds } from '../../quantize/data-sources.js';
import { loadTestSets } from '../../verify/data.js';
import { verifyModels, type VerifyReport } from '../../verify/verify.js';
import { collect, parseDimFlags, parseIntFlag } from '../flags.js';

interface VerifyFlags {
  data?: string;
  limit?: string;
  samples: string;
  atol: string;
  rtol: string;
  seed: string;
  shape: string[];
  dim: string[];
  input: string[];
  intRange: string;
  json?: boolean;
}

function nonNegative(flag: string, value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new InputError(`${flag} must be a number ≥ 0, not '${value}'`);
  return n;
}

const fmt = (x: number | undefined) => (x === undefined ? '-' : Number.isFinite(x) ? x.toExponential(2) : String(x));

function formatReport(r: VerifyReport): string {
  const rows = r.outputs.map((o) => [o.name, `[${o.dims.join(',')}]`, fmt(o.maxAbs), fmt(o.maxRel), fmt(o.meanAbs), o.cosine.toFixed(6), o.top1 === undefined ? '-' : o.top1.toFixed(4), o.ok ? 'ok' : 'FAIL']);
  const head = `${r.samples} sample${r.samples === 1 ? '' : 's'}, tolerance |cand − ref| ≤ ${r.tolerance.atol} + ${r.tolerance.rtol}·|ref|`;
  const table = textTable(['output', 'shape', 'max abs', 'max rel', 'mean abs', 'cosine', 'top-1', ''], rows);
  const verdict = r.ok ? 'equivalent within tolerance' : `NOT equivalent:\n${r.failures.map((f) => `  ${f}`).join('\n')}`;
  return `${head}\n${table}\n${verdict}`;
}

/** ONNX test-set folders as they are; any other data through the dataset reader, as eval and quantize read it. */
async function verifyData(data: string, model: import('../../ir/graph.js').Model, flags: VerifyFlags) {
  const entries = fs.statSync(data, { throwIfNoEntry: false })?.isDirectory() ? fs.readdirSync(data) : [];
  if (entries.some((f) => /^input_\d+\.pb$|^test_data_set_\d+$/.test(f))) return loadTestSets(data, model);
  const limit = flags.limit !== undefined ? parseIntFlag('--limit', flags.limit, 1) : 32;
  const inputs = { shapes: parseShapeFlags(flags.shape), dims: parseDimFlags(flags.dim) };
  return takeFeeds((await calibrationData(data, model, { limit, inputs })).data, limit);
}

export function register(program: Command): void {
  program
    .command('verify')
    .description('Run two models on the same inputs and compare every output (exit 1 when outside tolerance)')
    .argument('<reference>', 'reference ONNX model')
    .argument('<candidate>', 'candidate ONNX model (e.g. simplified or quantized)')
    .option('--data <data>', 'inputs instead of random data: a folder of input_N.pb files or test_data_set_N folders (ONNX test sets), or any dataset eval reads')
    .option('--limit <n>', 'samples of a --data dataset (default 32; every ONNX test set)')
    .option('--samples <n>', 'random input samples', '3')
    .option('--atol <x>', 'absolute tolerance', '1e-4')
    .option('--rtol <x>', 'relative tolerance', '1e-3')
    .option('--seed <n>', 'seed of the random inputs', '0')
    .option('--shape <name=dims>', 'input shape, e.g. x=1x3x224x224 (repeatable)', collect, [])
    .option('--dim <name=n>', 'value of a symbolic dimension, e.g. seq=128 (repeatable)', collect, [])
    .option('--input <name=value>', INPUT_FLAG_HELP, collect, [])
    .option('--int-range <n>', 'integer inputs (token ids) are drawn from 0..n-1', '100')
    .option('--json', 'print JSON')
    .action(async (refFile: string, candFile: string, flags: VerifyFlags) => {
      const reference = loadModel(refFile);
      const candidate = loadModel(candFile);
      const report = await verifyModels(reference, candidate, {
        data: flags.data ? await verifyData(flags.data, reference, flags) : undefined,
        samples: parseIntFlag('--samples', flags.samples, 1),
        atol: nonNegative('--atol', flags.atol),
        rtol: nonNegative('--rtol', flags.rtol),
        seed: parseIntFlag('--seed', flags.seed, 0),
        shapes: parseShapeFlags(flags.shape),
        dims: parseDimFlags(flags.dim),
        values: parseInputFlags(flags.input),
        intRange: parseIntFlag('--int-range', flags.intRange, 1),
      });
      if (flags.json) process.stdout.write(JSON.stringify({ reference: refFile, candidate: candFile, ...report }, null, 1) + '\n');
      else process.stdout.write(formatReport(report) + '\n');
      if (!report.ok) process.exitCode = 1;
    });
}
