import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { markInput } from '../util/files.js';
import { checkNesting } from '../util/limits.js';
import { InputError } from '../errors.js';
import { validateParams, type ParamConstraints } from '../util/validate.js';
import { Tensor } from '../ir/tensor.js';
import { checkImagePreprocess, imageToTensor, type ImagePreprocess } from './image.js';
import { mapOrdered, selectRecords, splitPart, type Selection } from './select.js';
import { inferSource, openSource, SOURCE_TYPES, type DataRole, type SourceSpec } from './sources/index.js';
import { TextInputEncoder, type TextPreprocess } from './text.js';
import type { Batch, Box, DataRecord, Dataset, Label, RecordSource, Sample } from './types.js';

/** What to score and how (read by `inferopt eval`; kept in the dataset spec so one file says it all). */
export interface EvalSpec {
  task?: 'classification' | 'ctc' | 'det-map' | 'tensors' | 'fidelity';
  /** Model output to score (default: the first). */
  output?: string;
  /** CTC: character list file (one per line, PaddleOCR's ppocr_keys_v1.txt layout). */
  keys?: string;
  /** det-map: probability threshold (default 0.3, PaddleOCR's). */
  threshold?: number;
  /** det-map: shrink true boxes like DB targets (PaddleOCR 0.4). */
  shrinkRatio?: number;
  /** ctc: drop all spaces before comparing. */
  ignoreSpaces?: boolean;
  metrics?: string[];
}

/**
 * A dataset as data: where records come from, how they become inputs, which of them to use, and what to
 * score. Saved as JSON (`dataset.json`, or any name passed to --data); relative paths are relative to it.
 */
export interface DatasetSpec extends Selection {
  source: SourceSpec;
  image?: ImagePreprocess;
  text?: TextPreprocess;
  /** Model input that receives the image tensor (default: the model's only input). */
  input?: string;
  eval?: EvalSpec;
}

/** Spec files looked for inside a dataset folder, in order. */
const SPEC_FILES = ['dataset.json', 'dataset.yaml', 'dataset.yml'];
const isSpecFile = (p: string) => /\.(json|ya?ml)$/i.test(p);

function rebase(spec: DatasetSpec, dir: string): DatasetSpec {
  const abs = (p: string) => (isAbsolute(p) ? p : join(dir, p));
  const out: DatasetSpec = { ...spec, source: { ...spec.source } };
  if (out.source.path) out.source.path = abs(out.source.path);
  if (out.source.labels) out.source.labels = abs(out.source.labels);
  if (out.text && out.text.tokenizer !== 'bert-base-uncased') out.text = { ...out.text, tokenizer: abs(out.text.tokenizer) };
  if (out.eval?.keys) out.eval = { ...out.eval, keys: abs(out.eval.keys) };
  return out;
}

/** The keys of each section of a dataset spec, declared once: every spec is checked against them (one line, exit 2). */
const SPEC_KEYS: Record<string, ParamConstraints> = {
  source: { type: 'object' },
  image: { type: 'object' },
  text: { type: 'object' },
  eval: { type: 'object' },
  input: { type: 'string' },
  limit: { type: 'integer', min: 1 },
  shuffleSeed: { type: 'integer' },
  shuffleBuffer: { type: 'integer', min: 1, max: 1 << 20 },
  part: { type: 'string', choices: ['calibration', 'evaluation'] },
  calibrationFraction: { type: 'number', min: 0, max: 1 },
  splitSeed: { type: 'integer' },
};
const SOURCE_KEYS: Record<string, ParamConstraints> = {
  type: { type: 'string', choices: SOURCE_TYPES },
  path: { type: 'string' },
  labels: { type: 'string' },
  classes: { type: 'string[]' },
  bodyOnly: { type: 'boolean' },
};
const TEXT_KEYS: Record<string, ParamConstraints> = {
  tokenizer: { type: 'string' },
  maxLength: { type: 'integer', min: 1, max: 1 << 16 },
  lowercase: { type: 'boolean' },
  names: { type: 'object' },
  dtype: { type: 'string', choices: ['int64', 'int32'] },
};
const EVAL_KEYS: Record<string, ParamConstraints> = {
  task: { type: 'string', choices: ['classification', 'ctc', 'det-map', 'tensors', 'fidelity'] },
  output: { type: 'string' },
  keys: { type: 'string' },
  threshold: { type: 'number', min: 0, max: 1 },
  shrinkRatio: { type: 'number', min: 0, max: 1 },
  ignoreSpaces: { type: 'boolean' },
  metrics: { type: 'string[]' },
};

