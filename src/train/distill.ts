import { InputError } from '../errors.js';
import type { Model } from '../ir/graph.js';
import type { Tensor } from '../ir/tensor.js';
import { Session } from '../runtime/session.js';
import { findLayers, withOutputs } from './layers.js';
import type { LossSpec } from './loss.js';
import { gatherBatch, train, type TrainOptions, type TrainResult } from './trainer.js';

/**
 * Knowledge distillation: the teacher runs in ONNX Runtime on every batch and its outputs become inputs of the
 * student's training graph. Losses: soft targets (T²·KL at temperature T) mixed with the hard-label
 * cross-entropy by `alpha`; hidden-state MSE between mapped layers (student layer j ↔ teacher layer map[j], by
 * the layers `findLayers` sees); attention-map MSE between the same layers' attention probabilities (TinyBERT).
 */
export interface DistillOptions extends Omit<TrainOptions, 'loss' | 'batchFeeds'> {
  teacher: Model;
  temperature?: number;
  /** Weight of the soft-target loss; 1 − alpha goes to the hard labels (default 0.5). */
  alpha?: number;
  /** Student layer j → teacher layer layerMap[j]; hidden-state MSE for each pair when `hiddenWeight` > 0. */
  layerMap?: number[];
  hiddenWeight?: number;
  /** Also match attention probabilities (same heads and sequence length) with this weight. */
  attentionWeight?: number;
}

export interface DistillPairs {
  hidden: { student: string; teacher: string }[];
  attention: { student: string; teacher: string }[];
}

/** The value pairs the layer map names, checked against both models' layers. */
export function layerPairs(student: Model, teacher: Model, map: readonly number[], opts: { attention?: boolean } = {}): DistillPairs {
  const sl = findLayers(student, { minLayers: 1 });
  const tl = findLayers(teacher);
  if (map.length > sl.length) throw new InputError(`the layer map has ${map.length} entries but the student has ${sl.length} layers`);
  const pairs: DistillPairs = { hidden: [], attention: [] };
  map.forEach((t, j) => {
    if (!Number.isInteger(t) || t < 0 || t >= tl.length) throw new InputError(`layer map ${j}:${t} is out of range: the teacher has ${tl.length} layers (0–${tl.length - 1})`);
    pairs.hidden.push({ student: sl[j]!.output.name, teacher: tl[t]!.output.name });
    if (opts.attention) {
      const [a, b] = [sl[j]!.attention, tl[t]!.attention];
      if (!a || !b) throw new InputError(`attention transfer: layer ${j} of the student or ${t} of the teacher has no Softmax (attention probabilities)`);
      pairs.attention.push({ student: a.name, teacher: b.name });
    }
  });
  return pairs;
}

/** Parses `0:1,1:3` (student:teacher) or `1,3` (teacher layer of each student layer in order). */
export function parseLayerMap(text: string): number[] {
  const out: number[] = [];
  for (const [i, part] of text.split(',').map((p) => p.trim()).filter(Boolean).entries()) {
    const m = /^(?:(\d+):)?(-?\d+)$/.exec(part);
    if (!m) throw new InputError(`bad --layer-map entry '${part}' (expected student:teacher, e.g. 0:1,1:3)`);
    const j = m[1] !== undefined ? Number(m[1]) : i;
    if (j !== i) throw new InputError(`--layer-map: give the student layers in order 0, 1, … ('${part}' is entry ${i})`);
    out.push(Number(m[2]));
  }
  return out;
}

export async function distill(student: Model, opts: DistillOptions): Promise<TrainResult & { pairs: DistillPairs }> {
  const hiddenWeight = opts.layerMap ? (opts.hiddenWeight ?? 1) : 0;
  const attentionWeight = opts.layerMap ? (opts.attentionWeight ?? 0) : 0;
  const pairs = opts.layerMap ? layerPairs(student, opts.teacher, opts.layerMap, { attention: attentionWeight > 0 }) : { hidden: [], attention: [] };
  const used = [...(hiddenWeight > 0 ? pairs.hidden : []), ...pairs.attention];
  const sOut = student.graph.outputs[0]!.name;
  const tOut = opts.teacher.graph.outputs[0]!.name;
  const teacher = withOutputs(opts.teacher, used.map((p) => p.teacher));
  const session = await Session.create(teacher, { threads: opts.threads ?? 2, optLevel: 'all' });
  const wanted = [tOut, ...used.map((p) => p.teacher)];
  const inputs = session.inputNames;
  const batchFeeds = async (batch: Record<string, Tensor>) => {
    const feeds = Object.fromEntries(inputs.map((n) => [n, batch[n]!]));
    if (inputs.some((n) => !feeds[n])) throw new InputError(`the teacher needs inputs ${inputs.join(', ')}; the data has ${Object.keys(batch).join(', ')}`);
    const out = await session.run(feeds, wanted);
    const r: Record<string, Tensor> = { teacher_logits: out[tOut]! };
    used.forEach((p, i) => (r[`teacher_hidden_${i}`] = out[p.teacher]!));
    return r;
  };
  // shapes must agree: the logits, and every mapped hidden state / attention map
  const probe = await batchFeeds(gatherBatch(opts.train, Uint32Array.from({ length: Math.min(2, opts.train.length) }, (_, i) => i), 0, Math.min(2, opts.train.length)));
  const sProbe = await Session.create(withOutputs(student, used.map((p) => p.student)), { threads: 1 });
  const sRun = await sProbe.run(Object.fromEntries(sProbe.inputNames.map((n) => [n, gatherBatch(opts.train, Uint32Array.from([0, 1].slice(0, Math.min(2, opts.train.length))), 0, Math.min(2, opts.train.length))[n]!])));
  await sProbe.release();
  const same = (a: Tensor, b: Tensor) => a.dims.length === b.dims.length && a.dims.every((d, i) => d === b.dims[i]);
  if (!same(sRun[sOut]!, probe.teacher_logits!)) throw new InputError(`teacher and student outputs differ in shape: teacher '${tOut}' [${probe.teacher_logits!.dims.join(',')}], student '${sOut}' [${sRun[sOut]!.dims.join(',')}]`);
  used.forEach((p, i) => {
    const [s, t] = [sRun[p.student]!, probe[`teacher_hidden_${i}`]!];
    if (!same(s, t)) throw new InputError(`mapped layers differ in shape: student '${p.student}' [${s.dims.join(',')}] vs teacher '${p.teacher}' [${t.dims.join(',')}]`);
  });

  const loss: LossSpec = {
    kind: 'kl',
    temperature: opts.temperature ?? 2,
    alpha: opts.alpha ?? 0.5,
    matches: used.map((p, i) => ({ value: p.student, input: `teacher_hidden_${i}`, weight: i < (hiddenWeight > 0 ? pairs.hidden.length : 0) ? hiddenWeight : attentionWeight })),
  };
  try {
    const r = await train(student, { ...opts, loss, batchFeeds });
    return { ...r, pairs };
  } finally {
    await session.release();
  }
}
