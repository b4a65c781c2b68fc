import { describe, expect, it } from 'vitest';
import { openDataset } from '../data/dataset.js';
import { loadModel } from '../ir/io.js';
import { collectTensorData } from '../train/data.js';
import { finetune, taylorTerms } from './finetune.js';
import { pruneModel } from './prune.js';

const model = loadModel('models/fashion-mnist/model.onnx');
const data = async () => collectTensorData(await openDataset('data/fashion-mnist-1k', { limit: 256 }), ['image']);

describe('recovery fine-tuning', () => {
  it.each(['unstructured', 'n:m'] as const)('keeps %s masks at zero while the other weights train', async (granularity) => {
    const pruned = await pruneModel(model, { granularity, sparsity: granularity === 'unstructured' ? 0.7 : undefined });
    const masks = pruned.report.masks!;
    expect(masks.size).toBeGreaterThan(3);
    const r = await finetune(pruned.model, { train: await data(), batch: 32, lr: 0.05, maxSteps: 4, masks, threads: 1 });
    let zerosKept = 0;
    let changed = 0;
    for (const [name, mask] of masks) {
      const before = pruned.model.graph.initializers.get(name)!.initializer!.toFloat32();
      const after = r.model.graph.initializers.get(name)!.initializer!.toFloat32();
      for (let i = 0; i < mask.length; i++) {
        if (!mask[i]) {
          expect(after[i]).toBe(0);
          zerosKept++;
        } else if (after[i] !== before[i]) changed++;
      }
    }
    expect(zerosKept).toBeGreaterThan(1000);
    expect(changed).toBeGreaterThan(1000);
    // the masks are baked in: no Mul left behind, the same initializers as before
    expect(r.model.graph.nodes.length).toBe(pruned.model.graph.nodes.length);
    expect([...r.model.graph.initializers.keys()].sort()).toEqual([...pruned.model.graph.initializers.keys()].sort());
  });

  it('distils from the unpruned model and trains a channel-pruned one', async () => {
    const pruned = await pruneModel(model, { granularity: 'channel', sparsity: 0.3, criterion: 'bn-scale' });
    const r = await finetune(pruned.model, { train: await data(), batch: 32, lr: 0.05, maxSteps: 3, teacher: model, threads: 1 });
    expect(r.history.length).toBe(1);
    expect(Number.isFinite(r.history[0]!.loss)).toBe(true);
  });

  it('computes first-order Taylor terms w·∂L/∂w that rank channels', async () => {
    const terms = await taylorTerms(model, await data(), { batches: 2, batch: 32, threads: 1 });
    const w = terms.get('fc.weight')!;
    expect(w.length).toBe(640);
    expect(w.some((x) => x !== 0)).toBe(true);
    const r = await pruneModel(model, { granularity: 'channel', sparsity: 0.2, criterion: 'taylor', scores: { taylor: terms } });
    expect(r.report.structured!.removed).toBeGreaterThan(0);
  });
});
