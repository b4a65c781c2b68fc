import type { Model } from '../ir/graph.js';
import type { Tensor } from '../ir/tensor.js';

/**
 * A reference model with its outputs kept per batch of one dataset: a search scores many candidates for
 * fidelity on the same inputs, and the reference's outputs are the same every time, so it runs once per
 * batch instead of once per candidate (bert-base: a second session and 32 runs less per candidate). Kept up
 * to `maxBytes` of outputs; batches past that run the reference again, as without the cache. Outputs are keyed
 * by the batch (its position and its samples' ids, see `evaluate`) and the output name, so an evaluation on
 * other data or with another batch size runs the reference for its own batches rather than reading another's.
 */
export class ReferenceOutputs {
  private readonly kept = new Map<string, Tensor>();
  private bytes = 0;

  constructor(
    readonly model: Model | string,
    private readonly maxBytes = 256 * 2 ** 20,
  ) {}

  get(batch: string, output: string): Tensor | undefined {
    return this.kept.get(`${batch}\u0000${output}`);
  }

  keep(batch: string, output: string, t: Tensor): void {
    const key = `${batch}\u0000${output}`;
    if (this.kept.has(key) || this.bytes + t.byteLength > this.maxBytes) return;
    this.kept.set(key, t);
    this.bytes += t.byteLength;
  }

  /** Batches kept (for tests). */
  get size(): number {
    return this.kept.size;
  }
}
