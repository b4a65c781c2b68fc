/**
 * Runs a model under ONNX Runtime's profiler and returns its per-kernel events. ORT writes the trace to
 * `<prefix>_YYYY-MM-DD_HH-MM-SS_mmm.json` and `endProfiling()` does not say where, so the profile goes in a
 * fresh temp folder and the one JSON file found there is read and removed.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { InputError } from '../errors.js';
import type { Model } from '../ir/graph.js';
import { loadModel } from '../ir/io.js';
import type { Tensor } from '../ir/tensor.js';
import { dropWarmup, parseOrtProfile, printedProfileEvents, standInNames, type OrtProfile } from './profile-trace.js';
import { Session, type SessionOptions } from './session.js';

export { parseOrtProfile, type KernelEvent, type OrtProfile } from './profile-trace.js';

export interface ProfileRunOptions extends Omit<SessionOptions, 'profilePrefix'> {
  /** Profiled runs after warm-up (default 10). */
  runs?: number;
  /** Unprofiled-in-aggregate warm-up runs (default 2); their events are dropped. */
  warmup?: number;
}

/** Runs `model` with the profiler on; warm-up runs are dropped from the result. */
export async function profileModel(model: Model | string, feeds: Record<string, Tensor>, opts: ProfileRunOptions = {}): Promise<OrtProfile> {
  const m = typeof model === 'string' ? loadModel(model) : model;
  if (opts.backend === 'wasm') return profilePrinted(m, feeds, opts);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'inferopt-profile-'));
  const runs = opts.runs ?? 10;
  const warmup = opts.warmup ?? 2;
  const restore = standInNames(m);
  try {
    const session = await Session.create(m, { ...opts, profilePrefix: path.join(dir, 'ort') });
    try {
      const run = session.prepareFeeds(feeds);
      for (let i = 0; i < warmup + runs; i++) await run();
      session.endProfiling();
    } finally {
      await session.release();
    }
    const file = fs.readdirSync(dir).find((f) => f.startsWith('ort_') && f.endsWith('.json'));
    if (!file) throw new Error(`ONNX Runtime wrote no profile file in ${dir}`);
    const profile = parseOrtProfile(JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')));
    return dropWarmup(restore.events(profile), warmup);
  } finally {
    restore.names();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** onnxruntime-web (no profile file): the events it prints, collected (see profile-trace). */
async function profilePrinted(m: Model, feeds: Record<string, Tensor>, opts: ProfileRunOptions): Promise<OrtProfile> {
  const runs = opts.runs ?? 10;
  const warmup = opts.warmup ?? 2;
  const restore = standInNames(m);
  try {
    const { runs: _r, warmup: _w, ...sessionOpts } = opts;
    const profile = parseOrtProfile(await printedProfileEvents(m, feeds, sessionOpts, runs, warmup));
    if (profile.kernels.length === 0) throw new Error('onnxruntime-web printed no profile events');
    return dropWarmup(restore.events(profile), warmup);
  } finally {
    restore.names();
  }
}
