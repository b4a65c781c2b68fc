/**
 * Nothing written is unproven: a model is staged beside its target, loaded from there by ONNX Runtime and
 * run once, and only then renamed into place. A model that does not load or run is never left at the target.
 */
import { InferoptError, InputError } from '../errors.js';
import type { Model } from '../ir/graph.js';
import { loadModel, stageModel, type SaveOptions, type StagedModel } from '../ir/io.js';
import { Tensor } from '../ir/tensor.js';
import { randomInputs, type InputSpec } from './inputs.js';
import { ortReason, Session, wasmThreads, type Backend } from './session.js';
import { countKernels, withOptimizedModelFile, type KernelCount } from './kernels.js';

export interface ProveOptions {
  /** Runtime the model must run in (default: node). */
  backend?: Backend;
  /** Shapes, dims, values and seed of the generated inputs. */
  input?: InputSpec;
  /** The inputs to run on (instead of generated ones), e.g. a batch of the user's data. */
  feeds?: Record<string, Tensor>;
  /**
   * The model the written one was made from (path or model). When the generated inputs fail on it too, the
   * failure says nothing about the written model: it is checked to load, and the proof's note says so.
   */
  reference?: string | Model;
  /**
   * Also count the kernels ONNX Runtime runs for the model (node backend), from the proof's own session: it
   * is created as `ortKernels` creates one (one thread, level "all") and writes its optimized graph, so the
   * model is not loaded a second time for the count. That session packs no weights (ORT would hold them
   * twice while it writes the graph: its peak with a 110 MB int8 BERT was 80 MB higher); the kernels and
   * their results are the same.
   */
  kernels?: boolean;
}

export interface Proof {
  /** Whether the model ran once (false: it loaded, and the note says why it was not run). */
  ran: boolean;
  /** Shapes of the inputs it ran on. */
  shapes: Record<string, number[]>;
  note?: string;
  /** The kernels ORT runs for the model, when asked (`kernels`, node backend). */
  kernels?: KernelCount;
}

/** A model inferopt made does not load or run: a bug to report, not bad input (exit 1). */
export class ProofError extends InferoptError {}

const firstLine = (e: unknown) => (e instanceof Error ? e.message : String(e)).split('\n')[0]!;
const describe = (shapes: Record<string, number[]>) =>
  Object.entries(shapes)
    .map(([k, v]) => `${k}=${v.length ? v.join('x') : 'scalar'}`)
    .join(', ');

/**
 * Loads `file` (the staged model) in ONNX Runtime and runs it once on generated inputs for `model` (its
 * in-memory form, for the input declarations).
 */
export async function proveModelFile(file: string, model: Model, opts: ProveOptions = {}): Promise<Proof> {
  const backend = opts.backend ?? 'node';
  if (opts.kernels && backend === 'node') {
    return withOptimizedModelFile(async (optimized) => {
      const proof = await proveWith(file, model, opts, backend, optimized);
      return { ...proof, kernels: countKernels(optimized) };
    });
  }
  return proveWith(file, model, opts, backend);
}

async function proveWith(file: string, model: Model, opts: ProveOptions, backend: Backend, optimizedModelPath?: string): Promise<Proof> {
  let session: Session;
  try {
    session = await Session.create(file, { backend, threads: threadsFor(backend), ...(optimizedModelPath ? { optimizedModelPath, optimizedModelExternalData: true, optLevel: 'all' as const, prepacking: false } : {}) });
  } catch (e) {
    const why = ortReason(e);
    // an input ONNX Runtime cannot load either is bad input (exit 2), not a bug in what inferopt made
    const refWhy = opts.reference !== undefined ? await referenceLoadFails(opts.reference, backend) : undefined;
    if (refWhy !== undefined) {
      throw new InputError(`${typeof opts.reference === 'string' ? opts.reference : 'the input model'}: ONNX Runtime (${backend}) cannot load it (${refWhy}), nor the model made from it; nothing was written`);
    }
    throw new ProofError(`the model inferopt made does not load in ONNX Runtime (${backend}): ${why}`);
  }
  try {
    let feeds = opts.feeds;
    try {
      feeds ??= randomInputs(model, opts.input ?? {});
    } catch (e) {
      if (!(e instanceof InputError)) throw e;
      return { ran: false, shapes: {}, note: `loaded in ONNX Runtime but not run: ${firstLine(e)}` };
    }
    const shapes = Object.fromEntries(Object.entries(feeds).map(([k, t]) => [k, [...t.dims]]));
    try {
      await session.run(feeds);
      return { ran: true, shapes };
    } catch (e) {
      const why = ortReason(e);
      const refFails = opts.reference !== undefined ? await referenceFails(opts.reference, opts.feeds ?? opts.input ?? {}, backend) : undefined;
      if (refFails) {
        return {
          ran: false,
          shapes,
          note: `loaded in ONNX Runtime but not run: generated inputs (${describe(shapes)}) fail on the input model too (${refFails}); give real shapes or values to run it`,
        };
      }
      throw new ProofError(`the model inferopt made loads but fails to run in ONNX Runtime (${backend}) on inputs ${describe(shapes)}${opts.reference !== undefined ? ', on which the input model runs' : ''}: ${why}`);
    }
  } finally {
    await session.release();
  }
}

/** One thread on node; onnxruntime-web keeps the count its first session had (default 2). */
const threadsFor = (backend: Backend) => (backend === 'wasm' ? (wasmThreads() ?? 2) : 1);

/** Why ONNX Runtime cannot load the reference model, or undefined when it can. */
async function referenceLoadFails(reference: string | Model, backend: Backend): Promise<string | undefined> {
  try {
    const s = await Session.create(reference, { backend, threads: threadsFor(backend) });
    await s.release();
    return undefined;
  } catch (e) {
    return ortReason(e);
  }
}

/** Why the reference model fails on generated inputs, or undefined when it runs. */
async function referenceFails(reference: string | Model, input: InputSpec | Record<string, Tensor>, backend: Backend): Promise<string | undefined> {
  let s: Session | undefined;
  try {
    const feeds = Object.values(input).some((v) => v instanceof Tensor)
      ? (input as Record<string, Tensor>)
      : randomInputs(typeof reference === 'string' ? loadModel(reference, { markInput: false }) : reference, input as InputSpec);
    s = await Session.create(reference, { backend, threads: threadsFor(backend) });
    await s.run(feeds);
    return undefined;
  } catch (e) {
    return ortReason(e);
  } finally {
    await s?.release();
  }
}

/**
 * Saves a model like saveModel, but proves it first: staged beside `file`, loaded and run once by ONNX
 * Runtime, then renamed into place. On failure nothing is at `file` (an earlier file there is untouched).
 */
export async function saveModelProven(
  model: Model,
  file: string,
  opts: SaveOptions & ProveOptions = {},
): Promise<{ bytes: number; dataBytes: number; proof: Proof; file: string }> {
  const staged: StagedModel = stageModel(model, file, opts);
  try {
    // ORT writes its optimized graph as one protobuf file: a model with external data (big) is counted apart
    const proof = await proveModelFile(staged.path, model, { ...opts, kernels: opts.kernels && staged.dataBytes === 0 });
    staged.commit();
    return { bytes: staged.bytes, dataBytes: staged.dataBytes, proof, file: staged.file };
  } catch (e) {
    staged.abandon();
    throw e;
  }
}
