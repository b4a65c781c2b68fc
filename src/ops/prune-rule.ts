import type { Node } from '../ir/graph.js';
import type { Tensor } from '../ir/tensor.js';

/**
 * The shape of a pruning rule, consumed by src/prune's dependency analysis (DepGraph's idea, done on ONNX
 * values): how a node moves channels from its inputs to its outputs, which channels it couples, and what
 * must be cut from its constant inputs when channels go.
 *
 * A channel is an integer id. Every position along a tracked axis of a value carries one id; positions with
 * the same id are removed together (a Flatten repeats one channel's id over its H·W block, a head's id covers
 * its head_dim columns). Ids are joined by `union` (a residual Add couples the channels of both operands) and
 * made unremovable by `block` with a reason, the way rewrite rules refuse.
 */

/** One tracked axis of a value: `ids[i]` is the channel at position i of `axis`. */
export interface ChannelMap {
  axis: number;
  ids: Int32Array;
}

export interface PruneContext {
  node: Node;
  opset: number;
  /** Static shape of input i / output i (undefined when unknown or symbolic). */
  inShape(i: number): number[] | undefined;
  outShape(i: number): number[] | undefined;
  /** The tracked channels of input i, if any. */
  chan(i: number): ChannelMap | undefined;
  /** True when input i is a constant (initializer or Constant node) that this node may cut. */
  isConst(i: number): boolean;
  /** The contents of a constant integer input (axes, pads, a Reshape target), if constant. */
  constInts(i: number): number[] | undefined;
  /** New channel ids made by this node (Conv filters, Gemm/MatMul output features), `n` of them. */
  fresh(n: number): Int32Array;
  /** Couples channels position by position (both arrays have the same length). */
  union(a: Int32Array, b: Int32Array): void;
  /** Makes channels unremovable, saying why. */
  block(ids: Int32Array, reason: string): void;
  /** When channels go, cut constant input `input` along `axis`: position i goes with channel ids[i]. */
  cut(input: number, axis: number, ids: Int32Array, role?: CutRole): void;
  /** Runs after the cuts (attributes such as Conv `group`, a Reshape's target). */
  fix(f: (fx: FixContext) => void): void;
}

export interface FixContext {
  /** How many positions of `ids` are kept. */
  kept(ids: Int32Array): number;
  /** Gives `node` input `input` a new constant of its own (the old one may be shared). */
  setConst(node: Node, input: number, t: Tensor): void;
}

/**
 * What a cut is, for importance criteria: `out` = the weights that compute the channel (filter, output
 * column), `in` = the weights that read it, `scale` = a normalisation scale (BatchNorm γ), `other` = biases,
 * running statistics and the like.
 */
export type CutRole = 'out' | 'in' | 'scale' | 'other';

/** Returns the tracked channels of each output (undefined = none). */
export type PruneRule = (ctx: PruneContext) => (ChannelMap | undefined)[];
