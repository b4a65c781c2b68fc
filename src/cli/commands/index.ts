import type { Command } from 'commander';
import * as profile from './profile.js';
import * as zoo from './zoo.js';
import * as bench from './bench.js';
import * as inspect from './inspect.js';

/**
 * Every command registers itself here (one line each; one file per command in this folder).
 */
export function registerCommands(program: Command): void {
  void program;
  bench.register(program);
  inspect.register(program);
  profile.register(program);
  zoo.register(program);
}
