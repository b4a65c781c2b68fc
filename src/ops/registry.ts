import type { DataType } from '../ir/dtype.js';
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
  /** What passes need to know about the op beyond its shapes and cost (see OpTraits). */
  traits?: OpTraits;
}

/**
 * Per-op facts the passes act on, kept on the registry entries so that no pass keeps its own list of op
 * names (as ONNX Runtime's quantization registry and OnnxSlim's pattern registry keep one table). Set inline
 * in `registerOp` or with `defineTraits` beside an op family's registration; read with `opTraits`/`opsWith`.
 */
export interface OpTraits {
  /** Constant folding never evaluates it: its result is more than a function of its inputs, or folding it loses meaning (control flow, sequences, quantization boundaries). */
  neverFold?: boolean;
  /** Its output can be far larger than its inputs: constant folding never evaluates it without a known output size. */
  sizeInflating?: boolean;
  /** Its output is random: never folded or merged with another node. */
  nondeterministic?: boolean;
  /** Swapping its two inputs gives the same result: rewrite patterns match it either way round. */
  commutative?: boolean;
  /** Why it must stay float32 when a model is converted to fp16/bf16 (src/quantize/float16). */
  halfUnsafe?: string;
  /** Opsets at which its meaning or signature changed in a way inferopt's opset upgrades do not rewrite: an upgrade across one is refused. */
  breaksAt?: readonly number[];
  /** For ops carrying a model's multiply-adds: the kernel family quantizing or pruning their weights speeds up. */
  kernel?: 'conv' | 'gemm';
  /** Structured pruning granularities whose cuts shrink its work (what the search expects a prune step to speed up). */
  prunedBy?: readonly ('channel' | 'head' | 'ffn')[];
  /** How quantization treats it (src/quantize). */
  quant?: QuantTraits;
  /**
   * The interval its output always lies in, from its attributes and constant inputs (Clip's min/max, Relu
   * [0, ∞), Sigmoid [0, 1]…): what quantization reads instead of naming the op. Read with `outputRange`.
   */
  outputRange?: (node: Node) => ValueRange;
  /**
   * The opsets at which its signature changed in a way inferopt's opset upgrades rewrite (Slice's and TopK's
   * attributes became inputs at 10, Upsample became Resize at 10, Pad's and Clip's at 11, ReduceSum's axes at
   * 13 and the other Reduce ops' at 18): data read by the one interpreter, src/ops/signature.ts, for the
   * quantizer's upgrade to 10/11 and `--target std`'s to 20. Read with `signatureChangeAt`.
   */
  signatureChanges?: readonly SignatureChange[];
}

/** How an op's signature changed at one opset: attributes that became inputs, and/or a new name. */
export interface SignatureChange {
  /** The opset at which the new signature starts. */
  at: number;
  /** Attributes that became inputs there, in order. An absent attribute leaves its input absent. */
  attrsToInputs?: readonly AttrToInput[];
  /** The op type it is from this opset on, with the same inputs and attributes (Upsample → Resize at 10). */
  renamedTo?: string;
}

/** One attribute that became an input: its value, as a constant of this type and shape, is put at `input`. */
export interface AttrToInput {
  attr: string;
  /** The input's index; the optional inputs before it stay empty where absent. */
  input: number;
  /**
   * Element type of the new input: a fixed one, or 'data': the element type of the node's input 0 (Pad's value,
   * Clip's bounds), from its declared type or else inference; where neither tells, the upgrade is refused.
   */
  dtype: DataType | 'data';
  /** 'vector': 1-D of the attribute's values (a single int or float gives shape [1]); 'scalar': 0-D (one value). */
  shape: 'vector' | 'scalar';
  /** The input's default: an attribute holding it is dropped without adding an input (Pad's value 0). An absent attribute leaves the input absent. */
  omitIf?: number;
}

/**
 * Bounds of an op's output: −Infinity / Infinity where it has none; null where the bound is an input that is
 * not a constant (the range is then unknown when the model is built). Closed: in float32 Sigmoid reaches 0 and 1.
 */
export interface ValueRange {
  min: number | null;
  max: number | null;
}

