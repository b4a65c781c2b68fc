import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import { InputError } from '../../errors.js';
import { benchmark, compare, type BenchOptions, type BenchResult, type CompareResult, type SessionSettingsOverride } from '../../runtime/bench.js';
import { INPUT_FLAG_HELP, parseInputSets, parseShapeFlags } from '../../runtime/inputs.js';
import type { Backend, OptLevel } from '../../runtime/session.js';
import { collect, parseBackendFlag, parseDimFlags, parseIntFlag, parseThreadsFlag, parsePositiveFlag, parseRunsFlag, parseSecondsFlag } from '../flags.js';
import { clearLine, liveLine } from '../terminal.js';
import { benchmarkOnDevice, compareOnDevice } from '../../device/client.js';
import type { EpChoice, OutputsVsWasm } from '../../device/protocol.js';
import { describeDevice } from '../../device/server.js';

interface BenchFlags {
  backend: string;
  threads: string;
  warmup: string;
  runs?: string;
  seconds?: string;
  shape: string[];
  dim: string[];
  input: string[];
  optLevel: string;
  executionMode: string;
  batch?: string;
  seed: string;
  compare?: string;
  compareThreads?: string;
  compareOptLevel?: string;
  compareExecutionMode?: string;
  device?: string;
  ep: string;
  json?: boolean;
}

const OPT_LEVELS = ['disabled', 'basic', 'extended', 'all'];

export function register(program: Command): void {
  program
    .command('bench')
    .description('Measure latency, throughput and memory of a model on ONNX Runtime (or compare two, interleaved)')
    .argument('<model>', 'ONNX model file')
    .option('--backend <b>', 'node (native CPU) | wasm (onnxruntime-web in Node)', 'node')
    .option('--threads <n>', 'intra-op threads', '2')
    .option('--warmup <n>', 'untimed warm-up runs', '5')
    .option('--runs <n>', 'timed runs (default 50; rounds with --compare)')
    .option('--seconds <s>', 'measure for this long instead of a run count')
    .option('--shape <name=dims>', 'input shape, e.g. x=1x3x224x224 (repeatable)', collect, [])
    .option('--dim <name=n>', 'value of a symbolic dimension, e.g. seq=128 (repeatable)', collect, [])
    .option('--input <name=value>', `${INPUT_FLAG_HELP}; a file input given several times makes input sets, used in turn (as optimize timed them)`, collect, [])
    .option('--opt-level <level>', 'ORT graph optimization: disabled | basic | extended | all', 'all')
    .option('--execution-mode <mode>', 'sequential | parallel', 'sequential')
    .option('--batch <n>', 'samples per inference for samples/s (default: leading dim of the first input)')
    .option('--seed <n>', 'seed of the random inputs and of the run order', '0')
    .option('--compare <other.onnx>', 'benchmark another model side by side and report the B/A ratio of medians')
    .option('--compare-threads <n>', 'with --compare: intra-op threads of the other model (default: --threads)')
    .option('--compare-opt-level <level>', 'with --compare: ORT graph optimization of the other model (default: --opt-level)')
    .option('--compare-execution-mode <mode>', 'with --compare: execution mode of the other model (default: --execution-mode)')
    .option('--device <name|auto>', 'run on a device connected to `inferopt device serve` (onnxruntime-web there; see `inferopt device list`)')
    .option('--ep <ep>', 'with --device: execution provider there — wasm | webgpu | auto (WebGPU where the device has an adapter)', 'wasm')
    .option('--json', 'print JSON (no progress bar)')
    .action(async (file: string, flags: BenchFlags, cmd: Command) => {
      if (!['wasm', 'webgpu', 'auto'].includes(flags.ep)) throw new InputError(`--ep must be wasm, webgpu or auto, not '${flags.ep}'`);
      if (flags.ep !== 'wasm' && flags.device === undefined) throw new InputError('--ep picks the execution provider on a device: give --device (locally, --backend node or wasm)');
      if (flags.device !== undefined) {
        if (cmd.getOptionValueSource('backend') === 'cli' && flags.backend !== 'wasm') throw new InputError('--device runs onnxruntime-web (wasm) on the device; drop --backend');
        flags.backend = 'wasm';
      }
      const opts = benchOptions(flags);
      if (opts.backend === 'wasm' && flags.device === undefined) guardWasmWorkerErrors();
      for (const f of [file, flags.compare]) if (f !== undefined && !fs.existsSync(f)) throw new InputError(`${f}: no such file`);
      const bar = !flags.json && process.stderr.isTTY ? new ProgressBar() : undefined;
      opts.onProgress = bar && ((fraction) => bar.draw(fraction));
      try {
        if (flags.device !== undefined) {
          await benchOnDevice(file, flags, opts, bar);
          return;
        }
        if (flags.compare) {
          const r = await compare(file, flags.compare, opts, compareSettings(flags));
          bar?.clear();
          process.stdout.write(flags.json ? JSON.stringify(r, null, 1) + '\n' : formatCompare(r));
        } else {
          const r = await benchmark(file, opts);
          bar?.clear();
          process.stdout.write(flags.json ? JSON.stringify(r, null, 1) + '\n' : formatResult(r));
        }
      } finally {
        bar?.clear();
      }
    });
}

