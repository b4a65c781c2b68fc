import type { Command } from 'commander';

/**
 * Every command registers itself here (one line each; one file per command in this folder).
 */
export function registerCommands(program: Command): void {
  void program;
}
