import { InputError } from '../errors.js';
import type { Model } from '../ir/graph.js';
import { loadModel } from '../ir/io.js';
import type { Tensor } from '../ir/tensor.js';
import { randomInputs, resolveDims, type InputSpec } from '../runtime/inputs.js';
import { DEFAULT_BACKEND, Session, type Backend, type OptLevel } from '../runtime/session.js';
import { compareTensors, mergeDiff, type OutputDiff, type Tolerance } from './compare.js';

export interface VerifyOptions extends InputSpec {
  /** Number of random samples (ignored when `data` is given). Default 3. */
  samples?: number;
  /** Input sets to use instead of random inputs. */
  data?: readonly Record<string, Tensor>[];
  /** Absolute and relative tolerance: each element must satisfy |cand − ref| ≤ atol + rtol·|ref|. */
  atol?: number;
  rtol?: number;
  /** Minimum top-1 agreement for class-like outputs (default: not checked). */
  minTop1?: number;
  /** Integer inputs are drawn from 0..intRange-1 (token ids, indices). */
  intRange?: number;
  backend?: Backend;
  /** ORT's own graph optimizations; off by default so that the reference is the model as written. */
  refOptLevel?: OptLevel;
  candOptLevel?: OptLevel;
}

export interface VerifyReport {
  ok: boolean;
  samples: number;
  tolerance: Tolerance;
  outputs: (OutputDiff & { ok: boolean })[];
  /** One line per problem (outputs out of tolerance, missing outputs). */
  failures: string[];
}

type ModelSource = Model | string | Uint8Array;

const asModel = (m: ModelSource): Model => (typeof m === 'string' || m instanceof Uint8Array ? loadModel(m) : m);

/**
 * Runs the reference and the candidate on the same inputs (random and seeded, or given) and compares every
 * reference output. Used by every pass test and, with looser bounds, by quantization.
 */
export async function verifyModels(reference: ModelSource, candidate: ModelSource, opts: VerifyOptions = {}): Promise<VerifyReport> {
  const tol: Tolerance = { atol: opts.atol ?? 1e-4, rtol: opts.rtol ?? 1e-3 };
  const refModel = asModel(reference);
  const candModel = asModel(candidate);
  const spec: InputSpec = { shapes: opts.shapes, dims: opts.dims, values: opts.values };
  const dims = resolveDims(refModel, spec);
  const backend = opts.backend ?? DEFAULT_BACKEND;
  const ref = await Session.create(refModel, { backend, optLevel: opts.refOptLevel ?? 'disabled', dims });
  const cand = await Session.create(candModel, { backend, optLevel: opts.candOptLevel ?? 'disabled', dims: resolveDims(candModel, spec) });
  try {
    const sets = opts.data ?? Array.from({ length: opts.samples ?? 3 }, (_, i) => randomInputs(refModel, { ...spec, seed: (opts.seed ?? 0) + i }, opts.intRange));
    if (sets.length === 0) throw new InputError('verify: no input samples');
    const diffs = new Map<string, OutputDiff>();
    const failures: string[] = [];
    for (const feeds of sets) {
      const want = await ref.run(feeds);
      const candFeeds: Record<string, Tensor> = {};
      for (const name of cand.inputNames) {
        const t = feeds[name];
        if (!t) throw new InputError(`verify: the candidate needs input '${name}', which the reference does not have`);
        candFeeds[name] = t;
      }
      const got = await cand.run(candFeeds);
      for (const [name, r] of Object.entries(want)) {
        const c = got[name];
        if (!c) {
          if (!failures.some((f) => f.startsWith(`${name}:`))) failures.push(`${name}: missing from the candidate`);
          continue;
        }
        diffs.set(name, mergeDiff(diffs.get(name), compareTensors(name, r, c, tol)));
      }
    }
    const outputs = [...diffs.values()].map((d) => {
      const top1Ok = opts.minTop1 === undefined || d.top1 === undefined || d.top1 >= opts.minTop1;
      const ok = !d.problem && d.mismatches === 0 && top1Ok;
      if (d.problem) failures.push(`${d.name}: ${d.problem}`);
      else if (d.mismatches) failures.push(`${d.name}: ${d.mismatches} of ${d.count} elements outside tolerance (max abs ${fmt(d.maxAbs)}, max rel ${fmt(d.maxRel)})`);
      if (!top1Ok) failures.push(`${d.name}: top-1 agreement ${d.top1!.toFixed(4)} < ${opts.minTop1}`);
      return { ...d, ok };
    });
    return { ok: failures.length === 0, samples: sets.length, tolerance: tol, outputs, failures };
  } finally {
    await ref.release();
    await cand.release();
  }
}

function fmt(x: number): string {
  return Number.isFinite(x) ? x.toExponential(2) : String(x);
}
