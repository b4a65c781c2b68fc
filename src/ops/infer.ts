import { DataType } from '../ir/dtype.js';
import { outerReads, type Graph, type Model, type Node, type Value } from '../ir/graph.js';
import { isTensorType, type Dim, type ValueType } from '../ir/types.js';
import { getOp, type InferContext } from './registry.js';
import { MAX_VALUE_ELEMS } from './shape-ops.js';
import { numel, ShapeError } from './util.js';

/**
 * Shape and type inference over a whole model: nodes in topological order, each op's `infer` from the
 * registry, and small constant values (`partialValue`) carried along so that shape subgraphs resolve.
 * Unknown ops are reported, not fatal; their outputs keep any type the model declared (value_info).
 */

export interface InferOptions {
  /** Values for symbolic dims (`batch`, `seq`…), applied to the inputs and declared types. */
  dims?: Record<string, number>;
  /** Concrete shapes for named graph inputs (override the declared shape). */
  shapes?: Record<string, number[]>;
}

export interface InferReport {
  unknownOps: { op: string; count: number }[];
  failed: { node: string; reason: string }[];
}

export interface ShapeAnalysis {
  typeOf(v: Value): ValueType | undefined;
  valueOf(v: Value): Dim[] | undefined;
  /** The inference context of a node, as its op's `infer` and `cost` see it. */
  contextOf(node: Node): InferContext;
  report: InferReport;
}

/** Runs inference and writes the types onto every node output it could type. */
export function inferShapes(model: Model, opts: InferOptions = {}): InferReport {
  const a = analyzeShapes(model, opts);
  const write = (g: Graph) => {
    for (const n of g.nodes) {
      for (const o of n.outputs) {
        const t = o.name ? a.typeOf(o) : undefined;
        if (t) o.type = t;
      }
      for (const s of n.subgraphs()) write(s);
    }
  };
  write(model.graph);
  return a.report;
}

/** Infers types without changing the model. */
export function analyzeShapes(model: Model, opts: InferOptions = {}): ShapeAnalysis {
  return new Analyzer(model, opts).run();
}

const CONTROL_FLOW = new Set(['If', 'Loop', 'Scan']);

class Analyzer implements ShapeAnalysis {
  private readonly types = new Map<Value, ValueType>();
  private readonly values = new Map<Value, Dim[] | null>();
  private readonly unknown = new Map<string, number>();
  readonly report: InferReport = { unknownOps: [], failed: [] };

  constructor(
    private readonly model: Model,
    private readonly opts: InferOptions,
  ) {}

  run(): this {
    this.walk(this.model.graph);
    this.report.unknownOps = [...this.unknown].map(([op, count]) => ({ op, count })).sort((x, y) => y.count - x.count || x.op.localeCompare(y.op));
    return this;
  }

  typeOf(v: Value): ValueType | undefined {
    return this.types.get(v) ?? this.declared(v);
  }

  valueOf(v: Value): Dim[] | undefined {
    const known = this.values.get(v);
    if (known !== undefined) return known ?? undefined;
    const t = v.constTensor();
    let value: Dim[] | null = null;
    if (t && t.size <= MAX_VALUE_ELEMS && t.dtype !== DataType.STRING) {
      try {
        value = t.toNumbers();
      } catch {
        value = null; // element type without a numeric view
      }
    }
    this.values.set(v, value);
    return value ?? undefined;
  }

  contextOf(node: Node): InferContext {
    const inputs = node.inputs.map((v) => (v ? this.typeOf(v) : undefined));
    return {
      node,
      inputs,
      constInput: (i) => node.inputs[i]?.constTensor(),
      inputValue: (i) => {
        const v = node.inputs[i];
        return v ? this.valueOf(v) : undefined;
      },
      opset: this.opsetOf(node),
    };
  }

  private opsetOf(node: Node): number {
    return this.model.opset(node.domain) ?? 1;
  }

