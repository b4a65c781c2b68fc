import { GraphBuilder, type AttrInput } from '../ir/builder.js';
import { DataType } from '../ir/dtype.js';
import type { Graph, Value } from '../ir/graph.js';
import { Tensor } from '../ir/tensor.js';
import type { GradEmitter } from '../ops/grad-rule.js';

/** What is known statically about a value: the training graph is built for one concrete batch shape. */
export interface ValueFacts {
  dims: number[];
  dtype: DataType;
}

/**
 * Appends nodes to a graph for the gradient rules, keeping the static shape and dtype of every value it
 * knows (forward values from a probe run, new values where rules record them). Small constants are shared.
 */
export class GraphEmitter implements GradEmitter {
  readonly builder: GraphBuilder;
  private consts = new Map<string, Value>();

  constructor(
    readonly graph: Graph,
    readonly facts: Map<Value, ValueFacts>,
  ) {
    this.builder = new GraphBuilder(graph);
  }

  op(opType: string, inputs: readonly (Value | null)[], attrs: Record<string, AttrInput | undefined> = {}): Value {
    return this.builder.op(opType, [...inputs], attrs);
  }

  opN(opType: string, inputs: readonly (Value | null)[], attrs: Record<string, AttrInput | undefined>, outputs: number): Value[] {
    return this.builder.opN(opType, [...inputs], attrs, { outputs });
  }

  dtype(v: Value): DataType {
    const f = this.facts.get(v);
    if (f) return f.dtype;
    if (v.type?.kind === 'tensor') return v.type.elemType;
    return DataType.FLOAT;
  }

  shape(v: Value): number[] {
    const f = this.facts.get(v);
    if (f) return f.dims;
    const t = v.initializer;
    if (t) return [...t.dims];
    if (v.type?.kind === 'tensor' && v.type.shape?.every((d) => typeof d === 'number')) return v.type.shape as number[];
    throw new Error(`training graph: the shape of '${v.name}' is not known`);
  }

  setShape(v: Value, dims: readonly number[], like?: Value): Value {
    this.facts.set(v, { dims: [...dims], dtype: like ? this.dtype(like) : DataType.FLOAT });
    return v;
  }

  constant(dims: readonly number[], data: ArrayLike<number>, like?: Value): Value {
    const dtype = like ? this.dtype(like) : DataType.FLOAT;
    const small = data.length <= 16;
    const k = small ? `${dtype}|${dims.join('x')}|${Array.from(data).join(',')}` : '';
    const hit = small ? this.consts.get(k) : undefined;
    if (hit) return hit;
    const v = this.builder.init('c', Tensor.fromArray(dtype, [...dims], data));
    this.facts.set(v, { dims: [...dims], dtype });
    if (small) this.consts.set(k, v);
    return v;
  }

  scalar(value: number, like?: Value): Value {
    return this.constant([], [value], like);
  }

  ints(values: readonly number[]): Value {
    const k = `i64|${values.join(',')}`;
    const hit = this.consts.get(k);
    if (hit) return hit;
    const v = this.builder.init('c', Tensor.int64([values.length], values));
    this.facts.set(v, { dims: [values.length], dtype: DataType.INT64 });
    this.consts.set(k, v);
    return v;
  }
}
