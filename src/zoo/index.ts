/**
 * The model zoo: seeded, deterministic builders for reference architectures with the op patterns real
 * exporters emit. `buildZooModel(name, { seed })` returns a fresh Model (opset 17, IR 8, float32 weights);
 * the same name, seed and options always give the same bytes. Each builder's file documents its patterns.
 */
import { InputError } from '../errors.js';
import { dtypeInfo } from '../ir/dtype.js';
import type { Model } from '../ir/graph.js';
import { BERT_CONFIGS, buildBert, type BertOptions } from './bert.js';
import { buildCnnSmall } from './cnn-small.js';
import type { LayerOptions } from './layers.js';
import { buildMlp } from './mlp.js';
import { buildMobileNetV2 } from './mobilenetv2.js';
import { buildResNet } from './resnet.js';

export type { BertConfig, BertOptions } from './bert.js';
export { BERT_CONFIGS } from './bert.js';
export { Layers, type LayerNormForm, type LayerOptions } from './layers.js';

export interface ZooOptions extends BertOptions {
  /** Seed of the weight generator (default 0). */
  seed?: number;
  /** Zero-filled weights: the structure only, built fast (for parameter counts and shape checks). */
  zeroWeights?: boolean;
  /**
   * CNNs: fold BatchNormalization into the Conv before it (torch's default eval export). Off by default, so a
   * Conv+BN fold pass has work to do; the folded and unfolded models of one seed compute the same function.
   */
  foldBatchNorm?: boolean;
}

interface ZooEntry {
  description: string;
  build(w: LayerOptions, opts: BertOptions): Model;
}

const bert = (name: keyof typeof BERT_CONFIGS) => (w: LayerOptions, o: BertOptions) => buildBert(name, BERT_CONFIGS[name], w, o);

const ZOO = {
  mlp: { description: 'MLP 784-256-128-10, Gemm+Relu, input [N,784]', build: buildMlp },
  'cnn-small': { description: '2×(Conv+BN+Relu+MaxPool), 2×Gemm, input [N,1,28,28]', build: buildCnnSmall },
  resnet18: { description: 'torchvision ResNet-18, BN unfolded, input [N,3,224,224]', build: (w) => buildResNet(18, w) },
  resnet50: { description: 'torchvision ResNet-50, BN unfolded, input [N,3,224,224]', build: (w) => buildResNet(50, w) },
  mobilenetv2: { description: 'torchvision MobileNetV2, depthwise Conv, Clip as ReLU6, input [N,3,224,224]', build: buildMobileNetV2 },
  'bert-tiny': { description: 'BERT 2 layers, d128, 2 heads, ff512, + pooler and 2-way classifier', build: bert('bert-tiny') },
  'bert-mini': { description: 'BERT 4 layers, d256, 4 heads, ff1024, + pooler and 2-way classifier', build: bert('bert-mini') },
  'bert-base': { description: 'BERT 12 layers, d768, 12 heads, ff3072, + pooler and 2-way classifier', build: bert('bert-base') },
} satisfies Record<string, ZooEntry>;

export type ZooName = keyof typeof ZOO;
export const zooNames = Object.keys(ZOO) as ZooName[];

export function isZooName(name: string): name is ZooName {
  return Object.hasOwn(ZOO, name);
}

export function zooDescription(name: ZooName): string {
  return ZOO[name].description;
}

/** Builds a zoo model; an unknown name is an InputError listing the valid ones. */
export function buildZooModel(name: string, opts: ZooOptions = {}): Model {
  if (!isZooName(name)) throw new InputError(`unknown zoo model '${name}'; choose one of: ${zooNames.join(', ')}`);
  const seed = opts.seed ?? 0;
  if (!Number.isSafeInteger(seed) || seed < 0 || seed > 0xffffffff) throw new InputError(`seed must be an integer in 0..4294967295, not ${seed}`);
  const { zeroWeights, foldBatchNorm, layerNorm, reshape } = opts;
  const model = ZOO[name].build({ seed, zeroWeights, foldBatchNorm }, opts);
  const recipe = { name, seed, layerNorm, reshape, foldBatchNorm: foldBatchNorm || undefined, zeroWeights: zeroWeights || undefined };
  model.metadata.push({ key: 'inferopt.zoo', value: JSON.stringify(recipe) });
  return model;
}

/** Number of floating-point elements held in initializers (weights, biases, BN statistics). */
export function countParameters(model: Model): number {
  let n = 0;
  for (const v of model.graph.initializers.values()) {
    const t = v.initializer!;
    if (dtypeInfo(t.dtype).isFloat) n += t.size;
  }
  return n;
}
