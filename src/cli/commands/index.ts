import type { Command } from 'commander';

/** A command module: one file per command in this folder, each registering itself. */
interface CommandModule {
  register(program: Command): void;
}

/**
 * Every command, by the name it registers, in the order `--help` lists them (one line each). Loaded on
 * demand: a run of one command imports that command's module alone, so `inferopt quantize` does not pay for
 * loading (and holding) the pipeline, device, distributed and report code.
 */
const COMMANDS: Record<string, () => Promise<CommandModule>> = {
  eval: () => import('./eval.js'),
  data: () => import('./data.js'),
  bench: () => import('./bench.js'),
  inspect: () => import('./inspect.js'),
  profile: () => import('./profile.js'),
  optimize: () => import('./optimize.js'),
  demo: () => import('./demo.js'),
  zoo: () => import('./zoo.js'),
  simplify: () => import('./simplify.js'),
  verify: () => import('./verify.js'),
  train: () => import('./train.js'),
  quantize: () => import('./quantize.js'),
  pipeline: () => import('./pipeline.js'),
  qat: () => import('./qat.js'),
  distill: () => import('./distill.js'),
  prune: () => import('./prune.js'),
  device: () => import('./device.js'),
  worker: () => import('./worker.js'),
};

export const COMMAND_NAMES: readonly string[] = Object.keys(COMMANDS);

/**
 * Registers the commands on `program`: only `only` when it names a command, otherwise all of them (for
 * `--help`, `help <command>` and "did you mean" on an unknown command).
 */
export async function registerCommands(program: Command, only?: string): Promise<void> {
  const names = only !== undefined && Object.hasOwn(COMMANDS, only) ? [only] : COMMAND_NAMES;
  const modules = await Promise.all(names.map((n) => COMMANDS[n]!()));
  for (const m of modules) m.register(program);
}
