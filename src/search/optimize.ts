import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { InputError } from '../errors.js';
import type { Model } from '../ir/graph.js';
import { loadModel, modelSizeOnDisk } from '../ir/io.js';
import { encodeTensorProto } from '../ir/proto/encode.js';
import { saveModelProven } from '../runtime/prove.js';
import type { Target } from '../passes/pass.js';
import { requireSizedDims, runtimeInputs, type InputSpec } from '../runtime/inputs.js';
import { openDataset } from '../data/dataset.js';
import { collectTensorData, holdOut } from '../train/data.js';
import type { TensorData } from '../train/trainer.js';
import { profileModel } from '../runtime/profile.js';
import type { Backend } from '../runtime/session.js';
import { environment } from '../report/environment.js';
import { htmlReport } from '../report/html.js';
import { markdownReport } from '../report/markdown.js';
import { aggregateKernels, type OpTypeTime } from '../report/profile/aggregate.js';
import { resultsFrom, type OptimizeResults } from '../report/results.js';
import { checkRecipeSteps } from './apply.js';
import { describeBudget, type Budget } from './budget.js';
import { forTarget, searchCatalog, type CatalogEntry } from './catalog.js';
import { OnnxEvaluator, modelHash } from './evaluator.js';
import { Cluster, RedisError } from '../distributed/cluster.js';
import { distributedSearch, type RemoteEvaluator } from '../distributed/coordinator.js';
import { describeGoals, type Goals } from './goals.js';
import { dataMetric, fidelityMetric, type MetricSource } from './metric.js';
import { OutputDir } from '../util/output-dir.js';
import { markInput } from '../util/files.js';
import { HF_SIDE_FILES, TRANSFORMERS_JS_DTYPES, transformersJsDtypeOf, transformersJsFileName, transformersJsPart } from '../quantize/transformers-js.js';
import { watchOtherCpu, type OtherCpu } from '../util/cpu-watch.js';
import { DEFAULT_SESSION, graphKey, type Recipe, type RecipeFile } from './recipe.js';
import { runSearch } from './search.js';
import { explainSlowerCandidates } from './explain.js';
import { ortKernels } from '../runtime/kernels.js';
import { defaultSessionSpace } from './space.js';
import { timingWorkload, type Workload } from './workload.js';
import { benchmarkOnDevice, compareOnDevice, listDevices } from '../device/client.js';
import type { DeviceSummary } from '../device/protocol.js';
import { describeDevice } from '../device/server.js';
import type { Timer } from './evaluator.js';
import * as os from 'node:os';

export interface OptimizeOptions {
  modelFile: string;
  outDir: string;
  goals: Goals;
  budget: Budget;
  target: Target;
  backend?: Backend;
  /** Dataset spec or path; without it the metric is fidelity to the baseline on random inputs. */
  data?: string;
  /**
   * Labelled training data: when static quantization misses the accuracy goal, the search tries
   * quantization-aware training (every 10th sample held out for early stopping).
   */
  trainData?: string;
  trainLimit?: number;
  /**
   * With `trainData`: prune steps fine-tune for this many optimizer steps (default 300), distilled from the
   * unpruned model; without training data they are one-shot.
   */
  pruneSteps?: number;
  /** With trainData: optimizer steps of a QAT step (default 300). */
  trainSteps?: number;
  metric?: string;
  /** Samples scored (data) or random inputs compared (fidelity). */
  limit?: number;
  input?: InputSpec;
  /** Re-run this recipe instead of searching. */
  recipe?: RecipeFile;
  /** Apply the recipe although it records another model (sha256): by default that is refused. */
  allowOtherModel?: boolean;
  /** Timed runs per candidate. */
  runs?: number;
  /** false: time every candidate for all its runs (see SearchOptions.screen; default true). */
  earlyStop?: boolean;
  /** Time every candidate on this device (`inferopt device serve`; a name or 'auto'): onnxruntime-web there. */
  device?: string;
  catalog?: CatalogEntry[];
  log?: (line: string) => void;
  /**
   * Run the search's measurements on workers (src/distributed): the Redis URL they joined, `resume` to pick up
   * the last search with the same inputs, `timingClass` to choose which hardware class times.
   */
  workers?: { url: string; resume?: boolean; timingClass?: string };
  /** The live view of the workers (one line, redrawn). */
  progress?: (line: string) => void;
  /**
   * 'transformers.js': the chosen model goes into the folder transformers.js loads — `onnx/<part><suffix>.onnx`
   * with the suffix of the dtype its numeric form is (transformersJsDtypeOf), the input's config and tokenizer
   * files beside it, and quantize_config.json saying how it was made.
   */
  layout?: 'transformers.js';
}

