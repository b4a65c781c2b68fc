import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { InputError } from '../errors.js';
import { listFrames } from '../pipeline/frames.js';
import { runPaired, runSegments, type PipelineRemote, type Segment } from '../pipeline/optimize.js';
import { loadFrameSet, type FrameSet, type PipelineRun } from '../pipeline/run.js';
import { resolveSpecPath, validateSpec, type PipelineSpec } from '../pipeline/spec.js';
import { workersSection } from '../report/html.js';
import { Cluster, RunRefusal, timeQueue } from './cluster.js';
import { searchScope, summarize, timingClass, type DistributedSummary } from './coordinator.js';
import { describeFingerprint } from './fingerprint.js';
import { STORE_REF, type JobData } from './protocol.js';
import { stableJson } from '../search/recipe.js';
import { sha256 } from './store.js';
import type { BlobCache } from './store.js';

/**
 * `pipeline optimize --workers`: the search (src/pipeline) keeps every decision; each of its runs — a
 * candidate beside the current best, the final baseline beside the optimized spec — is one job on one worker
 * of the timing class, so the two specs it compares were timed on the same machine. Models and character
 * lists travel through the content-addressed store; the frames are read by each worker at the same path
 * (checked by their content key).
 */

/** Content key of a frame folder: its image files' names and bytes, and truth.jsonl. */
export function framesContentKey(dir: string): string {
  const { files } = listFrames(dir);
  const h = crypto.createHash('sha256');
  for (const f of [...files, ...(fs.existsSync(path.join(dir, 'truth.jsonl')) ? [path.join(dir, 'truth.jsonl')] : [])]) {
    h.update(path.basename(f) + '\0');
    h.update(fs.readFileSync(f));
    h.update('\0');
  }
  return h.digest('hex');
}

/** What the coordinator needs besides the search: the hook, and the per-worker summary for the outputs. */
export async function remotePipeline(
  cluster: Cluster,
  x: {
    framesDir: string;
    timingClass?: string;
    /** The search as given (its spec and settings): what makes two runs the same search, for --resume. */
    search: { spec: PipelineSpec; settings: unknown };
    /** Pick up the last search with the same inputs: jobs it ran (or left running) are not run again. */
    resume?: boolean;
    log: (line: string) => void;
    progress?: (line: string) => void;
  },
): Promise<PipelineRemote & { summary(): { results: DistributedSummary; section: { title: string; html: string } } }> {
  const workers = await cluster.workers();
  if (workers.length === 0) throw new InputError(`no worker is connected to ${cluster.target.display}: start one with \`inferopt worker --redis <url>\``);
  const cls = timingClass(workers, 'node', x.timingClass);
  const timers = workers.filter((w) => w.class === cls);
  x.log(`workers: ${workers.length} on ${cluster.target.display}; pipelines run on class ${cls} (${timers.map((w) => w.name).join(', ')}: ${describeFingerprint(timers[0]!.fingerprint)}), each candidate beside the current best on one worker`);
  for (const w of workers.filter((w) => w.class !== cls)) x.log(`worker ${w.name} is of another hardware class (${w.class}): it runs no pipeline of this search`);
  if (x.progress) cluster.onProgress = () => x.progress!(cluster.progressLine());
  const framesKey = framesContentKey(x.framesDir);
  // files put in the store, by path (with size and mtime: a staged model rewritten is put again)
  const stored = new Map<string, string>();
  const ref = async (file: string) => {
    const st = fs.statSync(file);
    const k = `${file}\0${st.size}\0${st.mtimeMs}`;
    let h = stored.get(k);
    if (!h) {
      h = await cluster.put(new Uint8Array(fs.readFileSync(file)));
      stored.set(k, h);
    }
    return `sha256:${h}`;
  };
  const portable = async (spec: PipelineSpec): Promise<Record<string, unknown>> => {
    const c = JSON.parse(JSON.stringify({ ...spec, baseDir: undefined })) as PipelineSpec;
    for (const st of c.stages) {
      if (st.type !== 'model') continue;
      st.model = await ref(resolveSpecPath(spec, st.model));
      if (st.post.op === 'ctc') st.post.keys = await ref(resolveSpecPath(spec, st.post.keys));
    }
    return c as unknown as Record<string, unknown>;
  };
  // the search's id in Redis (fresh, or the last one for these inputs with --resume); a job's id is the id, the
  // job's place in the search and its content: a resumed search that takes the same steps finds each step's
  // result (or its job still running), and a step that went otherwise is a new job
  const inputs = { spec: await portable(x.search.spec), frames: framesKey, settings: x.search.settings, timingClass: cls };
  const scope = await searchScope(cluster, `pipeline:${sha256(new TextEncoder().encode(stableJson(inputs)))}`, x.resume === true);
  if (x.resume) x.log(`resuming the last search with these inputs on ${cluster.target.display}`);
  let calls = 0;
  const summary = (): DistributedSummary => {
    const { shards: _shards, ...s } = summarize(cluster, workers, 1, cls);
    return { ...s, pipelines: true };
  };
  return {
    async run(specs, segments, budgetMs) {
      const data: JobData = { kind: 'pipeline', specs: await Promise.all(specs.map(portable)), frames: path.resolve(x.framesDir), framesKey, segments: segments.map((s) => [s.first, s.frames.length, s.leadIn.length]), budgetMs };
      // a fresh job each call: the same pair asked for again (the second pass) is timed again, as it is locally
      const r = await cluster.run<Omit<PipelineRun, 'spec'>[]>(timeQueue(cls), data, Cluster.jobId(`${scope}:${++calls}`, data));
      if (!Array.isArray(r.value) || r.value.length !== specs.length) throw new Error(`worker ${r.worker} returned ${Array.isArray(r.value) ? r.value.length : 'no'} runs for ${specs.length} specs`);
      return r.value.map((run, i) => ({ ...run, spec: specs[i]! }));
    },
    summary() {
      const s = summary();
      return { results: s, section: { title: 'Workers', html: workersSection(s, false) } };
    },
  };
}

