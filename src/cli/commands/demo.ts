import type { Command } from 'commander';
import { InputError } from '../../errors.js';
import { parseBudget } from '../../search/budget.js';
import { DEFAULT_ACCURACY_BOUND } from '../../search/goals.js';
import { demoCase, freshDir } from '../../search/demo.js';
import { optimize } from '../../search/optimize.js';
import { finish } from './optimize.js';
import * as fs from 'node:fs';

export function register(program: Command): void {
  program
    .command('demo')
    .description('Optimize a shipped model on shipped data end to end and write the report (30–60 s on 2 cores)')
    .option('-o, --output <dir>', 'output folder (must not exist; default ./inferopt-demo, or -2, -3… if taken)')
    .option('--budget <n|time>', 'candidates (default 30: the same data and budget choose the same recipe) or wall time for the search', '30')
    .action(async (flags: { output?: string; budget: string }) => {
      if (flags.output && fs.existsSync(flags.output)) throw new InputError(`-o ${flags.output} exists; the demo writes to a new folder only`);
      const outDir = flags.output ?? freshDir('inferopt-demo');
      const log = (line: string) => process.stderr.write(`${line}\n`);
      const demo = await demoCase(log);
      log(`demo: ${demo.description}; goal: the fastest model within ${DEFAULT_ACCURACY_BOUND.value} point of the baseline's accuracy`);
      try {
        const budget = parseBudget(flags.budget);
        const outcome = await optimize({
          modelFile: demo.model,
          outDir,
          goals: { maxAccuracyDrop: DEFAULT_ACCURACY_BOUND },
          // a candidate count, not a wall time: a time budget cut short by a busy machine would choose differently
          budget,
          target: 'cpu',
          ...(demo.data ? { data: demo.data } : {}),
          ...(demo.input ? { input: demo.input } : {}),
          log,
        });
        finish(outcome, false);
      } finally {
        demo.cleanup();
      }
    });
}
