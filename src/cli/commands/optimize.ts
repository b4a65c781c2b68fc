import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import { GoalError, InputError } from '../../errors.js';
import { parseShapeFlags } from '../../runtime/inputs.js';
import type { Target } from '../../passes/pass.js';
import { parseBudget } from '../../search/budget.js';
import { DEFAULT_ACCURACY_BOUND, parseAccuracyDrop, type Goals } from '../../search/goals.js';
import { optimize, type OptimizeOutcome } from '../../search/optimize.js';
import { parseRecipeFile } from '../../search/recipe.js';
import { headline } from '../../report/summary.js';
import { markInput } from '../../util/files.js';
import { clearLine, liveLine } from '../terminal.js';
import { collect, parseDimFlags, parseIntFlag, parsePositiveFlag, parseRunsFlag } from '../flags.js';

interface OptimizeFlags {
  output: string;
  data?: string;
  trainData?: string;
  trainLimit?: string;
  pruneSteps?: string;
  trainSteps?: string;
  metric?: string;
  maxLatency?: string;
  minSpeedup?: string;
  maxSize?: string;
  maxAccuracyDrop?: string;
  target: string;
  budget: string;
  recipe?: string;
  otherModel?: boolean;
  shape: string[];
  dim: string[];
  limit?: string;
  runs?: string;
  /** false with --no-early-stop. */
  earlyStop: boolean;
  device?: string;
  json?: boolean;
  workers?: string;
  resume?: boolean;
  timingClass?: string;
  layout?: string;
}

export function register(program: Command): void {
  program
    .command('optimize')
    .description('Find the fastest model that meets your goals (graph passes, pruning, quantization, QAT, ORT settings) and report why')
    .argument('<model>', 'ONNX model file')
    .requiredOption('-o, --output <dir>', 'output folder (new, or an earlier inferopt output)')
    .option('--data <spec>', 'labelled data (dataset spec, folder or file); without it: fidelity to the input model on random inputs')
    .option('--train-data <spec>', 'labelled training data: prune steps fine-tune (distilled from the unpruned model), and when static int8 misses the accuracy goal quantization-aware training is tried (--train-steps steps, capped by --budget)')
    .option('--train-limit <n>', 'train on the first n samples of --train-data')
    .option('--prune-steps <n>', 'with --train-data: fine-tuning steps of each prune candidate', '300')
    .option('--train-steps <n>', 'with --train-data: optimizer steps of quantization-aware training (steps, not time, end it: its recipe rebuilds)', '300')
    .option('--metric <name>', 'metric the accuracy goal bounds (top1, cer, fidelity.cosine …)')
    .option('--max-latency <ms>', 'goal: p50 latency at most this (ms)')
    .option('--min-speedup <x>', 'goal: at least this many times faster than the input model')
    .option('--max-size <MB>', 'goal: model at most this size (MB)')
    .option('--max-accuracy-drop <points>', 'goal: metric drop at most this many points, or N%rel of the baseline (default 1)')
    .option('--target <t>', 'cpu (ORT contrib ops) | std (standard ONNX) | wasm (onnxruntime-web)', 'cpu')
    .option('--budget <n|time>', 'candidates to try (20) or wall time (90s, 5m)', '20')
    .option('--recipe <file>', 're-run a recipe.json instead of searching')
    .option('--other-model', 'with --recipe: apply it although it records another model (sha256)')
    .option('--shape <name=dims>', 'input shape (repeatable)', collect, [])
    .option('--dim <name=n>', 'symbolic dimension value (repeatable)', collect, [])
    .option('--limit <n>', 'samples scored (data) or random inputs compared (fidelity)')
    .option('--runs <n>', 'timed runs per candidate (default 30)')
    .option('--no-early-stop', 'time every candidate for all its runs (by default a candidate whose paired interval shows it cannot beat the best so far stops being timed)')
    .option('--device <name|auto>', 'with --target wasm: time every candidate on a device connected to `inferopt device serve`')
    .option('--json', 'print results.json to stdout')
    .option('--workers <redis-url>', 'measure on the workers that joined this Redis (`inferopt worker`); decisions stay here')
    .option('--resume', 'with --workers: pick up the last search with the same inputs (results already in Redis are reused)')
    .option('--layout <name>', 'transformers.js: write the chosen model into the folder transformers.js loads (onnx/model<dtype suffix>.onnx, config and tokenizer beside it, quantize_config.json)')
    .option('--timing-class <class>', 'with --workers: the hardware class that times candidates (default: the one with most workers)')
    .action(async (file: string, flags: OptimizeFlags) => {
      if ((flags.resume || flags.timingClass) && !flags.workers) throw new InputError(`${flags.resume ? '--resume' : '--timing-class'} needs --workers <redis-url>`);
      if (flags.trainData && flags.workers) throw new InputError('--train-data (quantization-aware training) runs in this process: it cannot be combined with --workers');
      if (flags.device !== undefined && flags.workers) throw new InputError('give either --device or --workers, not both');
      if (flags.device !== undefined && flags.target !== 'wasm') throw new InputError('--device times candidates on onnxruntime-web on the device: give --target wasm');
      if (flags.layout !== undefined && flags.layout !== 'transformers.js') throw new InputError(`unknown --layout '${flags.layout}' (expected transformers.js)`);
      const outcome = await optimize({
        ...(flags.layout !== undefined ? { layout: 'transformers.js' as const } : {}),
        ...(flags.device !== undefined ? { device: flags.device } : {}),
        modelFile: file,
        outDir: flags.output,
        goals: parseGoals(flags),
        budget: parseBudget(flags.budget),
        target: parseTarget(flags.target),
        ...(flags.data ? { data: flags.data } : {}),
        ...(flags.trainData ? { trainData: flags.trainData } : {}),
        ...(flags.trainLimit ? { trainLimit: parseIntFlag('--train-limit', flags.trainLimit, 1) } : {}),
        pruneSteps: parseIntFlag('--prune-steps', flags.pruneSteps ?? '300', 1),
        trainSteps: parseIntFlag('--train-steps', flags.trainSteps ?? '300', 1),
        ...(flags.metric ? { metric: flags.metric } : {}),
        ...(flags.limit ? { limit: parseIntFlag('--limit', flags.limit, 1) } : {}),
        ...(flags.runs ? { runs: parseRunsFlag('--runs', flags.runs, 2) } : {}),
        ...(flags.earlyStop === false ? { earlyStop: false } : {}),
        ...(flags.recipe ? { recipe: readRecipe(flags.recipe), allowOtherModel: flags.otherModel === true } : {}),
        input: { shapes: parseShapeFlags(flags.shape), dims: parseDimFlags(flags.dim) },
        log: flags.json ? undefined : (line) => (clearLine(), process.stderr.write(`${line}\n`)),
        ...(flags.workers ? { workers: { url: flags.workers, resume: flags.resume === true, ...(flags.timingClass ? { timingClass: flags.timingClass } : {}) }, progress: liveLine } : {}),
      });
      clearLine();
      finish(outcome, flags.json === true);
    });
}

