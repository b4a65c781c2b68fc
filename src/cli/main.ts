import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { InferoptError } from '../errors.js';
import { registerCommands } from './commands/index.js';
import { addExamples } from './examples.js';
import { guardOutput } from './terminal.js';

/**
 * Builds the `inferopt` program. Commands live in ./commands, one file each, thin over the library. Given
 * the command line, only the command it names is loaded (all of them when it names none or an unknown one).
 */
export async function buildProgram(argv?: readonly string[]): Promise<Command> {
  const program = new Command('inferopt')
    .description('Make trained neural networks smaller and faster, and prove every step with measurements.')
    .version(packageVersion(), '-V, --version', 'print the version')
    .option('--verbose', 'print stack traces and extra detail')
    .exitOverride()
    .configureOutput({
      writeErr: (s) => process.stderr.write(s),
      outputError: (s, write) => write(`inferopt: ${commanderLine(s)} (see --help)\n`),
    });
  await registerCommands(program, argv ? commandOf(argv) : undefined);
  addExamples(program);
  for (const c of program.commands) c.exitOverride().showHelpAfterError(false);
  return program;
}

/** The command a command line names: its first word after the global options, if any. */
function commandOf(argv: readonly string[]): string | undefined {
  return argv.slice(2).find((a) => !a.startsWith('-'));
}

/** Flags renamed for one grammar across commands: the old name gets a one-line pointer to the new one. */
const RENAMED: Record<string, Record<string, string>> = {
  quantize: { '--eval': '--data', '--eval-limit': '--limit' },
  eval: { '--output': '--output-name' },
  optimize: { '--out': '--output' },
  demo: { '--out': '--output' },
  data: { '--out': '--output' },
  pipeline: { '--out': '--output' },
  qat: { '--eval-limit': '--limit' },
};

function renamedFlag(argv: readonly string[]): string | undefined {
  const command = argv[2];
  const renamed = command ? RENAMED[command] : undefined;
  if (!renamed) return undefined;
  for (const a of argv.slice(3)) {
    const flag = a.split('=')[0]!;
    if (Object.hasOwn(renamed, flag)) return `${command} ${flag} is now ${renamed[flag]}`;
  }
  return undefined;
}

/** Commander's message and its "(Did you mean …?)" suggestion, on one line. */
function commanderLine(s: string): string {
  const lines = s.split('\n').map((l) => l.trim()).filter(Boolean);
  const hint = lines.find((l) => /^\(Did you mean/.test(l));
  return `${lines[0]!.replace(/^error: /, '')}${hint ? ` ${hint.replace('(Did you mean', '(did you mean')}` : ''}`;
}

function packageVersion(): string {
  return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

/** Runs the CLI; returns the exit code (0 ok, 1 failure, 2 bad usage or input, 3 goal not met). */
export async function main(argv: readonly string[]): Promise<number> {
  const verbose = argv.includes('--verbose');
  const program = await buildProgram(argv);
  const renamed = renamedFlag(argv);
  if (renamed) {
    process.stderr.write(`inferopt: ${renamed}\n`);
    return 2;
  }
  const unguard = guardOutput(); // control characters from models and data never reach the terminal raw
  // a reader that stops early (`inferopt … | head`) closes the pipe: stop quietly, as Unix tools do, instead of
  // an unhandled 'error' event with a stack trace
  // (registered once: the error can arrive after main returns, while stdout drains)
  if (!process.stdout.listeners('error').includes(onPipeError)) process.stdout.on('error', onPipeError);
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

function onPipeError(e: NodeJS.ErrnoException): void {
  if (e.code === 'EPIPE') process.exit(typeof process.exitCode === 'number' ? process.exitCode : 0);
  throw e;
}

/** An error message as one line: newlines that came in with names (files, nodes) are shown, not obeyed. */
const oneLine = (s: string): string => s.replace(/\r?\n/g, '\\n');
