/**
 * Runs one test case of ONNX's backend test data (model.onnx + test_data_set_N/{input,output}_K.pb) through
 * ONNX Runtime, before and after a load → save round trip through inferopt's IR (inline, then with every
 * tensor in an external data file, then that file read back by our loader). The original model decides
 * whether a case counts: if ORT cannot run it, or its outputs do not match the expected ones, the case is
 * skipped (with the reason); only a case that passes on the original and fails after the round trip is a
 * failure, i.e. an IR bug.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DataType, dtypeInfo, dtypeName } from '../../src/ir/dtype.js';
import type { Model } from '../../src/ir/graph.js';
import { loadModel, modelToBytes, saveModel } from '../../src/ir/io.js';
import { decodeTensor } from '../../src/ir/proto/decode.js';
import type { Tensor } from '../../src/ir/tensor.js';
import { runtimeInputs } from '../../src/runtime/inputs.js';
import { Session, type SessionOptions } from '../../src/runtime/session.js';

/** Tolerances of onnx's own backend tests. */
export const RTOL = 1e-3;
export const ATOL = 1e-5;

export type CaseResult =
  | { status: 'passed'; byteIdentical: boolean; externalBytes: number }
  | { status: 'skipped'; reason: SkipReason; detail: string }
  | { status: 'failed'; detail: string };

export type SkipReason = 'no test data' | 'sequence/optional/map data' | 'ORT cannot run original' | 'ORT mismatches on original';

/** ORT settings: one thread and basic optimizations keep 1,000 small sessions quick on 2 shared cores. */
const ORT_OPTIONS: SessionOptions = { backend: 'node', threads: 1, optLevel: 'basic', logSeverity: 4 };

/** Initializers at least this big go to the external data file in the external-data round trip. */
const EXTERNAL_THRESHOLD = 128;

interface DataSet {
  inputs: Tensor[];
  outputs: Tensor[];
}

/** Every test case folder (one holding a model.onnx) under `root`, sorted. */
export function listCases(root: string): string[] {
  const out: string[] = [];
  for (const name of fs.readdirSync(root).sort()) {
    const dir = path.join(root, name);
    if (fs.existsSync(path.join(dir, 'model.onnx'))) out.push(dir);
  }
  return out;
}

function readDataSets(caseDir: string): DataSet[] {
  const sets: DataSet[] = [];
  for (const name of fs.readdirSync(caseDir).sort()) {
    if (!name.startsWith('test_data_set_')) continue;
    const dir = path.join(caseDir, name);
    const read = (prefix: string) => {
      const files = fs.readdirSync(dir).filter((f) => f.startsWith(prefix) && f.endsWith('.pb'));
      files.sort((a, b) => indexOf(a) - indexOf(b));
      return files.map((f) => decodeTensor(fs.readFileSync(path.join(dir, f))));
    };
    sets.push({ inputs: read('input_'), outputs: read('output_') });
  }
  return sets;
}

function indexOf(file: string): number {
  return Number(/_(\d+)\.pb$/.exec(file)?.[1] ?? 0);
}

/** Why a model's inputs/outputs cannot be fed from TensorProto files, or null if they can. */
function nonTensorIo(model: Model): string | null {
  for (const v of [...runtimeInputs(model), ...model.graph.outputs]) {
    const kind = v.type?.kind;
    if (kind && kind !== 'tensor') return `'${v.name}' is a ${kind}`;
  }
  return null;
}

/** Runs all data sets; returns the first mismatch (or error) as text, or null when every output agrees. */
async function runAll(source: string | Uint8Array, model: Model, sets: DataSet[]): Promise<string | null> {
  const session = await Session.create(source, ORT_OPTIONS);
  try {
    const names = runtimeInputs(model).map((v) => v.name);
    const outNames = model.graph.outputs.map((v) => v.name);
    for (const [k, set] of sets.entries()) {
      const feeds: Record<string, Tensor> = {};
      set.inputs.forEach((t, i) => (feeds[names[i] ?? t.name] = t));
      const got = await session.run(feeds);
      for (const [i, want] of set.outputs.entries()) {
        const name = outNames[i] ?? want.name;
        const actual = got[name];
        if (!actual) return `data set ${k}: no output '${name}'`;
        const diff = compareTensors(want, actual);
        if (diff) return `data set ${k}, output '${name}': ${diff}`;
      }
    }
    return null;
  } finally {
    await session.release();
  }
}

/**
 * Compares an output with its expected value: same element type and shape; floats within RTOL/ATOL (NaN
 * equals NaN, infinities must match), everything else (ints, bools, strings) exactly. Returns why they differ.
 */