async function benchOnDevice(file: string, flags: BenchFlags, opts: BenchOptions, bar?: ProgressBar): Promise<void> {
  const name = flags.device!;
  if (flags.compare) {
    const { device, result } = await compareOnDevice(name, file, flags.compare, { ...opts, ep: flags.ep as EpChoice }, compareSettings(flags));
    bar?.clear();
    process.stdout.write(flags.json ? JSON.stringify({ device, ...result }, null, 1) + '\n' : `on device ${device.name}: ${describeDevice(device.info)}\n${ranOn(result)}${formatCompare(result)}`);
  } else {
    const { device, result } = await benchmarkOnDevice(name, file, { ...opts, ep: flags.ep as EpChoice });
    bar?.clear();
    process.stdout.write(flags.json ? JSON.stringify({ device, ...result }, null, 1) + '\n' : `on device ${device.name}: ${describeDevice(device.info)}\n${ranOn(result)}${formatResult(result)}`);
  }
}

/** The execution provider the device ran, as it reported it, and on WebGPU how its outputs compare with wasm's. */
function ranOn(result: object): string {
  const r = result as { executionProviderNote?: unknown; outputsVsWasm?: OutputsVsWasm; a?: { model?: string; outputsVsWasm?: OutputsVsWasm }; b?: { model?: string; outputsVsWasm?: OutputsVsWasm } };
  let out = typeof r.executionProviderNote === 'string' ? `execution provider: ${r.executionProviderNote}\n` : '';
  const sides = r.a && r.b ? [r.a, r.b] : [{ outputsVsWasm: r.outputsVsWasm }];
  for (const side of sides) {
    const v = side.outputsVsWasm;
    if (!v) continue;
    const who = 'model' in side && side.model ? `${path.basename(side.model)}: ` : '';
    const each = v.outputs.map((o) => (o.problem ? `${o.name} ${o.problem}` : `${o.name} max abs ${o.maxAbs!.toExponential(1)}, cosine ${o.cosine!.toFixed(6)}${o.top1 !== undefined ? `, top-1 ${(100 * o.top1).toFixed(0)}%` : ''}`));
    out += `${who}outputs on webgpu vs wasm (same inputs): ${each.join('; ')} — ${v.ok ? 'within' : 'NOT within'} ${v.tolerance.atol} + ${v.tolerance.rtol}·|wasm|\n`;
  }
  return out;
}

