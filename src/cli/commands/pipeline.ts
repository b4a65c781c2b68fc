import type { Command } from 'commander';
import { parseBudgetMs, runPipelineCommand } from '../../pipeline/cli.js';
import { parseIntFlag } from '../flags.js';

export function register(program: Command): void {
  const p = program.command('pipeline').description('Run and optimize multi-stage video pipelines (detect → track → classify → recognise) under a frame budget');

  p.command('run')
    .description('Run a pipeline spec on a folder of frames: latency per frame and per stage, deadline misses, text-spotting F1, CER per track, ID switches')
    .argument('<spec>', 'pipeline spec (YAML or JSON)')
    .requiredOption('--frames <dir>', 'folder of frame images (with truth.jsonl for accuracy; see inferopt data render-video)')
    .option('--budget <ms>', 'per-frame deadline, e.g. 33ms: misses are counted and the scheduler plans against it')
    .option('--limit <n>', 'first n frames only')
    .option('--warmup <n>', 'frames run before timing (then the pipeline is reset)', '3')
    .option('-o, --output <dir>', 'write results.json, frames.jsonl and report.html here')
    .option('--json', 'print the results as JSON')
    .action(async (spec: string, flags: { frames: string; budget?: string; limit?: string; warmup: string; output?: string; json?: boolean }) => {
      const r = await runPipelineCommand({
        specFile: spec,
        framesDir: flags.frames,
        ...(flags.budget !== undefined ? { budgetMs: parseBudgetMs(flags.budget) } : {}),
        ...(flags.limit !== undefined ? { limit: parseIntFlag('--limit', flags.limit, 1) } : {}),
        warmup: parseIntFlag('--warmup', flags.warmup, 0),
        ...(flags.output ? { outDir: flags.output } : {}),
        progress: process.stderr.isTTY && !flags.json,
      });
      process.stdout.write(flags.json ? JSON.stringify(r.summary, null, 1) + '\n' : r.text);
    });

}
