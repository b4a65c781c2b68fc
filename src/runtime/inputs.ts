import { InputError } from '../errors.js';
import { decodeTensor } from '../ir/proto/decode.js';
import { readInputFile } from '../ir/io.js';
import { DataType, dtypeInfo, dtypeName } from '../ir/dtype.js';
import type { Model, Value } from '../ir/graph.js';
import { Tensor } from '../ir/tensor.js';
import type { Dim } from '../ir/types.js';
import { checkGeneratedSize } from '../util/limits.js';
import { gaussian, rng } from '../util/random.js';

// The seeded generators moved to src/util/random.ts; re-exported here for existing imports.
export { gaussian, rng } from '../util/random.js';

export interface InputSpec {
  /** Shapes by input name (override the model's), e.g. from `--shape x=1x3x224x224`. */
  shapes?: Record<string, number[]>;
  /** Values for symbolic dims (batch, seq…); unnamed symbolic dims default to 1. */
  dims?: Record<string, number>;
  seed?: number;
  /**
   * Values by input name, used instead of random data (`--input sr=16000`, `--input state=state.pb`): a number
   * fills the input's shape (a scalar input gets just it); a tensor is used as it is and fixes its dims.
   */
  values?: Record<string, InputValue>;
}

/** A value given for an input: one number (fills the shape) or a whole tensor. */
export type InputValue = number | Tensor;

/** Default sizes for common symbolic dimension names. */
const DEFAULT_DIMS: Record<string, number> = { seq: 128, sequence: 128, sequence_length: 128, seq_len: 128 };

/** Concrete shape for a model input: explicit shape, else declared dims with symbolic ones filled in. */
export function concreteShape(v: Value, spec: InputSpec = {}): number[] {
  const value = spec.values?.[v.name];
  const given = spec.shapes?.[v.name] ?? (typeof value === 'object' ? [...value.dims] : undefined);
  const declared = v.type?.kind === 'tensor' ? v.type.shape : undefined;
  if (given && declared && given.length !== declared.length) {
    throw new InputError(`--shape ${v.name}=${given.join('x')} has rank ${given.length}; the model declares [${declared.map((d) => d ?? '?').join(', ')}]`);
  }
  if (given) return given;
  if (v.type?.kind !== 'tensor') throw new InputError(`input '${v.name}' is not a tensor; inferopt cannot make data for it`);
  const shape = v.type.shape;
  if (!shape) throw new InputError(`input '${v.name}' has no declared shape; give one with --shape ${v.name}=…`);
  return shape.map((d: Dim) => {
    if (typeof d === 'number' && d > 0) return d;
    if (typeof d === 'string') return spec.dims?.[d] ?? DEFAULT_DIMS[d] ?? 1;
    return 1;
  });
}

/**
 * Symbolic dims of the inputs resolved to numbers, for fixing them in the model before a session: from
 * explicitly shaped inputs first (`--shape input_ids=4x32` fixes batch and seq for every input that shares
 * them), then `dims`, then defaults. An explicit shape that contradicts a `--dim` or another shape is an
 * InputError.
 */
export function resolveDims(model: Model, spec: InputSpec = {}): Record<string, number> {
  const out: Record<string, number> = {};
  const from: Record<string, string> = {};
  const declared = runtimeInputs(model).flatMap((v) => (v.type?.kind === 'tensor' && v.type.shape ? [{ v, shape: v.type.shape }] : []));
  for (const { v, shape } of declared) {
    const value = spec.values?.[v.name];
    const given = spec.shapes?.[v.name] ?? (typeof value === 'object' ? [...value.dims] : undefined);
    if (!given) continue;
    shape.forEach((d, i) => {
      if (typeof d !== 'string' || given[i] === undefined) return;
      const other = out[d] ?? spec.dims?.[d];
      if (other !== undefined && other !== given[i]) {
        const source = from[d] ?? `--dim ${d}=${other}`;
        throw new InputError(`${spec.shapes?.[v.name] ? '--shape' : '--input'} ${v.name}=${given.join('x')} gives '${d}' = ${given[i]}, but ${source} gives ${other}`);
      }
      out[d] = given[i]!;
      from[d] ??= `--shape ${v.name}=${given.join('x')}`;
    });
  }
  for (const { shape } of declared) {
    for (const d of shape) if (typeof d === 'string') out[d] ??= spec.dims?.[d] ?? DEFAULT_DIMS[d] ?? 1;
  }
  return out;
}