function checkSection(v: unknown, keys: Record<string, ParamConstraints>, where: string): void {
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new InputError(`${where}: must be an object`);
  validateParams(keys, v, { source: where, noun: 'key', serialized: false });
}

/** Checks a dataset spec against its declared keys (types, ranges, choices): bad values are one InputError line. */
function checkSpec(v: unknown, where: string): DatasetSpec {
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new InputError(`${where}: a dataset spec is a JSON object`);
  const s = v as DatasetSpec;
  if (!s.source || typeof s.source !== 'object' || typeof s.source.type !== 'string') {
    throw new InputError(`${where}: 'source' with a 'type' is required`);
  }
  checkSection(s, SPEC_KEYS, where);
  checkSection(s.source, SOURCE_KEYS, `${where}: source`);
  if (s.source.path === '') throw new InputError(`${where}: source.path is empty`);
  if (s.image) checkImagePreprocess(s.image, `${where}: image`);
  if (s.text !== undefined) {
    checkSection(s.text, TEXT_KEYS, `${where}: text`);
    if (typeof s.text.tokenizer !== 'string') throw new InputError(`${where}: text.tokenizer is required`);
    if (s.text.names !== undefined) checkSection(s.text.names, { ids: { type: 'string' }, mask: { type: 'string', nullable: true }, types: { type: 'string', nullable: true } }, `${where}: text.names`);
  }
  if (s.eval !== undefined) checkSection(s.eval, EVAL_KEYS, `${where}: eval`);
  return s;
}

/**
 * A dataset spec from a spec object, a JSON spec file, a folder (with a dataset.json, or laid out as image
 * classes or ONNX test sets) or a data file (idx, .npy/.npz, JSONL/CSV lists).
 */
export async function loadDatasetSpec(pathOrSpec: string | DatasetSpec, role: DataRole = 'evaluation'): Promise<DatasetSpec> {
  if (typeof pathOrSpec !== 'string') return checkSpec(pathOrSpec, 'dataset spec');
  const path = resolve(pathOrSpec);
  if (!existsSync(path)) throw new InputError(`data not found: ${pathOrSpec}`);
  const specFile = statSync(path).isDirectory()
    ? SPEC_FILES.map((f) => join(path, f)).find((f) => existsSync(f))
    : isSpecFile(path)
      ? path
      : undefined;
  if (specFile) {
    markInput(specFile);
    const yaml = !specFile.toLowerCase().endsWith('.json');
    let v: unknown;
    try {
      const text = readFileSync(specFile, 'utf8');
      v = yaml ? parseYaml(text) : JSON.parse(text);
    } catch (e) {
      throw new InputError(`${specFile}: not valid ${yaml ? 'YAML' : 'JSON'} (${(e as Error).message.split('\n')[0]})`);
    }
    checkNesting(v, specFile);
    return rebase(checkSpec(v, specFile), dirname(specFile));
  }
  return { source: await inferSource(path, role) };
}

/** Turns records into samples: decodes and preprocesses images, tokenizes texts, passes tensors through. */
function sampleMaker(spec: DatasetSpec): (r: DataRecord) => Promise<Sample> {
  let text: TextInputEncoder | undefined;
  return async (r) => {
    const inputs: Record<string, Tensor> = {};
    let label: Label | undefined = r.label;
    const meta: Record<string, unknown> = { ...r.meta };
    if (r.image !== undefined) {
      const { tensor, transform } = await imageToTensor(r.image, spec.image ?? {}, spec.input ?? '');
      inputs[spec.input ?? ''] = tensor;
      meta.transform = transform;
      if (label && typeof label === 'object' && 'boxes' in label) {
        const boxes = label.boxes as Box[];
        label = {
          boxes: boxes.map(([x0, y0, x1, y1]): Box => [
            x0 * transform.scaleX + transform.offsetX,
            y0 * transform.scaleY + transform.offsetY,
            x1 * transform.scaleX + transform.offsetX,
            y1 * transform.scaleY + transform.offsetY,
          ]),
        };
      }
    }
    if (r.text !== undefined) {
      if (!spec.text) throw new InputError(`${r.id}: text data needs a 'text' section (tokenizer) in the dataset spec`);
      text ??= new TextInputEncoder(spec.text);
      Object.assign(inputs, text.encode(r.text, r.textPair));
    }
    if (r.tensors) Object.assign(inputs, r.tensors);
    const s: Sample = { id: r.id, inputs, meta };
    if (label !== undefined) s.label = label;
    return s;
  };
}

