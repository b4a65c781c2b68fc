import { DataType } from './dtype.js';
import { Graph, Model, Node, Value, type AttrValue, type Attribute } from './graph.js';
import { Tensor } from './tensor.js';
import { tensorType, type Dim, type ValueType } from './types.js';

/**
 * Attribute values as written in code: integers become INT, other numbers FLOAT, arrays of integers INTS.
 * Wrap with `attr.float(1)` / `attr.floats([1, 2])` where a float attribute has an integral value.
 */
export type AttrInput = number | string | number[] | string[] | Tensor | Graph | AttrValue;

export const attr = {
  float: (value: number): AttrValue => ({ type: 'float', value }),
  floats: (value: number[]): AttrValue => ({ type: 'floats', value }),
  int: (value: number): AttrValue => ({ type: 'int', value }),
  ints: (value: number[]): AttrValue => ({ type: 'ints', value }),
};

export function toAttrValue(v: AttrInput): AttrValue {
  if (typeof v === 'number') return Number.isInteger(v) ? { type: 'int', value: v } : { type: 'float', value: v };
  if (typeof v === 'string') return { type: 'string', value: v };
  if (v instanceof Tensor) return { type: 'tensor', value: v };
  if (v instanceof Graph) return { type: 'graph', value: v };
  if (Array.isArray(v)) {
    if (v.length > 0 && typeof v[0] === 'string') return { type: 'strings', value: v as string[] };
    const nums = v as number[];
    return nums.every(Number.isInteger) ? { type: 'ints', value: nums } : { type: 'floats', value: nums };
  }
  return v;
}

export function toAttributes(attrs: Record<string, AttrInput | undefined>): Attribute[] {
  const out: Attribute[] = [];
  for (const [name, v] of Object.entries(attrs)) if (v !== undefined) out.push({ name, value: toAttrValue(v) });
  return out;
}

export interface OpOptions {
  domain?: string;
  name?: string;
  /** Number of outputs (default 1). */
  outputs?: number;
  /** Base names for outputs. */
  outputNames?: string[];
  /** Insert before this node instead of appending. */
  before?: Node;
}

/**
 * Builds graphs in code:
 * ```ts
 * const b = new GraphBuilder();
 * const x = b.input('x', DataType.FLOAT, [1, 3, 'H', 'W']);
 * const y = b.op('Relu', [b.op('Conv', [x, b.init('w', w)], { pads: [1, 1, 1, 1] })]);
 * b.output(y);
 * const model = b.model({ opset: 17 });
 * ```
 */
export class GraphBuilder {
  readonly graph: Graph;
  private counters = new Map<string, number>();

  constructor(graph?: Graph) {
    this.graph = graph ?? new Graph('main');
  }

  input(name: string, elemType: DataType, shape?: Dim[]): Value {
    const v = new Value(this.graph.uniqueName(name), tensorType(elemType, shape));
    return this.graph.addInput(v);
  }

  /** Adds an initializer (the name is made unique). */
  init(name: string, t: Tensor): Value {
    return this.graph.addInitializer(t, this.graph.uniqueName(name));
  }

  /** A float32 initializer from numbers. */
  floats(name: string, dims: number[], data: ArrayLike<number>): Value {
    return this.init(name, Tensor.float(dims, data));
  }

  /** An int64 initializer from numbers (shapes, axes). */
  ints(name: string, data: number[], dims: number[] = [data.length]): Value {
    return this.init(name, Tensor.int64(dims, data));
  }

  /** A scalar initializer. */
  scalar(name: string, value: number, dtype = DataType.FLOAT): Value {
    return this.init(name, Tensor.scalar(dtype, value));
  }

  private nodeName(opType: string): string {
    const k = (this.counters.get(opType) ?? 0) + 1;
    this.counters.set(opType, k);
    return this.graph.uniqueName(`${opType}_${k}`);
  }

  /** Adds a node with one output and returns it. */
  op(opType: string, inputs: (Value | null)[], attrs: Record<string, AttrInput | undefined> = {}, opts: Omit<OpOptions, 'outputs'> = {}): Value {
    return this.opN(opType, inputs, attrs, { ...opts, outputs: 1 })[0]!;
  }

  /** Adds a node and returns all of its outputs. */
  opN(opType: string, inputs: (Value | null)[], attrs: Record<string, AttrInput | undefined> = {}, opts: OpOptions = {}): Value[] {
    const name = opts.name ? this.graph.uniqueName(opts.name) : this.nodeName(opType);
    const count = opts.outputs ?? 1;
    const outputs: Value[] = [];
    for (let i = 0; i < count; i++) {
      const base = opts.outputNames?.[i] ?? (count === 1 ? `${name}_out` : `${name}_out${i}`);
      outputs.push(new Value(this.graph.uniqueName(base)));
    }
    const node = new Node(opType, inputs, outputs, { name, domain: opts.domain ?? '', attrs: toAttributes(attrs) });
    this.graph.addNode(node, opts.before);
    return outputs;
  }

  /** Marks values as graph outputs, optionally renaming them and declaring their type. */
  output(v: Value, name?: string, type?: ValueType): Value {
    if (name && name !== v.name) v.name = this.graph.uniqueName(name);
    if (type) v.type = type;
    this.graph.outputs.push(v);
    return v;
  }

  /** Wraps the graph in a model. */
  model(opts: { opset?: number; irVersion?: number; extraOpsets?: Record<string, number>; producer?: string } = {}): Model {
    const m = new Model(this.graph);
    m.irVersion = opts.irVersion ?? 8;
    m.opsetImports = [{ domain: '', version: opts.opset ?? 17 }];
    for (const [domain, version] of Object.entries(opts.extraOpsets ?? {})) m.opsetImports.push({ domain, version });
    m.producerName = opts.producer ?? 'inferopt';
    return m;
  }
}
