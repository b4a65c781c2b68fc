import { InputError } from '../errors.js';
import type { Model } from '../ir/graph.js';
import { loadModel, modelToBytes } from '../ir/io.js';
import type { Tensor } from '../ir/tensor.js';
import { randomInputs } from '../runtime/inputs.js';
import { Session } from '../runtime/session.js';
import { dropLayers, findLayers, layerKeepsShape, shapeTexts, withOutputs } from '../train/layers.js';
import type { AnalyzeOptions } from './channels.js';
import { defaultDims } from './channels.js';

/**
 * Layer pruning: whole repeated blocks (transformer encoder layers, shape-keeping residual blocks, as
 * `findLayers` finds them from weight names) are dropped, their input flowing on. Importance is the block
 * influence of ShortGPT (Men et al. 2024): 1 − cos(input, output) of the layer's hidden state, averaged over
 * calibration inputs — a layer that barely changes its input goes first. Without calibration data the
 * inputs are random (the report says so).
 */

export interface LayerScore {
  index: number;
  prefix: string;
  /** Mean 1 − cosine similarity of the layer's input and output (lower = less important). */
  influence: number;
  /** Why the layer cannot go, if it cannot. */
  blocked?: string;
}

export async function layerInfluence(model: Model, feeds?: readonly Record<string, Tensor>[], opts: AnalyzeOptions & { threads?: number } = {}): Promise<LayerScore[]> {
  const copy = loadModel(modelToBytes(model)); // findLayers sorts the graph it is given
  const layers = findLayers(copy);
  const dims = shapeTexts(copy);
  const names = [...new Set(layers.flatMap((l) => [l.input.name, l.output.name]))];
  const probe = withOutputs(copy, names);
  const inputs = feeds?.length ? feeds : [1, 2, 3, 4].map((seed) => randomInputs(model, { dims: defaultDims(model, opts.dims), shapes: opts.shapes, seed }));
  const sum = new Float64Array(layers.length);
  const session = await Session.create(probe, { threads: opts.threads ?? 2 });
  try {
    for (const f of inputs) {
      const out = await session.run(f, names.filter((n) => !(n in f)));
      layers.forEach((l, i) => {
        const a = (out[l.input.name] ?? f[l.input.name])!.toFloat32();
        const b = out[l.output.name]!.toFloat32();
        if (a.length !== b.length) return;
        let ab = 0;
        let aa = 0;
        let bb = 0;
        for (let k = 0; k < a.length; k++) {
          ab += a[k]! * b[k]!;
          aa += a[k]! * a[k]!;
          bb += b[k]! * b[k]!;
        }
        sum[i] = sum[i]! + 1 - ab / Math.sqrt(aa * bb || 1);
      });
    }
  } finally {
    await session.release();
  }
  return layers.map((l, i) => ({
    index: i,
    prefix: l.prefix,
    influence: sum[i]! / inputs.length,
    blocked: layerKeepsShape(l, dims) ? undefined : `its output ${dims(l.output)} differs from its input ${dims(l.input)}`,
  }));
}

/** Drops the `count` least influential layers that can go (at least one layer stays). */
export function dropLeastInfluential(model: Model, scores: readonly LayerScore[], count: number): { model: Model; dropped: string[] } {
  const free = scores.filter((s) => !s.blocked).sort((a, b) => a.influence - b.influence || a.index - b.index);
  if (free.length === 0) throw new InputError(`nothing to prune: no layer keeps its input's shape (${scores.map((s) => `${s.prefix}: ${s.blocked}`).slice(0, 3).join('; ')})`);
  const n = Math.min(count, free.length, scores.length - 1);
  const gone = new Set(free.slice(0, n).map((s) => s.index));
  return { model: dropLayers(model, (i) => gone.has(i)).model, dropped: scores.filter((s) => gone.has(s.index)).map((s) => s.prefix) };
}