function checkSessionFlags(optLevel: string, executionMode: string, prefix = ''): void {
  if (!OPT_LEVELS.includes(optLevel)) throw new InputError(`--${prefix}opt-level must be one of ${OPT_LEVELS.join(', ')}, not '${optLevel}'`);
  if (executionMode !== 'sequential' && executionMode !== 'parallel') throw new InputError(`--${prefix}execution-mode must be sequential or parallel, not '${executionMode}'`);
}

/** The --compare model's own session settings (what optimize's side-by-side figure gives the chosen model). */
function compareSettings(flags: BenchFlags): SessionSettingsOverride {
  const given = [flags.compareThreads, flags.compareOptLevel, flags.compareExecutionMode].some((f) => f !== undefined);
  if (!given) return {};
  if (!flags.compare) throw new InputError('--compare-threads, --compare-opt-level and --compare-execution-mode go with --compare');
  const optLevel = flags.compareOptLevel ?? flags.optLevel;
  const executionMode = (flags.compareExecutionMode ?? flags.executionMode) as 'sequential' | 'parallel';
  checkSessionFlags(optLevel, executionMode, 'compare-');
  return { threads: flags.compareThreads !== undefined ? parseThreadsFlag(flags.compareThreads) : parseThreadsFlag(flags.threads), optLevel: optLevel as OptLevel, executionMode };
}

function benchOptions(flags: BenchFlags): BenchOptions {
  if (flags.runs !== undefined && flags.seconds !== undefined) throw new InputError('give --runs or --seconds, not both');
  const backend = parseBackendFlag(flags.backend);
  checkSessionFlags(flags.optLevel, flags.executionMode);
  compareSettings(flags);
  const opts: BenchOptions = {
    backend,
    threads: parseThreadsFlag(flags.threads),
    warmup: parseRunsFlag('--warmup', flags.warmup, 0),
    optLevel: flags.optLevel as OptLevel,
    executionMode: flags.executionMode as 'sequential' | 'parallel',
    shapes: parseShapeFlags(flags.shape),
    dims: parseDimFlags(flags.dim),
    seed: parseIntFlag('--seed', flags.seed, 0),
  };
  if (flags.runs !== undefined) opts.runs = parseRunsFlag('--runs', flags.runs, 1);
  if (flags.seconds !== undefined) opts.seconds = parseSecondsFlag('--seconds', flags.seconds);
  if (flags.batch !== undefined) opts.batch = parseIntFlag('--batch', flags.batch, 1);
  if (flags.input.length) {
    const { values, sets } = parseInputSets(flags.input);
    opts.values = values;
    if (sets) opts.feedSets = sets;
  }
  return opts;
}

/** ms with precision that suits its size. */
function ms(x: number): string {
  return x < 1 ? x.toFixed(3) : x < 100 ? x.toFixed(2) : x.toFixed(1);
}

function mb(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

function rate(x: number): string {
  return x >= 100 ? x.toFixed(0) : x.toFixed(2);
}

function header(r: BenchResult): string {
  const inputs = r.shapes
    ? `${r.shapes.reduce((n, s) => n + s.count, 0)} input sets used in turn (${r.shapes.map((s) => `${s.shapes} ×${s.count}`).join('; ')})`
    : r.inputs.map((i) => `${i.name} ${i.type}[${i.shape.join(',')}]`).join(', ');
  const threads = `${r.threads} thread${r.threads === 1 ? '' : 's'}`;
  // on WebGPU the threads are wasm's, for the ops that have no WebGPU kernel
  const where = r.executionProvider === 'webgpu' ? `webgpu (onnxruntime-web; ops without a WebGPU kernel on wasm, ${threads})` : `${r.backend}, ${threads}`;
  return `${where}, opt level ${r.optLevel}, ${r.executionMode}; inputs: ${inputs}`;
}

const STAT_ROWS: [string, (r: BenchResult) => string][] = [
  ['runtime start-up (ms, once)', (r) => ms(r.runtimeStartMs)],
  ['session creation (ms)', (r) => ms(r.sessionCreateMs)],
  ['timed runs', (r) => `${r.latencyMs.n} (+${r.warmup} warm-up)`],
  ['mean (ms)', (r) => ms(r.latencyMs.mean)],
  ['p50 (ms)', (r) => ms(r.latencyMs.p50)],
  ['p90 (ms)', (r) => ms(r.latencyMs.p90)],
  ['p99 (ms)', (r) => ms(r.latencyMs.p99)],
  ['min (ms)', (r) => ms(r.latencyMs.min)],
  ['max (ms)', (r) => ms(r.latencyMs.max)],
  ['stdev (ms)', (r) => ms(r.latencyMs.stdev)],
  ['inferences/s', (r) => rate(r.throughput.inferencesPerSec)],
  ['samples/s', (r) => `${rate(r.throughput.samplesPerSec)} (batch ${r.batch})`],
  ['session memory (RSS)', (r) => `+${mb(r.memory.sessionRssBytes)}`],
  ['process peak RSS', (r) => mb(r.memory.peakRssBytes)],
];

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('   ')).join('\n') + '\n';
}

