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
import { buildMlp } from './mlp.js';
import { buildMobileNetV2 } from './mobilenetv2.js';
import { buildResNet } from './resnet.js';

export type { BertConfig, BertOptions } from './bert.js';
export { BERT_CONFIGS } from './bert.js';

export interface ZooOptions extends BertOptions {
  /** Seed of the weight generator (default 0). */
  seed?: number;
}

interface ZooEntry {
  description: string;
  build(seed: number, opts: ZooOptions): Model;
}

const ZOO = {
  mlp: { description: 'MLP 784-256-128-10, Gemm+Relu, input [N,784]', build: (seed) => buildMlp(seed) },
  'cnn-small': { description: '2×(Conv+BN+Relu+MaxPool), 2×Gemm, input [N,1,28,28]', build: (seed) => buildCnnSmall(seed) },
  resnet18: { description: 'torchvision ResNet-18, BN unfolded, input [N,3,224,224]', build: (seed) => buildResNet(18, seed) },
  resnet50: { description: 'torchvision ResNet-50, BN unfolded, input [N,3,224,224]', build: (seed) => buildResNet(50, seed) },
  mobilenetv2: { description: 'torchvision MobileNetV2, depthwise Conv, Clip as ReLU6, input [N,3,224,224]', build: (seed) => buildMobileNetV2(seed) },
  'bert-tiny': { description: 'BERT 2 layers, d128, 2 heads, ff512 + classifier', build: (seed, o) => buildBert('bert-tiny', BERT_CONFIGS['bert-tiny'], seed, o) },
  'bert-mini': { description: 'BERT 4 layers, d256, 4 heads, ff1024 + classifier', build: (seed, o) => buildBert('bert-mini', BERT_CONFIGS['bert-mini'], seed, o) },
  'bert-base': { description: 'BERT 12 layers, d768, 12 heads, ff3072 + classifier', build: (seed, o) => buildBert('bert-base', BERT_CONFIGS['bert-base'], seed, o) },
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
  if (!Number.isSafeInteger(seed) || seed < 0) throw new InputError(`seed must be a non-negative integer, got ${seed}`);
  return ZOO[name].build(seed, opts);
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