/** The worker's side: the frames (checked against the coordinator's), the specs with store files, the runs. */
export function pipelineJobRunner(o: { blobs: BlobCache; checkData: (p: string) => string; worker: string }) {
  let frames: { key: string; set: Promise<FrameSet> } | undefined;
  const framesOf = (dir: string, key: string) => {
    const real = o.checkData(dir);
    if (frames?.key !== `${real}\0${key}`) {
      // the frames are the whole run's: what is wrong with them is refused for the run
      const set = (async () => {
        try {
          const actual = framesContentKey(real);
          if (actual !== key) throw new RunRefusal(`worker ${o.worker} reads other frames at ${dir} than the coordinator (content ${actual.slice(0, 12)}… vs ${key.slice(0, 12)}…): it needs the same files at the same path`);
          return await loadFrameSet(real);
        } catch (e) {
          throw e instanceof InputError && !(e instanceof RunRefusal) ? new RunRefusal(e.message) : e;
        }
      })();
      frames = { key: `${real}\0${key}`, set };
      set.catch(() => (frames = undefined));
    }
    return frames.set;
  };
  const fromStore = async (r: string) => o.blobs.file(STORE_REF.exec(r)![1]!);
  return async (job: Extract<JobData, { kind: 'pipeline' }>): Promise<Omit<PipelineRun, 'spec'>[]> => {
    const set = await framesOf(job.frames, job.framesKey);
    const segments: Segment[] = job.segments.map(([first, n, lead = 0]) => {
      if (first + n > set.frames.length || lead > first) throw new RunRefusal(`frames ${first - lead}..${first + n - 1} asked for; ${job.frames} has ${set.frames.length}`);
      return { dir: set.dir, first, leadIn: set.frames.slice(first - lead, first), frames: set.frames.slice(first, first + n), ...(set.truth ? { truth: set.truth.slice(first, first + n) } : {}) };
    });
    const specs: PipelineSpec[] = [];
    for (const raw of job.specs) {
      const c = JSON.parse(JSON.stringify(raw)) as PipelineSpec;
      for (const st of c.stages ?? []) {
        if (st?.type !== 'model') continue;
        st.model = await fromStore(st.model);
        if (st.post?.op === 'ctc' && typeof st.post.keys === 'string') st.post.keys = await fromStore(st.post.keys);
      }
      specs.push(validateSpec(c, 'the job\'s pipeline spec', o.blobs.dir));
    }
    // two specs: side by side, as the search runs them locally (runPaired)
    const runs = specs.length === 2 ? await runPaired(specs[0]!, specs[1]!, segments, job.budgetMs) : [await runSegments(specs[0]!, segments, job.budgetMs)];
    return runs.map(({ spec: _spec, ...run }) => run);
  };
}
