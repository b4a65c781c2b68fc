import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { InferoptError } from '../errors.js';
import { registerCommands } from './commands/index.js';
import { guardOutput } from './terminal.js';

/** Builds the `inferopt` program. Commands live in ./commands, one file each, thin over the library. */
export function buildProgram(): Command {
  const program = new Command('inferopt')
    .description('Make trained neural networks smaller and faster, and prove every step with measurements.')
    .version(packageVersion(), '-V, --version', 'print the version')
    .option('--verbose', 'print stack traces and extra detail')
    .exitOverride()
    .configureOutput({
      writeErr: (s) => process.stderr.write(s),
      outputError: (s, write) => write(`inferopt: ${s.split('\n')[0]!.replace(/^error: /, '')} (see --help)\n`),
    });
  registerCommands(program);
  for (const c of program.commands) c.exitOverride().showHelpAfterError(false);
  return program;
}

function packageVersion(): string {
  return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

/** Runs the CLI; returns the exit code (0 ok, 1 failure, 2 bad usage or input, 3 goal not met). */
export async function main(argv: readonly string[]): Promise<number> {
  const verbose = argv.includes('--verbose');
  const program = buildProgram();
  const unguard = guardOutput(); // control characters from models and data never reach the terminal raw
  try {
    await program.parseAsync(argv as string[]);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return 0;
      return 2; // commander already printed its one line
    }
    if (e instanceof InferoptError) {
      process.stderr.write(`inferopt: ${oneLine(e.message)}\n`);
      if (verbose && e.stack) process.stderr.write(e.stack + '\n');
      return e.exitCode;
    }
    const err = e as Error;
    process.stderr.write(`inferopt: internal error: ${oneLine(err?.message ?? String(e))}${verbose ? '' : ' (run with --verbose for details)'}\n`);
    if (verbose && err?.stack) process.stderr.write(err.stack + '\n');
    return 1;
  } finally {
    unguard();
  }
}

/** An error message as one line: newlines that came in with names (files, nodes) are shown, not obeyed. */
const oneLine = (s: string): string => s.replace(/\r?\n/g, '\\n');