  /** A type as the model declares it, with symbolic dims and input shapes substituted. */
  private declared(v: Value): ValueType | undefined {
    if (v.initializer) return { kind: 'tensor', elemType: v.initializer.dtype, shape: [...v.initializer.dims] };
    const t = v.type;
    if (!isTensorType(t) || !t.shape) return t;
    const given = v.producer === null ? this.opts.shapes?.[v.name] : undefined;
    if (given) return { ...t, shape: [...given] };
    const dims = this.opts.dims;
    if (!dims) return t;
    return { ...t, shape: t.shape.map((d) => (typeof d === 'string' && dims[d] !== undefined ? dims[d]! : d)) };
  }

  private walk(g: Graph): void {
    for (const node of topologicalOrder(g)) {
      for (const s of node.subgraphs()) this.walk(s);
      if (CONTROL_FLOW.has(node.opType) && node.domain === '') this.controlFlow(node);
      else this.inferNode(node);
    }
  }

  private inferNode(node: Node): void {
    const def = getOp(node.domain, node.opType, this.opsetOf(node));
    if (!def?.infer) {
      this.unknown.set(node.qualifiedType, (this.unknown.get(node.qualifiedType) ?? 0) + 1);
      return;
    }
    const ctx = this.contextOf(node);
    let outputs: (ValueType | undefined)[];
    try {
      outputs = def.infer(ctx);
    } catch (e) {
      // the model's shapes contradict the op (reported); anything else is a bug in the op's rule (thrown)
      if (!(e instanceof ShapeError)) throw inferenceBug('shape inference', node, e);
      this.report.failed.push({ node: node.name || node.qualifiedType, reason: e.message });
      return;
    }
    node.outputs.forEach((o, i) => {
      const t = mergeDeclared(outputs[i], this.declared(o));
      if (t) this.types.set(o, t);
    });
    if (!def.partialValue) return;
    try {
      const values = def.partialValue(ctx, outputs);
      node.outputs.forEach((o, i) => {
        const v = values[i];
        const n = numel(this.typeOf(o));
        // a value is only trusted when its length matches the inferred element count
        if (v && v.length <= MAX_VALUE_ELEMS && (n === undefined || n === v.length)) this.values.set(o, v);
      });
    } catch (e) {
      // values are an optional refinement: inconsistent shapes leave them unknown; a bug is thrown
      if (!(e instanceof ShapeError)) throw inferenceBug('value inference', node, e);
    }
  }

  /** If: the branches' output types (dims that differ become unknown); Loop: carried types, and scan outputs with an unknown leading dim. */
  private controlFlow(node: Node): void {
    const graphAttr = (name: string) => {
      const a = node.attr(name);
      return a?.type === 'graph' ? a.value : undefined;
    };
    node.outputs.forEach((o, i) => {
      let t: ValueType | undefined;
      if (node.opType === 'If') {
        const [a, b] = [graphAttr('then_branch'), graphAttr('else_branch')].map((g) => g?.outputs[i] && this.typeOf(g.outputs[i]!));
        t = joinTypes(a, b);
      } else if (node.opType === 'Loop') {
        const body = graphAttr('body');
        const carried = node.inputs.length - 2;
        const bt = body?.outputs[i + 1] && this.typeOf(body.outputs[i + 1]!);
        t = i < carried ? bt : isTensorType(bt) && bt.shape ? { ...bt, shape: [null, ...bt.shape] } : undefined;
      } else if (node.opType === 'Scan' && this.opsetOf(node) >= 9) {
        t = this.scanOutput(node, graphAttr('body'), i);
      }
      const merged = mergeDeclared(t, this.declared(o));
      if (merged) this.types.set(o, merged);
    });
  }