export interface OptimizeOutcome {
  results: OptimizeResults;
  outDir: string;
  modelPath: string;
}

/**
 * `inferopt optimize`: baseline, search (or a given recipe), then the chosen model, recipe.json, results.json
 * and both reports, written to the output folder in one step. Goals not met: the outcome says so (`met`),
 * and the caller exits 3 — the folder is written either way.
 */
/**
 * A Timer that runs runtime/bench.ts on a device; `device` is filled in by the first measurement (the
 * server picks the device for 'auto'), and every later one goes to that same device by name.
 */
export async function deviceTimer(name: string, log: (line: string) => void): Promise<{ timer: Timer; device?: DeviceSummary; webgpu?: string }> {
  const holder: { timer: Timer; device?: DeviceSummary; webgpu?: string } = { timer: undefined as unknown as Timer };
  const target = () => holder.device?.name ?? name;
  const seen = (d: DeviceSummary) => {
    if (!holder.device) log(`timing on device ${d.name}: ${describeDevice(d.info)}`);
    holder.device = d;
  };
  holder.timer = {
    benchmark: async (m, opts) => {
      const r = await benchmarkOnDevice(target(), m, opts);
      seen(r.device);
      return r.result;
    },
    compare: async (a, b, opts, bSettings) => {
      const r = await compareOnDevice(target(), a, b, opts, bSettings);
      seen(r.device);
      return r.result;
    },
  };
  // fail early, before the search, when the device is not there
  const { devices, url } = await listDevices();
  if (name === 'auto' ? devices.length === 0 : !devices.some((d) => d.name === name)) {
    throw new InputError(name === 'auto' ? `no device is connected; open ${url} on the device` : `no device named '${name}' is connected (${devices.length ? `connected: ${devices.map((d) => d.name).join(', ')}` : `none is; open ${url} on the device`})`);
  }
  // the device's WebGPU adapter, when it has one (the search then times WebGPU there too)
  const listed = name === 'auto' ? devices[0] : devices.find((d) => d.name === name);
  if (listed?.info.webgpu) holder.webgpu = listed.info.webgpuAdapter ?? 'a WebGPU adapter';
  return holder;
}

