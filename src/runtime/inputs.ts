import { InputError } from '../errors.js';
import { DataType, dtypeInfo, dtypeName } from '../ir/dtype.js';
import type { Model, Value } from '../ir/graph.js';
import { Tensor } from '../ir/tensor.js';
import type { Dim } from '../ir/types.js';
import { gaussian, rng } from '../util/random.js';

// The seeded generators moved to src/util/random.ts; re-exported here for existing imports.
export { gaussian, rng } from '../util/random.js';

export interface InputSpec {
  /** Shapes by input name (override the model's), e.g. from `--shape x=1x3x224x224`. */
  shapes?: Record<string, number[]>;
  /** Values for symbolic dims (batch, seq…); unnamed symbolic dims default to 1. */
  dims?: Record<string, number>;
  seed?: number;
}

/** Default sizes for common symbolic dimension names. */
const DEFAULT_DIMS: Record<string, number> = { seq: 128, sequence: 128, sequence_length: 128, seq_len: 128 };

/** Concrete shape for a model input: explicit shape, else declared dims with symbolic ones filled in. */
export function concreteShape(v: Value, spec: InputSpec = {}): number[] {
  const given = spec.shapes?.[v.name];
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
    const given = spec.shapes?.[v.name];
    if (!given) continue;
    shape.forEach((d, i) => {
      if (typeof d !== 'string' || given[i] === undefined) return;
      const other = out[d] ?? spec.dims?.[d];
      if (other !== undefined && other !== given[i]) {
        const source = from[d] ?? `--dim ${d}=${other}`;
        throw new InputError(`--shape ${v.name}=${given.join('x')} gives '${d}' = ${given[i]}, but ${source} gives ${other}`);
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

/** Graph inputs that are not initializers (old IR versions list initializers as inputs too). */
export function runtimeInputs(model: Model): Value[] {
  return model.graph.inputs.filter((v) => !v.isInitializer);
}

/**
 * Random inputs by declared type and shape, seeded. Floats ~ N(0,1); integer inputs get small non-negative
 * values (0..rangeHint-1), which is right for token ids and indices; `attention_mask`-like inputs get ones.
 */
export function randomInputs(model: Model, spec: InputSpec = {}, intRange = 100): Record<string, Tensor> {
  const rand = rng(spec.seed ?? 0);
  const normal = gaussian(rand);
  const feeds: Record<string, Tensor> = {};
  const resolved = { ...spec, dims: resolveDims(model, spec) };
  for (const v of runtimeInputs(model)) {
    if (v.type?.kind !== 'tensor') throw new InputError(`input '${v.name}' is not a tensor`);
    const shape = concreteShape(v, resolved);
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

/** Parses `name=1x3x224x224` shape flags. */
export function parseShapeFlags(flags: readonly string[] = []): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const f of flags) {
    const m = /^([^=]+)=(\d+(?:[x,]\d+)*)$/.exec(f.trim());
    if (!m) throw new InputError(`bad --shape '${f}': expected name=1x3x224x224`);
    out[m[1]!] = m[2]!.split(/[x,]/).map(Number);
  }
  return out;
}
