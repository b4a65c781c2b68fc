import { InputError } from '../errors.js';
import { dtypeInfo, type DataType, type TypedArray } from '../ir/dtype.js';
import type { Sample } from '../data/types.js';
import type { TensorData } from './trainer.js';

/**
 * Gathers a dataset (src/data samples, each input with a leading batch dim of 1) into one array per input, so
 * the loop can assemble shuffled batches by copying rows. Labels must be class indices.
 */
export async function collectTensorData(samples: AsyncIterable<Sample>, inputNames: readonly string[]): Promise<TensorData> {
  const rows: Record<string, Uint8Array[]> = {};
  const meta: Record<string, { dtype: DataType; itemShape: number[] }> = {};
  const labels: number[] = [];
  for await (const s of samples) {
    if (typeof s.label !== 'number') throw new InputError(`sample ${s.id}: training needs a class index label`);
    const names = Object.keys(s.inputs);
    for (const name of inputNames) {
      // a single-input model takes the sample's only tensor whatever its key ('' for images without `input`)
      const t = s.inputs[name] ?? (inputNames.length === 1 && names.length === 1 ? s.inputs[names[0]!] : undefined);
      if (!t) throw new InputError(`sample ${s.id} has no tensor for model input '${name}' (it has ${names.join(', ') || 'none'})`);
      meta[name] ??= { dtype: t.dtype, itemShape: t.dims.slice(1) };
      (rows[name] ??= []).push(t.bytes);
    }
    labels.push(s.label);
  }
  if (labels.length === 0) throw new InputError('the dataset is empty');
  const inputs: TensorData['inputs'] = {};
  for (const name of inputNames) {
    const { dtype, itemShape } = meta[name]!;
    const ctor = dtypeInfo(dtype).array!;
    const bytes = new Uint8Array(rows[name]!.reduce((n, r) => n + r.length, 0));
    let o = 0;
    for (const r of rows[name]!) {
      bytes.set(r, o);
      o += r.length;
    }
    inputs[name] = { data: new ctor(bytes.buffer, 0, bytes.length / ctor.BYTES_PER_ELEMENT) as TypedArray, dtype, itemShape };
  }
  return { inputs, labels: Int32Array.from(labels), length: labels.length };
}

/** Rows of a TensorData: every `k`-th sample is held out (deterministic, no overlap). */
export function holdOut(d: TensorData, every: number): [TensorData, TensorData] {
  const pick = (keep: (i: number) => boolean): TensorData => {
    const idx = Array.from({ length: d.length }, (_, i) => i).filter(keep);
    const inputs: TensorData['inputs'] = {};
    for (const [name, { data, dtype, itemShape }] of Object.entries(d.inputs)) {
      const row = itemShape.reduce((a, b) => a * b, 1);
      const out = new (data.constructor as new (n: number) => typeof data)(idx.length * row);
      idx.forEach((r, i) => (out as Float32Array).set((data as Float32Array).subarray(r * row, (r + 1) * row), i * row));
      inputs[name] = { data: out, dtype, itemShape };
    }
    return { inputs, labels: Int32Array.from(idx, (i) => d.labels[i]!), length: idx.length };
  };
  return [pick((i) => i % every !== every - 1), pick((i) => i % every === every - 1)];
}