export async function optimize(o: OptimizeOptions): Promise<OptimizeOutcome> {
  const log = o.log ?? (() => {});
  const modelFile = path.resolve(o.modelFile);
  if (!fs.existsSync(modelFile)) throw new InputError(`no such model file: ${o.modelFile}`);
  if (o.recipe) checkRecipeFor(o.recipe, modelFile, forTarget(o.catalog ?? searchCatalog(), o.target), o.allowOtherModel === true);
  const baseModel = loadModel(modelFile);
  const layout = o.layout === 'transformers.js' ? transformersJsSource(modelFile) : undefined;
  // the file the chosen model goes to; with a layout its dtype is known after the search: every one is checked now
  const nameOf = (r: Recipe) => (layout ? `onnx/${transformersJsFileName(layout.part, transformersJsDtypeOf(r.steps))}` : `${path.basename(modelFile, '.onnx')}.optimized.onnx`);
  const modelNames = layout ? TRANSFORMERS_JS_DTYPES.map((d) => `onnx/${transformersJsFileName(layout.part, d)}`) : [nameOf({ target: o.target, steps: [], session: DEFAULT_SESSION })];
  // every timed input set, by input: set 0 as timed-input-<i>.pb, set k as timed-input-<i>-<k>.pb
  const inputFiles = runtimeInputs(baseModel).map((v, i) => ({ name: v.name, file: (k: number) => (k === 0 ? `timed-input-${i}.pb` : `timed-input-${i}-${k}.pb`) }));
  const out = new OutputDir(o.outDir, { names: [...modelNames.flatMap((n) => [n, `${n}.data`]), ...(layout ? [...layout.side.map((s) => s.name), 'quantize_config.json'] : []), 'recipe.json', 'results.json', 'report.md', 'report.html', ...inputFiles.flatMap((f) => Array.from({ length: MAX_TIMED_SETS }, (_, k) => f.file(k))), ...(o.workers ? [PARTIAL] : [])] });
  let journal: RemoteEvaluator['journal'] = [];
  // the queues first: an unreachable Redis is one line before any work
  let cluster: Cluster | undefined;
  try {
    cluster = o.workers ? await Cluster.open(o.workers.url) : undefined;
    const input: InputSpec = o.input ?? {};
    const backend = o.backend ?? (o.target === 'wasm' ? 'wasm' : 'node');
    const catalog = forTarget(o.catalog ?? searchCatalog(), o.target);
    // without data, a size nothing gives (a line's width, a page's height) is refused before any work
    if (!o.data) requireSizedDims(baseModel, input, { dataFlag: true });
    const metric = await metricSourceFor(baseModel, { ...o, input });
    log(`metric: ${metric.name} — ${metric.note}`);
    // latency is timed on what the user runs: the data's own inputs, else the declared shapes (never a default 1)
    const workload = await timingWorkload(baseModel, input, metric, o.data);
    log(`timed on ${workload.note}`);
    // QAT trains in this process (the CLI refuses --train-data with --workers)
    const training = o.trainData && !o.workers ? trainingData(baseModel, o.trainData, o.trainLimit) : undefined;
    const onDevice = o.device !== undefined ? await deviceTimer(o.device, log) : undefined;
    const local = new OnnxEvaluator({ modelFile, catalog, metric, backend, feedSets: workload.feeds, ...(o.runs ? { runs: o.runs } : {}), ...(training ? { training, trainSteps: o.trainSteps ?? 300 } : {}), ...(onDevice ? { timer: onDevice.timer } : {}), log });
    const remote = o.workers
      ? await distributedSearch({
          ...o.workers,
          cluster: cluster!,
          modelFile,
          model: baseModel,
          metric,
          feeds: workload.feeds,
          local,
          ctx: { ...(o.data ? { data: fs.existsSync(o.data) ? path.resolve(o.data) : o.data } : {}), ...(o.metric ? { metric: o.metric } : {}), ...(o.limit ? { limit: o.limit } : {}), input, backend },
          inputs: { target: o.target, goals: o.goals, budget: o.budget, runs: o.runs, recipe: o.recipe?.recipe },
          log,
          ...(o.progress ? { progress: o.progress } : {}),
        })
      : undefined;
    if (remote) journal = remote.evaluator.journal;
    const evaluator = remote?.evaluator ?? local;

    // the input model as a user runs it, as the search measured it: a recipe re-run states the same speed-up
    // (its baseline once ran at the recipe's thread count: a 1-thread recipe gave 1.26× where the search said 2.04×)
    const baseSession = DEFAULT_SESSION;
    const baseProfile = await opTypeTimes(baseModel, workload, baseSession.threads);
    const opShare = Object.fromEntries(baseProfile.map((t) => [t.opType, t.share]));
    log(`baseline profile: ${baseProfile.slice(0, 5).map((t) => `${t.opType} ${(t.share * 100).toFixed(0)}%`).join(', ')}`);

    const sessionSpace = defaultSessionSpace(os.cpus().length, baseSession);
    // onnxruntime-web fixes its thread count once per process: the thread count is not searchable there
    if (backend === 'wasm') sessionSpace.threads = [baseSession.threads];
    // a device page with a WebGPU adapter: the float model is timed on WebGPU there too (fp32 and fp16)
    if (onDevice?.webgpu) {
      sessionSpace.ep = ['webgpu'];
      log(`device has WebGPU (${onDevice.webgpu}): the float model in fp32 and fp16 is timed on it too, beside the wasm search, its outputs checked against wasm`);
    }
    const search = await runSearch({ passes: catalog, session: sessionSpace }, evaluator, {
      goals: o.goals,
      budget: o.budget,
      target: o.target,
      baseSession,
      opShare,
      log,
      ...(o.earlyStop === false ? { screen: false } : {}),
      ...(training ? { pruneFinetune: { steps: o.pruneSteps ?? 300, distill: 0.5 } } : {}),
      ...(o.recipe ? { only: { ...o.recipe.recipe, target: o.recipe.recipe.target } } : {}),
    });
    if (o.recipe && search.chosen === search.baseline && search.candidates.length > 1 && search.candidates[1]!.error) {
      throw new InputError(`the recipe could not be applied: ${search.candidates[1]!.error}`);
    }

    // the headline speed-up, re-measured side by side (interleaved, each with its own session settings)
    let sideBySide: OptimizeResults['sideBySide'];
    if (search.chosen !== search.baseline && search.chosen.measurement) {
      // timed here: what other processes took of the machine meanwhile is part of the figure (workers and
      // devices time elsewhere)
      const watch = remote || onDevice ? undefined : watchOtherCpu();
      const r = await evaluator.confirm(search.baseline.recipe, search.chosen.recipe);
      const others = watch?.();
      sideBySide = { speedup: 1 / r.ratio, low: 1 / r.high, high: 1 / r.low, runs: r.runs!, baseline: r.a!, chosen: r.b!, ...(others ? { otherCpu: { share: others.share, cores: others.cores } } : {}) };
      log(`side by side: ${sideBySide.speedup.toFixed(2)}× faster [${sideBySide.low.toFixed(2)}, ${sideBySide.high.toFixed(2)}]${others ? ` (other processes took ${(100 * others.share).toFixed(0)}% of the ${others.cores} cores meanwhile)` : ''}`);
      if (others && others.share > BUSY_SHARE) search.warnings.push(busyWarning(others, search.baseline.recipe.session.threads, search.chosen.recipe.session.threads));
      if (sideBySide.low <= 1) search.warnings.push(`timed side by side with the baseline, the chosen model's speed-up is not significant (${sideBySide.speedup.toFixed(2)}×, 95% interval ${sideBySide.low.toFixed(2)}–${sideBySide.high.toFixed(2)}): the search's separate measurements were noisy`);
    }
    const modelName = nameOf(search.chosen.recipe);
    const chosenBuilt = await evaluator.build(search.chosen.recipe);
    const measuredHash = remote?.evaluator.modelHashes.get(graphKey(search.chosen.recipe));
    if (measuredHash && measuredHash !== modelHash(chosenBuilt.bytes)) {
      search.warnings.push(`the chosen model built here (sha256 ${modelHash(chosenBuilt.bytes).slice(0, 12)}…) differs from the one the workers measured (${measuredHash.slice(0, 12)}…)`);
    }
    // loaded and run once on the first timed input set before it is in place
    const proof = await saveModelProven(chosenBuilt.model, out.path(modelName), { backend, feeds: workload.feeds[0], reference: modelFile });
    if (proof.proof.note) search.warnings.push(`the written model was ${proof.proof.note}`);
    const chosenProfile = await opTypeTimes(chosenBuilt.model, workload, search.chosen.recipe.session.threads, search.chosen.recipe);
    // a quantized candidate that ran slower is explained from the kernels ORT ran and its profile (native ORT's:
    // onnxruntime-web has neither an optimized-graph file nor a profile)
    if (backend === 'node') await explainSlowerCandidates(search.candidates, search.baseline, {
      quantizes: (r) => r.steps.some((st) => ['quantize', 'train'].includes(catalog.find((c) => c.pass.id === st.pass)?.kind ?? '')),
      build: async (r) => (await evaluator.build(r)).model,
      kernels: (m, r) => ortKernels(m, { dims: workload.dims, optLevel: r.session.optLevel }),
      profile: (m, r) => opTypeTimes(m, workload, r.session.threads, r),
      baseline: baseProfile,
      log,
    });

    const recipeFile: RecipeFile = {
      format: 'inferopt-recipe',
      version: 1,
      recipe: search.chosen.recipe,
      model: { file: path.basename(modelFile), sha256: sha256File(modelFile) },
      note: `re-run with: inferopt optimize ${path.basename(modelFile)} --recipe recipe.json -o <dir>${search.chosen.recipe.steps.some((s) => catalog.find((c) => c.pass.id === s.pass)?.needs?.length) ? ' --data <the same data>' : ''}${search.chosen.recipe.steps.some((s) => trainsOn(catalog, s)) ? ' --train-data <the same training data>' : ''}`,
    };
    // the data's values change the float model's speed (PaddleOCR det: 45.6 ms on a rendered page, 35.3 ms on
    // random values, 2 threads): every timed input set is written beside the model for bench --input, which
    // cycles them as the search did (one set alone gave the rec model 1.21× where its eight gave 1.38×)
    const timedFiles: Record<string, string[]> = {};
    if (workload.source === 'data') {
      for (const f of inputFiles) {
        workload.feeds.slice(0, MAX_TIMED_SETS).forEach((feeds, k) => {
          const t = feeds[f.name];
          if (!t) return;
          fs.writeFileSync(out.path(f.file(k)), Buffer.concat(encodeTensorProto(t, f.name)));
          (timedFiles[f.name] ??= []).push(path.join(o.outDir, f.file(k)));
        });
      }
    }
    const results: OptimizeResults = {
      format: 'inferopt-results',
      version: 1,
      createdAt: new Date().toISOString(),
      model: { file: o.modelFile, sha256: recipeFile.model!.sha256, sizeBytes: modelSizeOnDisk(modelFile) },
      target: o.target,
      goals: o.goals,
      goalsText: describeGoals(o.goals),
      budget: o.recipe ? 'none (recipe given)' : describeBudget(o.budget),
      metric: { name: metric.name, source: metric.source, note: metric.note },
      ...resultsFrom(search),
      timing: {
        source: workload.source,
        shapes: workload.shapes,
        note: workload.note,
        threads: { baseline: search.baseline.recipe.session.threads, chosen: search.chosen.recipe.session.threads },
        backend,
        ...(sideBySide && !onDevice ? { reproduce: benchCommand(o.modelFile, path.join(o.outDir, modelName), workload, search.baseline.recipe, search.chosen.recipe, input, backend, timedFiles, sideBySide?.runs) } : {}),
        ...(onDevice?.device ? { device: { name: onDevice.device.name, description: describeDevice(onDevice.device.info) } } : {}),
      },
      opTypes: { baseline: baseProfile, chosen: chosenProfile },
      ...(sideBySide ? { sideBySide } : {}),
      environment: environment(),
      ...(remote ? { distributed: remote.summary() } : {}),
      outputs: { model: modelName, recipe: 'recipe.json', results: 'results.json', html: 'report.html', markdown: 'report.md' },
    };
    out.write('recipe.json', JSON.stringify(recipeFile, null, 2) + '\n');
    if (layout) {
      for (const s of layout.side) out.write(s.name, s.bytes);
      const dtype = transformersJsDtypeOf(search.chosen.recipe.steps);
      const config = {
        tool: 'inferopt optimize',
        source: [modelFile],
        target: o.target,
        dtypes: [dtype],
        files: [{ file: modelName, dtype, how: `the model \`inferopt optimize\` chose: ${search.chosen.label}`, recipe: search.chosen.recipe, bytes: modelSizeOnDisk(out.path(modelName)) }],
        note: `transformers.js runs the file with its own session options: the search's session settings (${search.chosen.recipe.session.threads} thread(s), ORT level ${search.chosen.recipe.session.optLevel}) are not part of it`,
      };
      out.write('quantize_config.json', JSON.stringify(config, null, 2) + '\n');
    }
    out.write('results.json', JSON.stringify(results, null, 1) + '\n');
    out.write('report.md', markdownReport(results));
    out.write('report.html', await htmlReport(results));
    out.commit();
    return { results, outDir: o.outDir, modelPath: path.join(o.outDir, modelName) };
  } catch (e) {
    // Redis lost mid-run: what was measured is kept, here and (when it comes back) in Redis for --resume
    if (e instanceof RedisError && journal.length) {
      out.write(PARTIAL, JSON.stringify({ format: 'inferopt-partial-results', version: 1, error: e.message, measurements: journal }, null, 1) + '\n');
      out.commit();
      throw new RedisError(`${e.message}; the ${journal.length} measurement${journal.length === 1 ? '' : 's'} made so far are in ${path.join(o.outDir, PARTIAL)}: rerun with --resume when Redis is back`);
    }
    out.abandon();
    throw e;
  } finally {
    await cluster?.close();
  }
}