export function compareTensors(want: Tensor, got: Tensor): string | null {
  if (want.dtype !== got.dtype) return `type ${dtypeName(got.dtype)}, expected ${dtypeName(want.dtype)}`;
  if (want.dims.join() !== got.dims.join()) return `shape [${got.dims}], expected [${want.dims}]`;
  if (want.dtype === DataType.STRING) {
    const a = (want.strings ?? []).map((s) => Buffer.from(s).toString('latin1'));
    const b = (got.strings ?? []).map((s) => Buffer.from(s).toString('latin1'));
    const i = a.findIndex((s, j) => s !== b[j]);
    return i < 0 && a.length === b.length ? null : `string ${i}: '${b[i]}', expected '${a[i]}'`;
  }
  if (dtypeInfo(want.dtype).isFloat) {
    const a = want.toFloat32();
    const b = got.toFloat32();
    for (let i = 0; i < a.length; i++) {
      const e = a[i]!;
      const g = b[i]!;
      if (Number.isNaN(e) && Number.isNaN(g)) continue;
      if (e === g) continue; // also equal infinities
      if (!(Math.abs(g - e) <= ATOL + RTOL * Math.abs(e))) return `element ${i}: ${g}, expected ${e}`;
    }
    return null;
  }
  const a = want.bytes;
  const b = got.bytes;
  if (a.length !== b.length) return `${b.length} bytes, expected ${a.length}`;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return `byte ${i} differs (integer/bool data must match exactly)`;
  return null;
}

function message(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0]!.slice(0, 300);
}

/**
 * Runs one case: original through ORT, then load → (transform) → save through the IR, then the saved model
 * through ORT. `transform` lets other suites check that a graph transform keeps every model's outputs.
 */
export async function runCase(caseDir: string, scratchDir: string, transform?: (m: Model) => void | Promise<void>): Promise<CaseResult> {
  const original = path.join(caseDir, 'model.onnx');
  const originalBytes = fs.readFileSync(original);
  let model: Model;
  try {
    model = loadModel(originalBytes);
  } catch (e) {
    return { status: 'failed', detail: `IR could not load the model: ${message(e)}` };
  }
  const nonTensor = nonTensorIo(model);
  if (nonTensor) return { status: 'skipped', reason: 'sequence/optional/map data', detail: nonTensor };
  let sets: DataSet[];
  try {
    sets = readDataSets(caseDir);
  } catch (e) {
    return { status: 'failed', detail: `IR could not decode the test data: ${message(e)}` };
  }
  if (sets.length === 0) return { status: 'skipped', reason: 'no test data', detail: '' };

  try {
    const mismatch = await runAll(original, model, sets);
    if (mismatch) return { status: 'skipped', reason: 'ORT mismatches on original', detail: mismatch };
  } catch (e) {
    return { status: 'skipped', reason: 'ORT cannot run original', detail: message(e) };
  }

  const saved = path.join(scratchDir, `${path.basename(path.dirname(caseDir))}-${path.basename(caseDir)}.onnx`);
  const external = saved.replace(/\.onnx$/, '.external.onnx');
  let stage = 'load → save';
  try {
    await transform?.(model);
    saveModel(model, saved);
    let mismatch = await runAll(saved, loadModel(saved), sets);
    if (mismatch) return { status: 'failed', detail: `after ${stage}: ${mismatch}` };
    const byteIdentical = Buffer.compare(originalBytes, fs.readFileSync(saved)) === 0;
    // initializers over 128 bytes in the external data file: ORT reads what our writer wrote, then our reader's
    // model. Smaller ones stay inline, as shape/axes tensors must: ORT's load-time shape inference cannot read
    // external data ("Cannot parse data from external tensors").
    stage = 'save with external data';
    const { dataBytes: externalBytes } = saveModel(model, external, { externalData: { threshold: EXTERNAL_THRESHOLD } });
    mismatch = await runAll(external, model, sets);
    if (mismatch) return { status: 'failed', detail: `after ${stage}: ${mismatch}` };
    stage = 'reload of external data';
    mismatch = await runAll(modelToBytes(loadModel(external)), model, sets);
    if (mismatch) return { status: 'failed', detail: `after ${stage}: ${mismatch}` };
    return { status: 'passed', byteIdentical, externalBytes };
  } catch (e) {
    return { status: 'failed', detail: `after ${stage}: ${message(e)}` };
  } finally {
    for (const f of [saved, external, `${external}.data`]) fs.rmSync(f, { force: true });
  }
}
