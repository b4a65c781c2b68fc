import type { Node } from '../ir/graph.js';
import type { Tensor } from '../ir/tensor.js';
import type { Dim, TensorType, ValueType } from '../ir/types.js';
import type { GradRule } from './grad-rule.js';
import type { PruneRule } from './prune-rule.js';

/**
 * The op registry: the one place per-op knowledge lives. One entry per (domain, op type), optionally per
 * opset range: shape/type inference, cost, and the gradient rule used by src/train.
 */

export interface InferContext {
  node: Node;
  /** Types of the node's inputs (undefined for missing optional inputs or unknown types). */
  inputs: readonly (ValueType | undefined)[];
  /** The constant value of input i when it is an initializer or a Constant output (for Reshape, Slice…). */
  constInput(i: number): Tensor | undefined;
  /**
   * The known contents of a small numeric input, flat in row-major order: from a constant, or computed by
   * the upstream ops' `partialValue` (Shape → Gather → Concat chains). An entry may be a symbolic dim name
   * (Shape of a symbolic input) or null (unknown); undefined when nothing is known.
   */
  inputValue(i: number): Dim[] | undefined;
  /** Opset version of the node's domain in the model. */
  opset: number;
}

export interface Cost {
  /** Multiply-accumulates (for Conv/MatMul/Gemm and friends); 0 for elementwise ops. */
  macs: number;
  /** Floating-point (or integer) operations: 2·MACs for GEMM-like ops, ~1 per element for elementwise. */
  flops: number;
  bytesRead: number;
  bytesWritten: number;
}

export interface OpDef {
  domain: string;
  opType: string;
  /** Opset range [since, until] this entry covers (inclusive); default: all. */
  opsets?: [number, number?];
  /** Output types from input types; undefined entries where inference is not possible. */
  infer?(ctx: InferContext): (TensorType | ValueType | undefined)[];
  /**
   * Contents of small integer outputs, when they follow from the inputs' shapes or values (see
   * InferContext.inputValue). Kept small: only what shape subgraphs need.
   */
  partialValue?(ctx: InferContext, outputs: readonly (ValueType | undefined)[]): (Dim[] | undefined)[];
  /**
   * Cost for fully static shapes (inputs and outputs as inferred); undefined when it cannot be computed.
   * Ops without one get the default of src/ops/cost.ts (1 op per output element, bytes in and out).
   */
  cost?(ctx: InferContext, outputs: readonly (ValueType | undefined)[]): Cost | undefined;
  /** Gradient rule for src/train (see grad-rule.ts). */
  grad?: GradRule;
  /**
   * For the ops that carry a model's multiply-adds (GEMM, convolution, recurrent, attention): whether the
   * kernel computes in float or in 8-bit (or packed 4-bit) integers. What `quantize` counts in the graph
   * ONNX Runtime actually runs, to say how much of the model runs as int8 kernels.
   */
  arithmetic?: 'float' | 'int8';
  /**
   * Converts between float and integer encodings (QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear):
   * time in these kernels is what quantization adds around the arithmetic it makes integer.
   */
  quantConversion?: boolean;
}

const REGISTRY = new Map<string, OpDef[]>();

const key = (domain: string, opType: string) => `${domain === 'ai.onnx' ? '' : domain}::${opType}`;

/** Registers an op definition; registering the same op and opset range twice is a bug and throws. */
export function registerOp(def: OpDef): void {
  const k = key(def.domain, def.opType);
  const list = REGISTRY.get(k) ?? [];
  const [lo, hi] = def.opsets ?? [1, undefined];
  for (const d of list) {
    const [dlo, dhi] = d.opsets ?? [1, undefined];
    if (lo <= (dhi ?? Infinity) && dlo <= (hi ?? Infinity)) throw new Error(`op ${k} registered twice for overlapping opsets`);
  }
  const pending = PENDING_GRADS.get(k);
  if (pending && !def.grad) def.grad = pending;
  list.push(def);
  REGISTRY.set(k, list);
}

/** Finds the definition of an op for an opset (the newest entry whose range covers it). */
export function getOp(domain: string, opType: string, opset = Infinity): OpDef | undefined {
  const list = REGISTRY.get(key(domain, opType));
  if (!list) return undefined;
  return list.find((d) => {
    const [lo, hi] = d.opsets ?? [1, undefined];
    return opset >= lo && opset <= (hi ?? Infinity);
  }) ?? list[list.length - 1];
}

/** Gradient rules defined before their op was registered; attached by `registerOp` (load order is free). */
const PENDING_GRADS = new Map<string, GradRule>();

/**
 * Attaches a gradient rule to an op (all of its opset entries). The op may be registered later: the rule
 * waits and `registerOp` attaches it. Defining two rules for one op throws.
 */
export function defineGrad(domain: string, opType: string, grad: GradRule): void {
  const k = key(domain, opType);
  if (PENDING_GRADS.has(k)) throw new Error(`defineGrad: op ${k} already has a gradient rule`);
  PENDING_GRADS.set(k, grad);
  for (const d of REGISTRY.get(k) ?? []) {
    if (d.grad) throw new Error(`defineGrad: op ${k} already has a gradient rule`);
    d.grad = grad;
  }
}

/** The gradient rule of an op, whether or not its shape/cost entry is registered yet. */
export function getGrad(domain: string, opType: string): GradRule | undefined {
  return PENDING_GRADS.get(key(domain, opType));
}

export function allOps(): OpDef[] {
  return [...REGISTRY.values()].flat();
}

/** Pruning rules (src/ops/prune), keyed like ops; see prune-rule.ts. */
const PRUNE_RULES = new Map<string, PruneRule>();

/** Defines how an op carries and couples channels for structured pruning; defining one twice throws. */
export function definePrune(domain: string, opTypes: string | readonly string[], rule: PruneRule): void {
  for (const opType of typeof opTypes === 'string' ? [opTypes] : opTypes) {
    const k = key(domain, opType);
    if (PRUNE_RULES.has(k)) throw new Error(`definePrune: op ${k} already has a pruning rule`);
    PRUNE_RULES.set(k, rule);
  }
}

/** The pruning rule of an op, if one is defined. */
export function getPruneRule(domain: string, opType: string): PruneRule | undefined {
  return PRUNE_RULES.get(key(domain, opType));
}

/**
 * The arithmetic of an op's kernel (see OpDef.arithmetic), looked up in its domain and then in the standard
 * and com.microsoft domains: ONNX Runtime's internal domains (com.microsoft.nchwc, com.ms.internal.nhwc)
 * hold the same ops in other layouts.
 */
export function opArithmetic(domain: string, opType: string): 'float' | 'int8' | undefined {
  return kernelTrait(domain, opType, (d) => d.arithmetic);
}

/** Whether an op converts between float and integer encodings (OpDef.quantConversion); domains as opArithmetic. */
export function opIsQuantConversion(domain: string, opType: string): boolean {
  return kernelTrait(domain, opType, (d) => d.quantConversion) === true;
}

function kernelTrait<T>(domain: string, opType: string, get: (def: OpDef) => T | undefined): T | undefined {
  for (const d of [domain, '', 'com.microsoft']) {
    const def = getOp(d, opType);
    const v = def ? get(def) : undefined;
    if (v !== undefined) return v;
  }
  return undefined;
}