/** Input sets optimize times on at most (search/workload.ts draws 8), each written for the reproduce command. */
const MAX_TIMED_SETS = 8;

/** Other processes' share of the cores above which the headline timing is flagged as taken on a busy machine. */
const BUSY_SHARE = 0.15;

/**
 * The warning for a headline timed while other processes wanted the cores. Measured (Fashion-MNIST ResNet,
 * 2 threads vs 1, 0.1–0.2 ms per run): optimize under a loaded 2-core machine reported 2.04×, while on the
 * quiet machine optimize gave 1.78–1.79× and its bench --compare command 1.73–1.76×.
 */
export function busyWarning(o: OtherCpu, baseThreads: number, chosenThreads: number): string {
  const threads = baseThreads !== chosenThreads ? ` — most of all between sessions with different thread counts (${baseThreads} vs ${chosenThreads} here): a sleeping pool thread waits for a free core` : '';
  return `while the headline speed-up was timed, other processes took ${(100 * o.share).toFixed(0)}% of this machine's ${o.cores} cores: a busy machine shifts latency ratios${threads}; run the reproduce command on a quiet machine before relying on the figure`;
}

/** A recipe step that reads training data: QAT always, a prune step when it fine-tunes. */
function trainsOn(catalog: readonly CatalogEntry[], step: { pass: string; params: Record<string, unknown> }): boolean {
  const e = catalog.find((c) => c.pass.id === step.pass);
  return !!e?.needs?.includes('training') || (!!e?.uses?.includes('training') && Number(step.params.steps ?? 0) > 0);
}