/** A dim of a model input that nothing sizes and that would silently become 1 (see `unsizedDims`). */
export interface UnsizedDim {
  input: string;
  axis: number;
  /** The symbolic name, or undefined for an unnamed dim. */
  dim?: string;
  /** The declared shape, for the message: `[N, 3, 48, W]`. */
  declared: string;
}

/**
 * Symbolic (or unnamed) dims outside the batch position (axis 0) that no `--shape`, `--dim` or known default
 * (`seq` → 128) sizes: timing a model with them set to 1 measures a workload nobody runs (a text recogniser
 * 48 pixels wide by 1, a detector on a 1×1 page).
 */
export function unsizedDims(model: Model, spec: InputSpec = {}): UnsizedDim[] {
  // an input is sized by its --shape or by a whole tensor given for it (--input state=state.pb)
  const sized = (v: Value) => spec.shapes?.[v.name] !== undefined || typeof spec.values?.[v.name] === 'object';
  const fromShapes = new Set<string>();
  for (const v of runtimeInputs(model)) {
    if (sized(v) && v.type?.kind === 'tensor' && v.type.shape) v.type.shape.forEach((d) => typeof d === 'string' && fromShapes.add(d));
  }
  const out: UnsizedDim[] = [];
  for (const v of runtimeInputs(model)) {
    if (sized(v) || v.type?.kind !== 'tensor' || !v.type.shape) continue;
    const shape = v.type.shape;
    const declared = `[${shape.map((d) => (typeof d === 'number' && d > 0 ? String(d) : typeof d === 'string' ? d : '?')).join(', ')}]`;
    shape.forEach((d, axis) => {
      if (axis === 0 || (typeof d === 'number' && d > 0)) return;
      if (typeof d === 'string' && (spec.dims?.[d] !== undefined || DEFAULT_DIMS[d] !== undefined || fromShapes.has(d))) return;
      out.push({ input: v.name, axis, ...(typeof d === 'string' ? { dim: d } : {}), declared });
    });
  }
  return out;
}

/**
 * Refuses (InputError, one line) to time or cost a model whose non-batch symbolic dims nothing sizes, naming
 * the first such dim and the flags that give it. `what`: what would happen at 1 ("timed"); `dataFlag`: the
 * command also takes `--data`.
 */
export function requireSizedDims(model: Model, spec: InputSpec = {}, opts: { what?: string; dataFlag?: boolean } = {}): void {
  const what = opts.what ?? 'timed';
  const u = unsizedDims(model, spec);
  if (u.length === 0) return;
  const f = u[0]!;
  const example = `${f.input}=${f.declared.slice(1, -1).split(', ').map((d, i) => (i === 0 && !/^\d+$/.test(d) ? '1' : /^\d+$/.test(d) ? d : 'N')).join('x')}`;
  const dimFlag = f.dim ? `--dim ${f.dim}=N or ` : '';
  const more = u.length > 1 ? ` (and ${u.length - 1} more unsized dim${u.length > 2 ? 's' : ''})` : '';
  throw new InputError(`input '${f.input}' ${f.declared}: ${f.dim ? `dim '${f.dim}'` : 'an unnamed dim'} (axis ${f.axis}) has no size and would be ${what} at 1${more}; give it with ${dimFlag}--shape ${example}${opts.dataFlag ? ', or --data to time the real inputs' : ''}`);
}

/** Graph inputs that are not initializers (old IR versions list initializers as inputs too). */
export function runtimeInputs(model: Model): Value[] {
  return model.graph.inputs.filter((v) => !v.isInitializer);
}