class SpecDataset implements Dataset {
  constructor(
    readonly spec: DatasetSpec,
    private readonly source: RecordSource,
  ) {}

  get description(): string {
    return this.source.description;
  }

  get classes(): readonly string[] | undefined {
    return this.spec.source.classes ?? this.source.classes;
  }

  /** Number of samples when known without reading them (an indexed source, no split), else the limit if any. */
  get size(): number | undefined {
    const known = this.source.indexed && !this.spec.part ? this.source.indexed.length : undefined;
    const lim = this.spec.limit;
    return known === undefined ? lim : Math.min(known, lim ?? Infinity);
  }

  /** Records decoded ahead of use (a few, so memory stays bounded). */
  static readonly PREFETCH = 4;

  [Symbol.asyncIterator](): AsyncIterator<Sample> {
    return mapOrdered(selectRecords(this.source, this.spec), sampleMaker(this.spec), SpecDataset.PREFETCH)[Symbol.asyncIterator]();
  }

  /** The same data with another selection (limit, shuffle, split side). */
  with(sel: Selection): SpecDataset {
    return new SpecDataset({ ...this.spec, ...sel }, this.source);
  }
}

/** Opens a dataset from a spec, a spec file, a folder or a data file. Nothing is decoded until iterated. */
export async function openDataset(pathOrSpec: string | DatasetSpec, overrides: Selection & { image?: ImagePreprocess; role?: DataRole } = {}): Promise<Dataset & { spec: DatasetSpec }> {
  const { role, ...selection } = overrides;
  const spec = await loadDatasetSpec(pathOrSpec, role);
  const merged: DatasetSpec = { ...spec, ...selection, image: overrides.image ?? spec.image };
  markSpecFiles(merged);
  return new SpecDataset(merged, await openSource(merged.source));
}

/**
 * Records every file a dataset spec names as an input of this run (no output may be written over one): the
 * data file, labels, tokenizer, keys. The sources record the files they list (each image of a folder or list,
 * each tensor file of a test set), and `imageToTensor` every image it reads.
 */
function markSpecFiles(spec: DatasetSpec): void {
  const files = [spec.source.path, spec.source.labels, spec.eval?.keys, spec.text?.tokenizer !== 'bert-base-uncased' ? spec.text?.tokenizer : undefined];
  for (const f of files) if (f) markInput(f);
}

/** Limits a dataset to its first `n` samples (after its own shuffle and split). */
export function limit(ds: Dataset, n: number): Dataset {
  if (ds instanceof SpecDataset) return ds.with({ limit: Math.min(n, ds.spec.limit ?? Infinity) });
  return {
    description: ds.description,
    classes: ds.classes,
    async *[Symbol.asyncIterator]() {
      if (n <= 0) return;
      let i = 0;
      for await (const s of ds) {
        yield s;
        if (++i >= n) return;
      }
    },
  };
}

/**
 * Splits a dataset into calibration and evaluation parts by a hash of each sample id: the parts never
 * overlap, and the assignment does not depend on order, shuffle or limit. Spec datasets split their records
 * (nothing is decoded for the other side).
 */
export function split(ds: Dataset, opts: { calibrationFraction?: number; seed?: number } = {}): { calibration: Dataset; evaluation: Dataset } {
  const fraction = opts.calibrationFraction ?? 0.1;
  // A spec that already names a part (a held-out split the user chose, e.g. models/spam-bert/test.json) is split
  // within that part, with another hash seed (the same one puts every sample on one side). Re-splitting its
  // source instead scored `optimize --data test.json` on the training emails.
  const within = ds instanceof SpecDataset && ds.spec.part !== undefined;
  const seed = (opts.seed ?? 0) + (within ? 0x5bd1e995 : 0);
  if (ds instanceof SpecDataset && !within) {
    const side = (part: 'calibration' | 'evaluation') => ds.with({ part, calibrationFraction: fraction, splitSeed: seed });
    return { calibration: side('calibration'), evaluation: side('evaluation') };
  }
  const side = (part: 'calibration' | 'evaluation'): Dataset => ({
    description: `${ds.description} (${part})`,
    classes: ds.classes,
    async *[Symbol.asyncIterator]() {
      for await (const s of ds) if (splitPart(s.id, fraction, seed) === part) yield s;
    },
  });
  return { calibration: side('calibration'), evaluation: side('evaluation') };
}