/** Written when Redis is lost mid-run (optimize --workers): the measurements received until then. */
const PARTIAL = 'partial-results.json';

/** The metric candidates are scored by: on the data, else fidelity to the baseline (workers build the same one). */
export async function metricSourceFor(baseModel: Model, o: { data?: string; metric?: string; limit?: number; input: InputSpec }): Promise<MetricSource> {
  return o.data
    ? dataMetric(baseModel, o.data, { ...(o.metric ? { metric: o.metric } : {}), ...(o.limit ? { limit: o.limit } : {}) })
    : fidelityMetric(baseModel, { input: o.input, ...(o.limit ? { samples: o.limit } : {}), ...(o.metric ? { metric: o.metric } : {}) });
}

/**
 * A recipe to re-run: its steps must satisfy their passes' declared parameters, and the model it records must
 * be this one (same sha256) unless the caller allows another — before any folder is made.
 */
function checkRecipeFor(recipe: RecipeFile, modelFile: string, catalog: readonly CatalogEntry[], allowOtherModel: boolean): void {
  checkRecipeSteps(recipe.recipe, catalog);
  if (!recipe.model || allowOtherModel) return;
  const actual = sha256File(modelFile);
  if (actual !== recipe.model.sha256) {
    throw new InputError(
      `the recipe was made for ${JSON.stringify(recipe.model.file)} (sha256 ${recipe.model.sha256.slice(0, 12)}…), not this model (sha256 ${actual.slice(0, 12)}…); pass --other-model to apply it anyway`,
    );
  }
}

