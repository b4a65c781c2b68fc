import type { Model } from '../ir/graph.js';
import { bootstrapMean, type Estimate } from '../eval/bootstrap.js';
import { Session } from '../runtime/session.js';
import { gatherBatch, type TensorData } from '../train/trainer.js';

/** Per-example top-1 hits of a classifier on in-memory data (1 = right), for paired bootstrap intervals. */
export async function top1Hits(model: Model, data: TensorData, threads = 2): Promise<Uint8Array> {
  const s = await Session.create(model, { threads });
  const output = model.graph.outputs[0]!.name;
  const order = Uint32Array.from({ length: data.length }, (_, i) => i);
  const hits = new Uint8Array(data.length);
  const chunk = 250;
  try {
    for (let from = 0; from < data.length; from += chunk) {
      const n = Math.min(chunk, data.length - from);
      const { labels, ...feeds } = gatherBatch(data, order, from, n);
      const logits = (await s.run(feeds, [output]))[output]!.toFloat32();
      const k = logits.length / n;
      const lab = labels!.toNumbers();
      for (let i = 0; i < n; i++) {
        let best = 0;
        for (let j = 1; j < k; j++) if (logits[i * k + j]! > logits[i * k + best]!) best = j;
        hits[from + i] = best === lab[i] ? 1 : 0;
      }
    }
  } finally {
    await s.release();
  }
  return hits;
}

/** Top-1 accuracy (percent) with a bootstrap 95% interval. */
export function accuracyEstimate(hits: Uint8Array, seed = 0): Estimate {
  const e = bootstrapMean(hits, { seed });
  return { ...e, value: 100 * e.value, low: 100 * e.low, high: 100 * e.high };
}

/** The accuracy drop a − b in points with a paired bootstrap 95% interval (same examples resampled). */
export function dropEstimate(a: Uint8Array, b: Uint8Array, seed = 0): Estimate {
  const d = Float64Array.from(a, (x, i) => 100 * (x - b[i]!));
  return bootstrapMean(d, { seed });
}
