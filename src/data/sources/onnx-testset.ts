import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { InputError } from '../../errors.js';
import { decodeTensor } from '../../ir/proto/decode.js';
import type { Tensor } from '../../ir/tensor.js';
import { markInput } from '../../util/files.js';
import type { DataRecord, RecordSource } from '../types.js';

/** True for an ONNX test-set folder (input_0.pb …) or a folder holding test_data_set_* folders. */
export function isOnnxTestSet(dir: string): boolean {
  const names = readdirSync(dir);
  return names.includes('input_0.pb') || names.some((n) => /^test_data_set_\d+$/.test(n));
}

/** Tensor files `<prefix>_N.pb` of a folder, in N order, keyed by their stored name or `#N` when unnamed. */
function readTensors(dir: string, prefix: 'input' | 'output'): Record<string, Tensor> {
  const files = readdirSync(dir)
    .map((f) => new RegExp(`^${prefix}_(\\d+)\\.pb$`).exec(f))
    .filter((m): m is RegExpExecArray => m !== null)
    .sort((a, b) => Number(a[1]) - Number(b[1]));
  const out: Record<string, Tensor> = {};
  for (const m of files) {
    let t: Tensor;
    try {
      t = decodeTensor(new Uint8Array(readFileSync(join(dir, m[0]))));
    } catch (e) {
      throw new InputError(`${join(dir, m[0])}: not a TensorProto (${(e as Error).message})`);
    }
    out[t.name || `#${m[1]}`] = t;
  }
  return out;
}

/**
 * ONNX's test-data layout: each `test_data_set_N` folder is one sample; inputs are fed as stored (no batch
 * dimension is added) and the expected outputs are its label, for a fidelity check.
 */
export function onnxTestSetSource(dir: string): RecordSource {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new InputError(`test-set folder not found: ${dir}`);
  const sets = readdirSync(dir).includes('input_0.pb')
    ? [dir]
    : readdirSync(dir)
        .filter((n) => /^test_data_set_\d+$/.test(n))
        .sort((a, b) => Number(a.slice(14)) - Number(b.slice(14)))
        .map((n) => join(dir, n));
  if (sets.length === 0) throw new InputError(`${dir}: no input_N.pb files or test_data_set_N folders`);
  for (const s of sets) for (const f of readdirSync(s)) if (/^(input|output)_\d+\.pb$/.test(f)) markInput(join(s, f));
  const idAt = (i: number) => basename(sets[i]!);
  const at = (i: number): DataRecord => {
    const rec: DataRecord = { id: idAt(i), tensors: readTensors(sets[i]!, 'input'), meta: { batched: true } };
    const outputs = readTensors(sets[i]!, 'output');
    if (Object.keys(outputs).length) rec.label = outputs;
    return rec;
  };
  return {
    description: `ONNX test sets ${dir} (${sets.length})`,
    indexed: { length: sets.length, idAt, at: async (i) => at(i) },
    async *stream() {
      for (let i = 0; i < sets.length; i++) yield at(i);
    },
  };
}
