import * as fs from 'node:fs';
import * as path from 'node:path';
import { InputError } from '../errors.js';
import type { Model } from '../ir/graph.js';
import { decodeTensor } from '../ir/proto/decode.js';
import type { Tensor } from '../ir/tensor.js';
import { runtimeInputs } from '../runtime/inputs.js';

const byIndex = (prefix: string) => (a: string, b: string) => Number(a.slice(prefix.length).split('.')[0]) - Number(b.slice(prefix.length).split('.')[0]);

/** Reads `input_N.pb` files of one folder as feeds; unnamed tensors take the model's N-th input name. */
export function readTestSet(dir: string, model: Model, prefix = 'input_'): Record<string, Tensor> {
  const files = fs
    .readdirSync(dir)
    .filter((f) => f.startsWith(prefix) && f.endsWith('.pb'))
    .sort(byIndex(prefix));
  const inputs = runtimeInputs(model);
  const feeds: Record<string, Tensor> = {};
  files.forEach((f, i) => {
    const t = decodeTensor(fs.readFileSync(path.join(dir, f)));
    const name = inputs.some((v) => v.name === t.name) ? t.name : inputs[i]?.name;
    if (!name) throw new InputError(`${path.join(dir, f)}: the model has no input #${i}`);
    t.name = name;
    feeds[name] = t;
  });
  return feeds;
}

/**
 * Input sets from a folder in ONNX's test-data layout: either `input_N.pb` files directly, or
 * `test_data_set_K/` folders holding them.
 */
export function loadTestSets(dir: string, model: Model): Record<string, Tensor>[] {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new InputError(`--data ${dir}: not a folder`);
  const entries = fs.readdirSync(dir);
  if (entries.some((f) => /^input_\d+\.pb$/.test(f))) return [readTestSet(dir, model)];
  const sets = entries.filter((f) => /^test_data_set_\d+$/.test(f)).sort(byIndex('test_data_set_'));
  if (sets.length === 0) throw new InputError(`--data ${dir}: no input_N.pb files and no test_data_set_N folders`);
  return sets.map((s) => readTestSet(path.join(dir, s), model));
}
