import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildFashionResNet } from '../../models/fashion-mnist/arch.js';
import { limit, openDataset } from '../../src/data/dataset.js';
import { evaluate } from '../../src/eval/evaluate.js';
import { collectTensorData } from '../../src/train/data.js';
import { train } from '../../src/train/trainer.js';
import { requireAvailable } from './debian-data.js';

/**
 * The committed trained models reach their goals on their held-out sets (Fashion-MNIST's official 10k test
 * set from Debian `dataset-fashion-mnist`, the committed 1k subset, the SpamAssassin 20% split), and training
 * on real data from scratch lowers the loss.
 */
const FM_TEST = 'models/fashion-mnist/test.json';
// the guard: without the data these tests skip with a notice, or fail when INFEROPT_REQUIRE_DEBIAN_DATA is set
const hasFashion = requireAvailable(existsSync('/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz'), 'Debian dataset-fashion-mnist', 'apt-get install -y dataset-fashion-mnist');

describe('committed trained models', () => {
  it.runIf(hasFashion)('Fashion-MNIST ResNet: ≥ 91% on the 10k test set', async () => {
    const r = await evaluate('models/fashion-mnist/model.onnx', await openDataset(FM_TEST), { batch: 250 });
    expect(r.metrics.top1!.value).toBeGreaterThanOrEqual(0.91);
  });

  it('Fashion-MNIST ResNet: the committed 1k subset (demo data) scores like the full test set', async () => {
    const r = await evaluate('models/fashion-mnist/model.onnx', await openDataset('data/fashion-mnist-1k'), { batch: 250 });
    expect(r.metrics.top1!.value).toBeGreaterThanOrEqual(0.89);
  });

  it('spam transformer: ≥ 97% on the held-out 20% of SpamAssassin', async () => {
    const r = await evaluate('models/spam-transformer/model.onnx', await openDataset('models/spam-transformer/test.json'), { batch: 64 });
    expect(r.metrics.top1!.value).toBeGreaterThanOrEqual(0.97);
  });

  it.runIf(hasFashion)('training the ResNet on 2,048 real images lowers the loss and beats chance by far', async () => {
    const data = await collectTensorData(limit(await openDataset('models/fashion-mnist/train.json'), 2048), ['image']);
    const test = await collectTensorData(limit(await openDataset(FM_TEST), 500), ['image']);
    const r = await train(buildFashionResNet(1, [8, 16, 32]), { train: data, test, epochs: 2, batch: 64, lr: 0.05, seed: 1, optimizer: { kind: 'sgd', momentum: 0.9, nesterov: true } });
    expect(r.history[1]!.loss).toBeLessThan(r.history[0]!.loss);
    expect(r.history[1]!.testAccuracy).toBeGreaterThan(0.5);
  });
});