/**
 * Why an input cannot sensibly get random data, or undefined. A scalar integer is a setting (a sample rate, a
 * count, a step), not data: any random value is as likely to be wrong as right, so the user must give it.
 */
export function unrandomizable(v: Value): string | undefined {
  if (v.type?.kind !== 'tensor' || !v.type.shape) return undefined;
  const t = v.type.elemType;
  const int = !dtypeInfo(t).isFloat && t !== DataType.BOOL && t !== DataType.STRING;
  if (int && v.type.shape.length === 0) return `input '${v.name}' is a scalar ${dtypeName(t)} (a setting such as a sample rate or a count, not data), which inferopt cannot sensibly randomize: give its value with --input ${v.name}=VALUE or --input ${v.name}=file.pb`;
  return undefined;
}

/** One given value as the input's tensor (a number fills the concrete shape, converted to the input's type). */
function givenTensor(v: Value, value: InputValue, shape: number[]): Tensor {
  const t = v.type?.kind === 'tensor' ? v.type.elemType : DataType.FLOAT;
  if (typeof value === 'number') {
    if (!dtypeInfo(t).isFloat && !Number.isInteger(value)) throw new InputError(`--input ${v.name}=${value}: the input is ${dtypeName(t)}, give an integer`);
    return Tensor.fromArray(t, shape, new Array(shape.reduce((a, b) => a * b, 1)).fill(value), v.name);
  }
  if (value.dtype !== t) throw new InputError(`--input ${v.name}: the file holds ${dtypeName(value.dtype)}, the model's input is ${dtypeName(t)}`);
  return value;
}

/**
 * Random inputs by declared type and shape, seeded. Floats ~ N(0,1); integer inputs get small non-negative
 * values (0..rangeHint-1), which is right for token ids and indices; `attention_mask`-like inputs get ones.
 * Inputs with a value in `spec.values` get that value; a scalar integer without one is refused (InputError).
 */
export function randomInputs(model: Model, spec: InputSpec = {}, intRange = 100): Record<string, Tensor> {
  const rand = rng(spec.seed ?? 0);
  const normal = gaussian(rand);
  const feeds: Record<string, Tensor> = {};
  const resolved = { ...spec, dims: resolveDims(model, spec) };
  for (const name of Object.keys(spec.values ?? {})) {
    if (!runtimeInputs(model).some((v) => v.name === name)) throw new InputError(`--input ${name}: the model has no input '${name}' (inputs: ${runtimeInputs(model).map((v) => v.name).join(', ')})`);
  }
  // sizes first, for every input together, before anything is allocated
  let total = 0;
  const shapes = runtimeInputs(model).map((v) => {
    if (v.type?.kind !== 'tensor') throw new InputError(`input '${v.name}' is not a tensor`);
    const shape = concreteShape(v, resolved);
    const bad = shape.find((d) => !Number.isSafeInteger(d) || d < 0);
    if (bad !== undefined) throw new InputError(`input '${v.name}': dimension ${bad} is not a size inferopt can make data for`);
    const n = shape.reduce((a, b) => a * b, 1);
    // a number[] of n (8 bytes each) is built, then the tensor's own bytes
    const perElement = 8 + Math.max(1, Math.ceil(dtypeInfo(v.type.elemType).bits / 8));
    checkGeneratedSize(`input '${v.name}' [${shape.join('x')}]`, n, perElement);
    total += n * perElement;
    return shape;
  });
  checkGeneratedSize(`the generated inputs together (${runtimeInputs(model).length})`, total, 1);
  for (const [i, v] of runtimeInputs(model).entries()) {
    if (v.type?.kind !== 'tensor') throw new InputError(`input '${v.name}' is not a tensor`);
    const shape = shapes[i]!;
    const value = spec.values?.[v.name];
    if (value !== undefined) {
      feeds[v.name] = givenTensor(v, value, shape);
      continue;
    }
    const refusal = unrandomizable(v);
    if (refusal) throw new InputError(refusal);
    const n = shape.reduce((a, b) => a * b, 1);
    const t = v.type.elemType;
    const isMask = /mask/i.test(v.name);
    const data: number[] = new Array(n);
    for (let i = 0; i < n; i++) {
      if (dtypeInfo(t).isFloat) data[i] = normal();
      else if (t === DataType.BOOL) data[i] = rand() < 0.5 ? 1 : 0;
      else if (isMask) data[i] = 1;
      else if (/token_type|segment/i.test(v.name)) data[i] = 0;
      else data[i] = Math.floor(rand() * intRange);
    }
    if (!dtypeInfo(t).array) throw new InputError(`input '${v.name}': cannot make random ${dtypeName(t)} data`);
    feeds[v.name] = Tensor.fromArray(t, shape, data, v.name);
  }
  return feeds;
}

