import type { Command } from 'commander';
import * as evalCmd from './eval.js';
import * as data from './data.js';
import * as profile from './profile.js';
import * as optimize from './optimize.js';
import * as demo from './demo.js';
import * as zoo from './zoo.js';
import * as bench from './bench.js';
import * as inspect from './inspect.js';
import * as simplify from './simplify.js';
import * as verify from './verify.js';
import * as train from './train.js';
import * as quantize from './quantize.js';
import * as pipeline from './pipeline.js';
import * as qat from './qat.js';
import * as distill from './distill.js';
import * as prune from './prune.js';
import * as device from './device.js';
import * as worker from './worker.js';

/**
 * Every command registers itself here (one line each; one file per command in this folder).
 */
export function registerCommands(program: Command): void {
  void program;
  evalCmd.register(program);
  data.register(program);
  bench.register(program);
  inspect.register(program);
  profile.register(program);
  optimize.register(program);
  demo.register(program);
  zoo.register(program);
  simplify.register(program);
  verify.register(program);
  train.register(program);
  quantize.register(program);
  pipeline.register(program);
  qat.register(program);
  distill.register(program);
  prune.register(program);
  device.register(program);
  worker.register(program);
}