export interface QuantTraits {
  /** Static (QDQ) quantization puts Q/DQ pairs on its float inputs and output, which ONNX Runtime fuses into an integer kernel. */
  qdq?: boolean;
  /** The input holding its weight (static: per channel where asked) and its bias (static: int32 at x_scale·w_scale). */
  weightInput?: number;
  biasInput?: number;
  /** Dynamic and weight-only quantization rewrite it around an integer weight. */
  weights?: boolean;
  /** It holds weight tables that every mode stores in integers (fused QKV projections, embedding tables: src/quantize/fused). */
  tables?: boolean;
  /** It moves or selects data without changing values: static quantization lets its output reuse its input's parameters. */
  passThrough?: boolean;
  /** An activation the Q after a quantized op absorbs when the quantized range starts at zero (ORT's Relu/ClipQuantFusion). */
  absorbedByQ?: boolean;
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
  const traits = PENDING_TRAITS.get(k);
  if (traits) def.traits = mergeTraits(def.traits, traits, k);
  TRAIT_CACHE.clear();
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

/** Traits defined before their op was registered; attached by `registerOp` (load order is free). */
const PENDING_TRAITS = new Map<string, OpTraits>();

function mergeTraits(a: OpTraits | undefined, b: OpTraits, k: string): OpTraits {
  const out: OpTraits = { ...a };
  for (const [name, v] of Object.entries(b) as [keyof OpTraits, unknown][]) {
    if (name === 'quant') out.quant = { ...a?.quant, ...b.quant };
    else if (out[name] !== undefined && out[name] !== v) throw new Error(`defineTraits: op ${k} has trait ${name} twice`);
    else (out as Record<string, unknown>)[name] = v;
  }
  return out;
}

/**
 * Adds traits to ops (every opset entry), for families registered in a loop; an op may be registered
 * later. Setting one trait of an op to two different values throws.
 */
export function defineTraits(domain: string, opTypes: string | readonly string[], traits: OpTraits): void {
  for (const opType of typeof opTypes === 'string' ? [opTypes] : opTypes) {
    const k = key(domain, opType);
    PENDING_TRAITS.set(k, mergeTraits(PENDING_TRAITS.get(k), traits, k));
    for (const d of REGISTRY.get(k) ?? []) d.traits = mergeTraits(d.traits, traits, k);
  }
  TRAIT_CACHE.clear();
}

/**
 * The traits of an op: those of its entries in its domain, else in the standard and com.microsoft domains
 * (as opArithmetic: ONNX Runtime's internal domains hold the same ops in other layouts). {} when none.
 */
export function opTraits(domain: string, opType: string): Readonly<OpTraits> {
  const k = key(domain, opType);
  let t = TRAIT_CACHE.get(k);
  if (!t) {
    t = {};
    for (const d of [domain === 'ai.onnx' ? '' : domain, '', 'com.microsoft']) {
      const list = REGISTRY.get(key(d, opType));
      if (!list) continue;
      t = list.reduce<OpTraits>((acc, def) => (def.traits ? mergeTraits(acc, def.traits, key(d, opType)) : acc), {});
      break;
    }
    TRAIT_CACHE.set(k, t);
  }
  return t;
}

/** The range of a node's output (see OpTraits.outputRange), or undefined when its op has no bounded range. */
export function outputRange(node: Node): ValueRange | undefined {
  return opTraits(node.domain, node.opType).outputRange?.(node);
}

/** The signature change of an op at exactly this opset (see OpTraits.signatureChanges), if it has one. */
export function signatureChangeAt(domain: string, opType: string, opset: number): SignatureChange | undefined {
  return opTraits(domain, opType).signatureChanges?.find((c) => c.at === opset);
}

/** opTraits answers, dropped whenever an op or a trait is added. */
const TRAIT_CACHE = new Map<string, OpTraits>();

/** The op types (any domain, each once, in registration order) whose traits satisfy `pred`. */
export function opsWith(pred: (t: OpTraits) => boolean): string[] {
  const out = new Set<string>();
  for (const list of REGISTRY.values()) for (const def of list) if (def.traits && pred(def.traits)) out.add(def.opType);
  return [...out];
}
