import type { Command } from 'commander';
import { optimizePipelineCommand, parseBudgetMs, runPipelineCommand } from '../../pipeline/cli.js';
import { InputError } from '../../errors.js';
import { parseIntFlag, parseRunsFlag } from '../flags.js';

export function register(program: Command): void {
  const p = program.command('pipeline').description('Run and optimize multi-stage video pipelines (detect → track → classify → recognise) under a frame budget');

  p.command('run')
    .description('Run a pipeline spec on a folder of frames: latency per frame and per stage, deadline misses, text-spotting F1, CER per track, ID switches')
    .argument('<spec>', 'pipeline spec (YAML or JSON)')
    .requiredOption('--frames <dir>', 'folder of frame images (with truth.jsonl for accuracy; see inferopt data render-video)')
    .option('--budget <ms>', 'per-frame deadline, e.g. 33ms: frames over it are counted (the scheduler plans against the spec\'s schedule.budgetMs)')
    .option('--limit <n>', 'first n frames only')
    .option('--warmup <n>', 'frames run before timing, then the pipeline is reset (default: enough for every stage to run 3 times)')
    .option('--fps <n>', 'frames come at this rate, as from a camera (a frame starts no sooner than 1/n s after the one before); default: back to back')
    .option('-o, --output <dir>', 'write results.json, frames.jsonl and report.html here')
    .option('--json', 'print the results as JSON')
    .action(async (spec: string, flags: { frames: string; budget?: string; limit?: string; warmup?: string; fps?: string; output?: string; json?: boolean }) => {
      const fps = flags.fps === undefined ? undefined : Number(flags.fps);
      if (fps !== undefined && !(fps > 0 && fps <= 1000)) throw new InputError(`--fps must be a number of frames per second in (0, 1000], not '${flags.fps}'`);
      const r = await runPipelineCommand({
        specFile: spec,
        framesDir: flags.frames,
        ...(flags.budget !== undefined ? { budgetMs: parseBudgetMs(flags.budget) } : {}),
        ...(flags.limit !== undefined ? { limit: parseIntFlag('--limit', flags.limit, 1) } : {}),
        ...(flags.warmup !== undefined ? { warmup: parseRunsFlag('--warmup', flags.warmup, 0) } : {}),
        ...(fps !== undefined ? { paceMs: 1000 / fps } : {}),
        ...(flags.output ? { outDir: flags.output } : {}),
        progress: process.stderr.isTTY && !flags.json,
      });
      process.stdout.write(flags.json ? JSON.stringify(r.summary, null, 1) + '\n' : r.text);
    });


  p.command('optimize')
    .description('Search pipeline decisions (detector interval with tracking, recognise once/on change, crop widths and batching, input resolution, threads, scheduler budget) and per-stage model optimization under a frame budget and an F1 bound')
    .argument('<spec>', 'pipeline spec (YAML or JSON)')
    .requiredOption('--frames <dir>', 'frames with truth.jsonl (inferopt data render-video)')
    .requiredOption('--budget <ms>', 'per-frame deadline, e.g. 33ms')
    .option('--max-accuracy-drop <points>', 'largest text-spotting F1 drop accepted, in points', '1')
    .requiredOption('-o, --output <dir>', 'output folder: pipeline.yaml, <stage>.optimized.onnx, results.json, report.html')
    .option('--search-frames <n>', 'frames each candidate is judged on (default: all)')
    .option('--search-video <dir>', 'another rendered video (with truth.jsonl) the search runs on, so the verdict on --frames is on held-out frames')
    .option('--accuracy-frames <n>', 'frames F1 is judged on during the search, as runs of 20 spread over the search video (many tracks), or the whole video as one continuous run when n covers it (a deployment\'s state: no fresh starts); default: the --search-frames ones')
    .option('--limit <n>', 'first n frames only')
    .option('--no-models', 'skip per-stage int8 models (static and dynamic, calibrated on the inputs each stage received)')
    .option('--json', 'print results.json')
    .option('--workers <redis-url>', 'run every candidate (beside the current best, on one machine) on the workers that joined this Redis (`inferopt worker`); decisions stay here. The frames must be at the same path on the workers')
    .option('--timing-class <class>', 'with --workers: the hardware class whose workers run the pipelines (default: the one with most workers)')
    .option('--resume', 'with --workers: pick up the last search with the same inputs (runs already done on the workers are not run again)')
    .action(async (spec: string, flags: { frames: string; budget: string; maxAccuracyDrop: string; output: string; searchFrames?: string; searchVideo?: string; accuracyFrames?: string; limit?: string; models: boolean; json?: boolean; workers?: string; timingClass?: string; resume?: boolean }) => {
      if ((flags.timingClass || flags.resume) && !flags.workers) throw new InputError(`${flags.resume ? '--resume' : '--timing-class'} needs --workers <redis-url>`);
      const drop = Number(flags.maxAccuracyDrop);
      if (!(drop >= 0)) throw new InputError(`--max-accuracy-drop must be a number of points ≥ 0, not '${flags.maxAccuracyDrop}'`);
      const r = await optimizePipelineCommand({
        specFile: spec,
        framesDir: flags.frames,
        budgetMs: parseBudgetMs(flags.budget),
        maxAccuracyDrop: drop,
        outDir: flags.output,
        ...(flags.searchFrames !== undefined ? { searchFrames: parseIntFlag('--search-frames', flags.searchFrames, 1) } : {}),
        ...(flags.searchVideo !== undefined ? { searchVideo: flags.searchVideo } : {}),
        ...(flags.accuracyFrames !== undefined ? { accuracyFrames: parseIntFlag('--accuracy-frames', flags.accuracyFrames, 1) } : {}),
        ...(flags.limit !== undefined ? { limit: parseIntFlag('--limit', flags.limit, 1) } : {}),
        models: flags.models,
        quiet: !!flags.json,
        ...(flags.workers ? { workers: { url: flags.workers, resume: flags.resume === true, ...(flags.timingClass ? { timingClass: flags.timingClass } : {}) } } : {}),
      });
      process.stdout.write(flags.json ? JSON.stringify(r.summary, null, 1) + '\n' : r.text);
      if (!r.met) process.exitCode = 3;
    });
}
