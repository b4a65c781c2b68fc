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
    .option('--device <name|auto>', 'not available yet: onnxruntime-web prints its profile on the device; profile with --backend wasm here (the same wasm kernels)')
    .option('--json', 'print JSON')
    .action(async (file: string, flags: ProfileFlags) => {
      if (flags.device !== undefined) {
        throw new InputError("profile --device is not available yet: onnxruntime-web's wasm build prints its profile to the page's console rather than a file, and the page does not send it back; profile the model here with --backend wasm (the same onnxruntime-web kernels), or time it on the device with bench --device");
      }
      const backend = parseBackendFlag(flags.backend);
      const threads = parseThreadsFlag(flags.threads);
      const model = loadModel(file);
      const spec = { shapes: parseShapeFlags(flags.shape), dims: parseDimFlags(flags.dim) };
      requireSizedDims(model, spec, { what: 'profiled' });
      const feeds = randomInputs(model, spec);
      const inputs = shapesText(feeds);
      const dims = resolveDims(model, spec);
      const profile = await profileModel(model, feeds, {
        backend,
        threads,
        dims,
        runs: parseRunsFlag('--runs', flags.runs, 1),
        warmup: parseRunsFlag('--warmup', flags.warmup, 0),
      });
      const peak = flags.peak ? await measuredPeak(backend, threads, { refresh: flags.refreshPeak === true }) : undefined;
      const costs = graphNodeCosts(model, { shapes: spec.shapes, dims });
      const analysis = analyzeProfile(model.graph, profile, costs.costOf, peak);
      if (flags.trace) writeTrace(flags.trace, profile.raw, { model: file, backend, threads });
      if (flags.json) {
        process.stdout.write(JSON.stringify({ model: file, backend, threads, inputs: Object.entries(feeds).map(([name, t]) => ({ name, shape: [...t.dims] })), ...analysis, costModel: costs.note }, null, 1) + '\n');
        return;
      }
      process.stdout.write(`${file} on ${backend}, ${threads} thread${threads > 1 ? 's' : ''}; inputs ${inputs} (random values)\n`);
      process.stdout.write(formatProfile(analysis, parseIntFlag('--top', flags.top, 1)) + '\n');
      if (costs.note) process.stdout.write(`note: ${costs.note}\n`);
      if (flags.trace) process.stdout.write(`trace written to ${flags.trace} (open in ui.perfetto.dev or chrome://tracing)\n`);
    });
}