/** The training samples, loaded once when a QAT step first needs them; every 10th is held out. */
function trainingData(model: Model, spec: string, limit?: number): () => Promise<{ train: TensorData; test: TensorData }> {
  return async () => {
    const ds = await openDataset(spec, limit ? { limit } : {});
    const [train, test] = holdOut(await collectTensorData(ds, runtimeInputs(model).map((v) => v.name)), 10);
    return { train, test };
  };
}

/** Time per op type from ORT's profiler, for pruning the search and the before/after chart. */
async function opTypeTimes(model: Model, workload: Workload, threads: number, recipe?: Recipe): Promise<OpTypeTime[]> {
  // always the native backend: onnxruntime-web has no profile file; op-type shares are close enough to prune by
  const p = await profileModel(model, workload.feeds[0]!, {
    backend: 'node',
    threads,
    dims: workload.dims,
    runs: 15,
    warmup: 3,
    ...(recipe ? { optLevel: recipe.session.optLevel, executionMode: recipe.session.executionMode } : {}),
  });
  return aggregateKernels(p.kernels, p.runsUs, 'median').byOpType;
}

/**
 * The `inferopt bench --compare` command that times baseline and chosen as the final side-by-side run did:
 * every timed input set from the data (`files`: TensorProto files by input name, one per set, fed in turn
 * in the same order) or the workload's (most common) shapes, each model's own session settings, the --input
 * values given.
 */