/** The rows that apply: a browser cannot read its memory use (the figures come back 0 from a device). */
function statRows(r: BenchResult): typeof STAT_ROWS {
  return r.memory.peakRssBytes > 0 ? STAT_ROWS : STAT_ROWS.filter(([label]) => !/RSS/.test(label));
}

export function formatResult(r: BenchResult): string {
  return `${r.model}: ${header(r)}\n` + table(statRows(r).map(([label, get]) => [label, get(r)]));
}

export function formatCompare(c: CompareResult): string {
  const own = header(c.b) !== header(c.a) ? `\nB: ${header(c.b)}` : '';
  let out = `A: ${c.a.model}\nB: ${c.b.model}\n${own ? 'A: ' : ''}${header(c.a)}${own}\n`;
  out += table([['', 'A', 'B'], ...statRows(c.a).map(([label, get]) => [label, get(c.a), get(c.b)])]);
  const { ratio, low, high, confidence } = c.ratio;
  const verdict =
    high < 1 ? `B is faster (${(1 / ratio).toFixed(2)}× A's speed)` : low > 1 ? `B is slower (${ratio.toFixed(2)}× A's time)` : 'no clear difference';
  out += `B/A median latency: ${ratio.toFixed(3)} (${Math.round(confidence * 100)}% CI ${low.toFixed(3)}–${high.toFixed(3)}, runs interleaved in random order${c.a.backend === 'node' ? ', ORT threads not spinning between runs' : ''}): ${verdict}\n`;
  return out;
}

/**
 * onnxruntime-web (multi-threaded) reports a kernel error that happens in a worker thread twice: as the
 * failed run, and then by rethrowing it from emscripten's `worker.onerror` as an uncaught exception (the
 * value is a wasm pointer, a number), which would end the process with a dump: exit 2 instead. (Emscripten
 * still writes its own "worker sent an error!" line to stderr first; it writes with fs.writeSync(2, …).)
 */
function guardWasmWorkerErrors(): void {
  process.on('uncaughtException', (e) => {
    if (typeof e !== 'number') {
      process.stderr.write(`inferopt: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exit(1);
    }
    // already reported as the failed run when the exit code is set; otherwise say what happened
    if (!process.exitCode) process.stderr.write('inferopt: onnxruntime-web: a worker thread failed inside a kernel (run with --threads 1 to see its error)\n');
    process.exit(2);
  });
}

/** A one-line progress bar on stderr (only created when stderr is a terminal). */
class ProgressBar {
  private last = -1;
  draw(fraction: number): void {
    const pct = Math.floor(fraction * 100);
    if (pct === this.last) return;
    this.last = pct;
    const width = 30;
    const full = Math.round(fraction * width);
    liveLine(`[${'#'.repeat(full)}${'.'.repeat(width - full)}] ${pct}%`);
  }
  clear(): void {
    if (this.last >= 0) clearLine();
    this.last = -1;
  }
}
