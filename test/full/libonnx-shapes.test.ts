/**
 * Shape inference on every test case of Debian's libonnx-testdata (ONNX's backend test data): the graph
 * inputs get the shapes of the case's input tensors, the declared output types are removed, and each
 * inferred output type must equal the expected output tensor's. No ORT needed: the expected outputs are
 * stored with the cases. Outputs that cannot be known statically (shapes fed as runtime inputs, data-dependent
 * sizes) count as partial; unknown ops (training, sequence, signal ops) as untyped; a wrong shape fails.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DataType } from '../../src/ir/dtype.js';
import { loadModel } from '../../src/ir/io.js';
import { decodeTensor } from '../../src/ir/proto/decode.js';
import type { Tensor } from '../../src/ir/tensor.js';
import { isTensorType } from '../../src/ir/types.js';
import { analyzeShapes } from '../../src/ops/index.js';
import { runtimeInputs } from '../../src/runtime/inputs.js';
import { debianDataDir } from './debian-data.js';
import { listCases } from './onnx-backend-harness.js';

const DATA = debianDataDir('libonnx-testdata', '/libonnx-testdata/data');
const GROUPS = ['node', 'pytorch-converted', 'pytorch-operator', 'simple'];

type Outcome = 'match' | 'partial' | 'untyped' | 'skipped' | { mismatch: string };

function readTensor(file: string): Tensor | undefined {
  try {
    return decodeTensor(fs.readFileSync(file));
  } catch {
    return undefined; // sequence/optional data
  }
}

/** Outcomes of one case's outputs (first data set). */
function checkCase(dir: string): Outcome[] {
  const data = path.join(dir, 'test_data_set_0');
  if (!fs.existsSync(data)) return ['skipped'];
  const model = loadModel(path.join(dir, 'model.onnx'));
  const shapes: Record<string, number[]> = {};
  for (const [i, v] of runtimeInputs(model).entries()) {
    const t = readTensor(path.join(data, `input_${i}.pb`));
    if (!t || !isTensorType(v.type)) return ['skipped'];
    shapes[v.name] = t.dims;
  }
  for (const o of model.graph.outputs) o.type = undefined;
  const analysis = analyzeShapes(model, { shapes });
  return model.graph.outputs.map((o, i): Outcome => {
    const want = readTensor(path.join(data, `output_${i}.pb`));
    if (!want) return 'skipped';
    const got = analysis.typeOf(o);
    if (!isTensorType(got)) return 'untyped';
    if (!got.shape || got.shape.some((d) => typeof d !== 'number')) return 'partial';
    // the test data stores bfloat16 results as uint16
    const sameType = got.elemType === want.dtype || (got.elemType === DataType.BFLOAT16 && want.dtype === DataType.UINT16);
    const sameShape = got.shape.length === want.dims.length && got.shape.every((d, k) => d === want.dims[k]);
    if (sameType && sameShape) return 'match';
    return { mismatch: `${o.producer?.opType}: inferred ${got.elemType}[${got.shape.join(',')}], expected ${want.dtype}[${want.dims.join(',')}]` };
  });
}

describe.skipIf(!DATA)('libonnx-testdata: inferred output shapes equal the expected outputs', () => {
  it('all groups', () => {
    const counts = { match: 0, partial: 0, untyped: 0, skipped: 0 };
    const mismatches: string[] = [];
    for (const group of GROUPS) {
      for (const dir of listCases(path.join(DATA!, group))) {
        for (const r of checkCase(dir)) {
          if (typeof r === 'string') counts[r]++;
          else mismatches.push(`${group}/${path.basename(dir)}: ${r.mismatch}`);
        }
      }
    }
    process.stdout.write(`libonnx shapes: ${counts.match} match, ${counts.partial} partial (runtime-valued shapes), ${counts.untyped} untyped (ops without an entry), ${counts.skipped} skipped, ${mismatches.length} wrong\n`);
    expect(mismatches).toEqual([]);
    expect(counts.match).toBeGreaterThan(900);
  });
});
