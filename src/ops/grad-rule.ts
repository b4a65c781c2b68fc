import type { AttrInput } from '../ir/builder.js';
import type { DataType } from '../ir/dtype.js';
import type { Node, Value } from '../ir/graph.js';

/**
 * The shape of a gradient rule, consumed by src/train's backward builder (in the spirit of tfjs's GradConfig):
 * what the backward pass keeps alive, and one lazily built gradient per positional input (null where no
 * gradient flows: indices, shapes, axes). Rules emit standard ONNX nodes through `GradContext`, so ONNX
 * Runtime runs the backward pass with its own kernels.
 */

/** Emits nodes into the training graph. Shapes are static: the training graph is built for one batch size. */
export interface GradEmitter {
  op(opType: string, inputs: readonly (Value | null)[], attrs?: Record<string, AttrInput | undefined>): Value;
  opN(opType: string, inputs: readonly (Value | null)[], attrs: Record<string, AttrInput | undefined>, outputs: number): Value[];
  /** A scalar constant of `v`'s element type (float32 when omitted). */
  scalar(value: number, like?: Value): Value;
  /** An int64 1-D constant (axes, shapes, pads). */
  ints(values: readonly number[]): Value;
  /** A constant tensor of `v`'s element type. */
  constant(dims: readonly number[], data: ArrayLike<number>, like?: Value): Value;
  /** The static shape of a forward value (or of any value the emitter knows). */
  shape(v: Value): number[];
  dtype(v: Value): DataType;
  /** Records the static shape of a value built by a rule, so later rules can ask for it. */
  setShape(v: Value, shape: readonly number[], like?: Value): Value;
}

export interface GradContext extends GradEmitter {
  node: Node;
  /** Forward input i (throws when absent). */
  x(i: number): Value;
  /** True when forward input i is present. */
  has(i: number): boolean;
  /** Forward output i. */
  y(i: number): Value;
  /** Gradient flowing into output i, or null when nothing downstream needs it. */
  dy(i?: number): Value | null;
  /**
   * Sums a broadcast gradient over the broadcast axes and reshapes it to input i's shape; `gShape` is the
   * gradient's shape (default: output 0's).
   */
  reduceTo(g: Value, i: number, gShape?: readonly number[]): Value;
}

/** Builds the gradient of one input; only called when that input needs a gradient. */
export type GradBuilder = () => Value;

/**
 * Replaces a node by its training-time form (BatchNormalization with batch statistics, Dropout that drops).
 * Returns the values that replace the node's outputs, plus state updates (running averages) to write back.
 */
export interface TrainingForm {
  outputs: Value[];
  stateUpdates?: { state: Value; next: Value }[];
}

export interface GradRule {
  /**
   * The op's integer outputs carry a gradient: quantized values stand for floats (straight-through
   * estimation for fake quantization). Without it, integer outputs end every gradient path.
   */
  integerOutputGrads?: boolean;
  /** Forward inputs/outputs the backward pass reads (what training keeps alive between passes). */
  saves?: { inputs?: readonly number[]; outputs?: readonly number[] };
  /** One builder per positional input (null = not differentiable). */
  grads(ctx: GradContext): readonly (GradBuilder | null)[];
  /** When set, the node is rewritten this way before differentiation in training graphs. */
  trainingForm?(ctx: Omit<GradContext, 'dy' | 'reduceTo'>): TrainingForm;
}