  /** Scan (opset 9+): N final states as the body returns them; scan outputs stacked along their output axis. */
  private scanOutput(node: Node, body: Graph | undefined, i: number): ValueType | undefined {
    const bt = body?.outputs[i] && this.typeOf(body.outputs[i]!);
    const scanInputs = node.attrInt('num_scan_inputs', 0);
    const states = node.inputs.length - scanInputs;
    if (i < states) return bt;
    const first = node.inputs[states];
    const firstShape = first ? this.typeOf(first) : undefined;
    const inAxis = node.attrInts('scan_input_axes')?.[0] ?? 0;
    const seq = isTensorType(firstShape) && firstShape.shape ? (firstShape.shape.at(inAxis) ?? null) : null;
    if (!isTensorType(bt)) return undefined;
    if (!bt.shape) return { kind: 'tensor', elemType: bt.elemType };
    const rank = bt.shape.length + 1;
    const axis = node.attrInts('scan_output_axes')?.[i - states] ?? 0;
    const a = axis < 0 ? axis + rank : axis;
    return { ...bt, shape: [...bt.shape.slice(0, a), seq, ...bt.shape.slice(a)] };
  }
}

/** A type both branches agree on: same element type, dims kept where equal (unknown elsewhere). */
function joinTypes(a: ValueType | undefined, b: ValueType | undefined): ValueType | undefined {
  if (!isTensorType(a) || !isTensorType(b) || a.elemType !== b.elemType) return undefined;
  if (!a.shape || !b.shape || a.shape.length !== b.shape.length) return { kind: 'tensor', elemType: a.elemType };
  return { kind: 'tensor', elemType: a.elemType, shape: a.shape.map((d, k) => (d === b.shape![k] ? d : null)) };
}

/**
 * The inferred type, with dims it could not determine taken from the declared type (value_info or graph
 * output) when the ranks agree and the declared dim is symbolic; the declared type when nothing was
 * inferred. Declared numbers are not trusted over an unknown: they may be left by an earlier inference run
 * with other dims.
 */
function mergeDeclared(inferred: ValueType | undefined, declared: ValueType | undefined): ValueType | undefined {
  if (!inferred) return declared;
  if (!isTensorType(inferred) || !isTensorType(declared) || !declared.shape) return inferred;
  const symbolic = declared.shape.map((d) => (typeof d === 'string' ? d : null));
  if (!inferred.shape) return { ...inferred, shape: symbolic };
  if (inferred.shape.length !== declared.shape.length) return inferred;
  return { ...inferred, shape: inferred.shape.map((d, i) => (d === null ? symbolic[i]! : d)) };
}

/** Nodes of `g` in dependency order (the stored order where it is valid), without changing the graph. */
export function topologicalOrder(g: Graph): Node[] {
  const inGraph = new Set(g.nodes);
  const deps = (n: Node): Node[] => {
    const vs = [...n.inputs];
    for (const s of n.subgraphs()) vs.push(...outerReads(s));
    return vs.map((v) => v?.producer).filter((p): p is Node => !!p && inGraph.has(p));
  };
  const state = new Map<Node, 'visiting' | 'done'>();
  const order: Node[] = [];
  for (const root of g.nodes) {
    if (state.has(root)) continue;
    state.set(root, 'visiting');
    const stack: { node: Node; deps: Node[]; next: number }[] = [{ node: root, deps: deps(root), next: 0 }];
    while (stack.length) {
      const top = stack[stack.length - 1]!;
      if (top.next < top.deps.length) {
        const d = top.deps[top.next++]!;
        // a node already being visited means a cycle: an invalid graph, walked in stored order
        if (!state.has(d)) {
          state.set(d, 'visiting');
          stack.push({ node: d, deps: deps(d), next: 0 });
        }
        continue;
      }
      state.set(top.node, 'done');
      order.push(top.node);
      stack.pop();
    }
  }
  return order;
}

/** An exception from an op's rule that is not about the model: a bug in inferopt, named with the node and op. */
export function inferenceBug(what: string, node: Node, e: unknown): Error {
  const err = new Error(`${what} of node '${node.name}' (${node.qualifiedType}) failed: ${(e as Error)?.message ?? String(e)} — a bug in inferopt's rule for ${node.qualifiedType}, not a problem of the model`);
  err.cause = e;
  return err;
}