export function benchCommand(modelFile: string, chosenFile: string, workload: Workload, base: Recipe, chosen: Recipe, input: InputSpec, backend: Backend, files: Record<string, string[]> = {}, runs?: number): string {
  const q = (s: string) => (/^[\w./=:,+@-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);
  const args = ['inferopt', 'bench', q(modelFile), '--compare', q(chosenFile)];
  if (backend !== 'node') args.push('--backend', backend);
  const common = [...workload.shapes].sort((a, b) => b.count - a.count)[0];
  for (const s of common?.shapes.split(', ') ?? []) if (!s.endsWith('=scalar') && !files[s.slice(0, s.lastIndexOf('='))]) args.push('--shape', q(s));
  // set by set (the k-th file of each input is set k), so that a model with several inputs pairs them right
  const sets = Math.max(0, ...Object.values(files).map((fs) => fs.length));
  for (let k = 0; k < sets; k++) for (const [name, fs] of Object.entries(files)) if (fs[k]) args.push('--input', q(`${name}=${fs[k]}`));
  for (const [name, v] of Object.entries(input.values ?? {})) if (typeof v === 'number' && !files[name]) args.push('--input', q(`${name}=${v}`));
  const a = base.session;
  const b = chosen.session;
  args.push('--threads', String(a.threads));
  if (a.optLevel !== 'all') args.push('--opt-level', a.optLevel);
  if (a.executionMode !== 'sequential') args.push('--execution-mode', a.executionMode);
  if (b.threads !== a.threads) args.push('--compare-threads', String(b.threads));
  if (b.optLevel !== a.optLevel) args.push('--compare-opt-level', b.optLevel);
  if (b.executionMode !== a.executionMode) args.push('--compare-execution-mode', b.executionMode);
  if (runs !== undefined) args.push('--runs', String(runs));
  return args.join(' ');
}

function sha256File(file: string): string {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

/**
 * What `--layout transformers.js` takes from the input: the part it stands for (`model`, `encoder_model`, …)
 * and the config and tokenizer files of its Hugging Face folder (the file's folder, or the folder above an
 * `onnx/` folder), read now and recorded as inputs.
 */
function transformersJsSource(modelFile: string): { part: string; side: { name: string; bytes: Uint8Array }[] } {
  const dir = path.dirname(modelFile);
  const root = path.basename(dir) === 'onnx' ? path.dirname(dir) : dir;
  const side = HF_SIDE_FILES.map((name) => ({ name, file: path.join(root, name) }))
    .filter((s) => fs.existsSync(s.file) && fs.statSync(s.file).isFile())
    .map((s) => {
      markInput(s.file);
      return { name: s.name, bytes: fs.readFileSync(s.file) };
    });
  return { part: transformersJsPart(path.basename(modelFile)), side };
}
