import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { residualData, residualMlp } from '../../test/unit/residual-mlp.js';
import { loadModel, saveModel } from '../ir/io.js';
import type { Model } from '../ir/graph.js';
import { Tensor } from '../ir/tensor.js';
import { Session } from '../runtime/session.js';
import { findLayers } from '../train/layers.js';
import { forTarget, searchCatalog } from './catalog.js';
import { OnnxEvaluator } from './evaluator.js';
import { fidelityMetric } from './metric.js';
import { DEFAULT_SESSION } from './recipe.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'inferopt-student-step-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const file = path.join(dir, 'teacher.onnx');
saveModel(residualMlp(5), file);
const teacher = loadModel(file);
const training = async () => ({ train: residualData(240, 1), test: residualData(60, 2) });
const common = { modelFile: file, catalog: forTarget(searchCatalog(), 'cpu'), metric: fidelityMetric(teacher, { samples: 4 }), backend: 'node' as const, runs: 2, cacheDir: dir };
const recipe = (steps: { pass: string; params: Record<string, unknown> }[]) => ({ target: 'cpu' as const, steps, session: DEFAULT_SESSION });
const student = { pass: 'student', params: { every: 2, steps: 12, batch: 16 } };

async function logits(m: Model, x: Float32Array): Promise<Float32Array> {
  const s = await Session.create(m, { threads: 1 });
  try {
    return (await s.run({ x: Tensor.float([x.length / 6, 6], x) })).logits!.toFloat32();
  } finally {
    await s.release();
  }
}

describe('a student from the teacher as an optimize recipe step', () => {
  it('every other layer, distilled for its step count: half the layers, the teacher\'s output shape, byte for byte again; int8 goes on top', async () => {
    const a = await new OnnxEvaluator({ ...common, training }).build(recipe([student]));
    expect(findLayers(a.model, { minLayers: 1 }).map((l) => l.prefix)).toEqual(['layers.1', 'layers.3']);
    const st = a.steps[0]!.stats;
    expect(st).toMatchObject({ layers: 2, teacherLayers: 4, steps: 12 });
    expect(st.params).toBe(st.teacherParams! - 2 * (8 * 8 + 8));
    expect(st.stoppedByTime).toBeUndefined();
    const x = residualData(5, 9).inputs.x!.data as Float32Array;
    const [t, s] = [await logits(teacher, x), await logits(a.model, x)];
    expect(s.length).toBe(t.length);
    expect(s.every(Number.isFinite)).toBe(true);
    // trained: its weights moved off the teacher's for the layers it kept
    expect(Array.from(a.model.graph.initializers.get('layers.1.weight')!.initializer!.toFloat32())).not.toEqual(Array.from(teacher.graph.initializers.get('layers.1.weight')!.initializer!.toFloat32()));
    // bounded by steps: a fresh build of the same recipe is the same file
    const b = await new OnnxEvaluator({ ...common, training }).build(recipe([student]));
    expect(Buffer.from(b.bytes).equals(Buffer.from(a.bytes))).toBe(true);
    // composed with static int8 in one recipe
    const q = await new OnnxEvaluator({ ...common, training }).build(recipe([student, { pass: 'simplify', params: {} }, { pass: 'quantize-static', params: {} }]));
    expect(q.model.graph.nodes.filter((n) => n.opType === 'QuantizeLinear').length).toBeGreaterThan(0);
    expect((await logits(q.model, x)).length).toBe(t.length);
  });

  it('bad input: no training data, or more layers to skip than the model has → one line', async () => {
    await expect(new OnnxEvaluator(common).build(recipe([student]))).rejects.toThrow(/^the student step needs training data \(--train-data\)$/);
    await expect(new OnnxEvaluator({ ...common, training }).build(recipe([{ pass: 'student', params: { every: 8, steps: 2 } }]))).rejects.toThrow(/^keep every 8th layer: the model has only 4 layers$/);
  });
});