/** Stacks samples along axis 0. Every sample must have the same input names, dtypes and non-batch dims. */
export function stack(samples: readonly Sample[]): Batch {
  const first = samples[0]!;
  const inputs: Record<string, Tensor> = {};
  for (const [name, t0] of Object.entries(first.inputs)) {
    const parts = samples.map((s) => {
      const t = s.inputs[name];
      if (!t) throw new InputError(`sample ${s.id} has no input '${name}'`);
      if (t.dtype !== t0.dtype || t.dims.length !== t0.dims.length || t.dims.some((d, i) => i > 0 && d !== t0.dims[i])) {
        throw new InputError(
          `samples ${first.id} and ${s.id} differ in shape for '${name}' ([${t0.dims}] vs [${t.dims}]): use --batch 1 or a fixed image size`,
        );
      }
      return t;
    });
    if (parts.length === 1) {
      inputs[name] = t0;
      continue;
    }
    const bytes = new Uint8Array(parts.reduce((n, t) => n + t.bytes.length, 0));
    let at = 0;
    for (const t of parts) {
      bytes.set(t.bytes, at);
      at += t.bytes.length;
    }
    const dims = [parts.reduce((n, t) => n + (t.dims[0] ?? 1), 0), ...t0.dims.slice(1)];
    inputs[name] = new Tensor(t0.dtype, dims, bytes, name);
  }
  return { ids: samples.map((s) => s.id), inputs, labels: samples.map((s) => s.label), metas: samples.map((s) => s.meta) };
}

/** Batches of up to `size` samples. Samples whose inputs are already whole feeds (ONNX test sets) go alone. */
export async function* batches(ds: AsyncIterable<Sample>, size: number): AsyncIterable<Batch> {
  if (!(size >= 1)) throw new InputError(`batch size must be at least 1 (got ${size})`);
  let buf: Sample[] = [];
  for await (const s of ds) {
    if (s.meta?.batched) {
      if (buf.length) yield stack(buf);
      buf = [];
      yield stack([s]);
      continue;
    }
    buf.push(s);
    if (buf.length >= size) {
      yield stack(buf);
      buf = [];
    }
  }
  if (buf.length) yield stack(buf);
}

/**
 * Renames unnamed inputs ('' from images and .npy, '#N' from unnamed test-set tensors) to the model's input
 * names; checks every model input is fed. `modelInputs` are the names in order.
 */
export function bindInputs(inputs: Record<string, Tensor>, modelInputs: readonly string[]): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const [name, t] of Object.entries(inputs)) {
    let target = name;
    if (name === '') {
      const free = modelInputs.filter((n) => !(n in inputs));
      if (free.length !== 1) throw new InputError(`cannot tell which model input gets the data (inputs: ${modelInputs.join(', ')}); set "input" in the dataset spec`);
      target = free[0]!;
    } else if (/^#\d+$/.test(name)) {
      target = modelInputs[Number(name.slice(1))] ?? name;
    }
    if (!modelInputs.includes(target)) throw new InputError(`the data has an input '${target}' that the model does not have (inputs: ${modelInputs.join(', ')})`);
    out[target] = target === t.name ? t : new Tensor(t.dtype, t.dims, t.bytes, target, t.strings);
  }
  for (const n of modelInputs) if (!(n in out)) throw new InputError(`the data does not feed model input '${n}'`);
  return out;
}

/** Model feeds from a dataset, in batches: the calibration source for quantization. */
export async function* feeds(ds: AsyncIterable<Sample>, opts: { batch?: number; inputNames?: readonly string[] } = {}): AsyncIterable<Record<string, Tensor>> {
  for await (const b of batches(ds, opts.batch ?? 1)) yield opts.inputNames ? bindInputs(b.inputs, opts.inputNames) : b.inputs;
}
