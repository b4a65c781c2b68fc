import type { Command } from 'commander';
import { InputError } from '../../errors.js';
import { loadModel } from '../../ir/io.js';
import { collect, parseBackendFlag, parseDimFlags, parseIntFlag, parseThreadsFlag, parseRunsFlag } from '../flags.js';
import { parseShapeFlags, randomInputs, requireSizedDims, resolveDims } from '../../runtime/inputs.js';
import { shapesText } from '../../runtime/bench.js';
import { profileModel } from '../../runtime/profile.js';
import { analyzeProfile, formatProfile } from '../../report/profile/analyze.js';
import { graphNodeCosts } from '../../report/profile/costs.js';
import { measuredPeak } from '../../report/profile/peak.js';
import { writeTrace } from '../../report/profile/trace.js';
import { profileOnDevice } from '../../device/client.js';
import { describeDevice } from '../../device/server.js';
import { MAX_PROFILE_RUNS, type DeviceSummary } from '../../device/protocol.js';
import type { OrtProfile } from '../../runtime/profile.js';

interface ProfileFlags {
  backend: string;
  threads: string;
  shape: string[];
  dim: string[];
  runs: string;
  warmup: string;
  trace?: string;
  top: string;
  peak: boolean;
  refreshPeak?: boolean;
  json?: boolean;
  device?: string;
}

export function register(program: Command): void {
  program
    .command('profile')
    .description("Profile a model with ONNX Runtime's profiler: time per node and op type, roofline, fusions")
    .argument('<model>', 'ONNX model file')
    .option('--backend <b>', 'node | wasm', 'node')
    .option('--threads <n>', 'intra-op threads', '2')
    .option('--shape <name=dims>', 'input shape, e.g. x=1x3x224x224 (repeatable)', collect, [])
    .option('--dim <name=n>', 'value of a symbolic dimension, e.g. seq=128 (repeatable)', collect, [])
    .option('--runs <n>', 'profiled runs', '10')
    .option('--warmup <n>', 'warm-up runs (not counted)', '2')
    .option('--top <n>', 'hotspots to list', '15')
    .option('--no-peak', "skip measuring this machine's peak GFLOP/s and bandwidth")
    .option('--refresh-peak', 'measure the peak again instead of using the cached value (e.g. after a busy run)')
    .option('--trace <file>', 'write a Chrome-trace / Perfetto JSON')
    .option('--device <name|auto>', 'profile on a device connected to `inferopt device serve` (onnxruntime-web wasm there; see `inferopt device list`)')
    .option('--json', 'print JSON')
    .action(async (file: string, flags: ProfileFlags, cmd: Command) => {
      if (flags.device !== undefined && cmd.getOptionValueSource('backend') === 'cli' && flags.backend !== 'wasm') throw new InputError('--device profiles onnxruntime-web (wasm) on the device; drop --backend');
      const backend = flags.device !== undefined ? 'wasm' : parseBackendFlag(flags.backend);
      const threads = parseThreadsFlag(flags.threads);
      const model = loadModel(file);
      const spec = { shapes: parseShapeFlags(flags.shape), dims: parseDimFlags(flags.dim) };
      requireSizedDims(model, spec, { what: 'profiled' });
      const feeds = randomInputs(model, spec);
      const inputs = shapesText(feeds);
      const dims = resolveDims(model, spec);
      const runs = parseRunsFlag('--runs', flags.runs, 1);
      const warmup = parseRunsFlag('--warmup', flags.warmup, 0);
      let profile: OrtProfile;
      let device: DeviceSummary | undefined;
      if (flags.device !== undefined) {
        if (runs + warmup > MAX_PROFILE_RUNS) throw new InputError(`--runs plus --warmup: at most ${MAX_PROFILE_RUNS} on a device`);
        // the inputs travel with the model: the values profiled there are the ones the cost model sees here
        ({ device, profile } = await profileOnDevice(flags.device, file, model, feeds, { threads, runs, warmup, optLevel: 'all', dims }));
      } else {
        profile = await profileModel(model, feeds, { backend, threads, dims, runs, warmup });
      }
      // the roofline needs the peak of the machine that ran: a device's is not measured (no peak then)
      const peak = flags.peak && !device ? await measuredPeak(backend, threads, { refresh: flags.refreshPeak === true }) : undefined;
      const costs = graphNodeCosts(model, { shapes: spec.shapes, dims });
      const analysis = analyzeProfile(model.graph, profile, costs.costOf, peak);
      if (flags.trace) writeTrace(flags.trace, profile.raw, { model: file, backend, threads });
      if (flags.json) {
        process.stdout.write(JSON.stringify({ model: file, ...(device ? { device } : {}), backend, threads, inputs: Object.entries(feeds).map(([name, t]) => ({ name, shape: [...t.dims] })), ...analysis, costModel: costs.note }, null, 1) + '\n');
        return;
      }
      if (device) process.stdout.write(`on device ${device.name}: ${describeDevice(device.info)}\n`);
      process.stdout.write(`${file} on ${backend}${device ? ` (onnxruntime-web on ${device.name})` : ''}, ${threads} thread${threads > 1 ? 's' : ''}; inputs ${inputs} (random values)\n`);
      process.stdout.write(formatProfile(analysis, parseIntFlag('--top', flags.top, 1)) + '\n');
      if (costs.note) process.stdout.write(`note: ${costs.note}\n`);
      if (device && flags.peak) process.stdout.write("note: no roofline columns: the device's peak GFLOP/s and bandwidth are not measured (this machine's would mislead)\n");
      if (flags.trace) process.stdout.write(`trace written to ${flags.trace} (open in ui.perfetto.dev or chrome://tracing)\n`);
    });
}