/** Prints the outcome; goals not met → GoalError (exit 3) after everything is written. */
export function finish(outcome: OptimizeOutcome, json: boolean): void {
  const r = outcome.results;
  if (json) process.stdout.write(JSON.stringify(r, null, 1) + '\n');
  else {
    process.stdout.write(`${headline(r)}\n`);
    process.stdout.write(`chosen: ${r.chosen.label}\n`);
    for (const w of r.warnings) process.stdout.write(`note: ${w}\n`);
    process.stdout.write(`wrote ${outcome.modelPath}, recipe.json, report.html, report.md, results.json in ${outcome.outDir}\n`);
    process.stdout.write(`report: ${path.resolve(outcome.outDir, 'report.html')}\n`);
  }
  if (!r.met) throw new GoalError(`goals not met — ${r.failures.join(' ')} (report: ${path.join(outcome.outDir, 'report.html')})`);
}

function parseTarget(t: string): Target {
  if (t !== 'cpu' && t !== 'std' && t !== 'wasm') throw new InputError(`--target must be cpu, std or wasm, not '${t}'`);
  return t;
}

function parseGoals(f: OptimizeFlags): Goals {
  return {
    maxAccuracyDrop: f.maxAccuracyDrop ? parseAccuracyDrop(f.maxAccuracyDrop) : DEFAULT_ACCURACY_BOUND,
    ...(f.maxLatency ? { maxLatencyMs: parsePositiveFlag('--max-latency', f.maxLatency) } : {}),
    ...(f.minSpeedup ? { minSpeedup: parsePositiveFlag('--min-speedup', f.minSpeedup) } : {}),
    ...(f.maxSize ? { maxSizeMB: parsePositiveFlag('--max-size', f.maxSize) } : {}),
  };
}

function readRecipe(file: string) {
  markInput(file); // `--recipe out/recipe.json -o out`: the recipe read is never replaced by the one written
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    throw new InputError(`cannot read recipe file ${file}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new InputError(`${file} is not JSON`);
  }
  return parseRecipeFile(json, file);
}