export const INPUT_FLAG_HELP = 'value of an input instead of random data: a number filling its shape (sr=16000) or an ONNX TensorProto file (state=state.pb) (repeatable)';

/**
 * Parses `--input name=value` flags: a number (`sr=16000`, filling the input's shape) or an ONNX TensorProto
 * file (`state=state.pb`, as in ONNX's test data sets).
 */
export function parseInputFlags(flags: readonly string[] = []): Record<string, InputValue> {
  const out: Record<string, InputValue> = {};
  for (const f of flags) {
    const [name, value] = parseInputFlag(f);
    out[name] = value;
  }
  return out;
}

function parseInputFlag(f: string): [string, InputValue] {
  const m = /^([^=]+)=(.+)$/.exec(f.trim());
  if (!m) throw new InputError(`bad --input '${f}': expected name=number or name=file.pb`);
  const [, name, v] = m as unknown as [string, string, string];
  if (/^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(v)) return [name, Number(v)];
  const bytes = readInputFile(v);
  if (!bytes) throw new InputError(`--input ${name}=${v}: not a number and no such file`);
  try {
    return [name, decodeTensor(bytes)];
  } catch (e) {
    throw new InputError(`--input ${name}: ${v} is not an ONNX TensorProto (${(e as Error).message})`);
  }
}

/**
 * `--input` flags where a name may come several times: its k-th file goes into input set k, and the sets are
 * used in turn (bench's feedSets: what optimize timed, batch after batch). Names given once apply to every
 * set (`values`). Every repeated name must come equally often, with files (a number is one value for all).
 */
export function parseInputSets(flags: readonly string[] = []): { values: Record<string, InputValue>; sets?: Record<string, Tensor>[] } {
  const byName = new Map<string, InputValue[]>();
  for (const f of flags) {
    const [name, v] = parseInputFlag(f);
    byName.set(name, [...(byName.get(name) ?? []), v]);
  }
  const values: Record<string, InputValue> = {};
  const repeated = [...byName].filter(([, vs]) => vs.length > 1);
  for (const [name, vs] of byName) if (vs.length === 1) values[name] = vs[0]!;
  if (repeated.length === 0) return { values };
  const n = repeated[0]![1].length;
  for (const [name, vs] of repeated) {
    if (vs.length !== n) throw new InputError(`--input ${name} is given ${vs.length} times and --input ${repeated[0]![0]} ${n} times: give each repeated input once per input set`);
    if (vs.some((v) => typeof v === 'number')) throw new InputError(`--input ${name}: a number is one value for every run; give it once (input sets take TensorProto files)`);
  }
  const sets = Array.from({ length: n }, (_, k) => Object.fromEntries(repeated.map(([name, vs]) => [name, vs[k] as Tensor])));
  return { values, sets };
}

/** Parses `name=1x3x224x224` shape flags. */
export function parseShapeFlags(flags: readonly string[] = []): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const f of flags) {
    const m = /^([^=]+)=(\d+(?:[x,]\d+)*)$/.exec(f.trim());
    if (!m) throw new InputError(`bad --shape '${f}': expected name=1x3x224x224`);
    const dims = m[2]!.split(/[x,]/).map(Number);
    if (dims.some((d) => !Number.isSafeInteger(d))) throw new InputError(`bad --shape '${f}': a dimension is too large to count`);
    out[m[1]!] = dims;
  }
  return out;
}
