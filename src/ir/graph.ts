import type { Tensor } from './tensor.js';
import type { ValueType } from './types.js';

/**
 * The in-memory model. Values are objects, not names: a node's inputs point at the Values they read, each
 * Value knows its producer and its uses, so replacing a value everywhere is one call. Names only matter on
 * save and must be unique per model (`Graph.uniqueName`). A subgraph (If/Loop/Scan body) may read values of
 * enclosing graphs; those uses are recorded on the outer Value, so edits see them too.
 */

export type AttrValue =
  | { type: 'float'; value: number }
  | { type: 'int'; value: number }
  | { type: 'string'; value: string }
  | { type: 'tensor'; value: Tensor }
  | { type: 'graph'; value: Graph }
  | { type: 'floats'; value: number[] }
  | { type: 'ints'; value: number[] }
  | { type: 'strings'; value: string[] }
  | { type: 'tensors'; value: Tensor[] }
  | { type: 'graphs'; value: Graph[] }
  /** Attribute kinds we do not model (sparse tensors, type protos): the AttributeProto bytes as read. */
  | { type: 'raw'; bytes: Uint8Array };

export interface Attribute {
  name: string;
  /** Set inside function bodies: the attribute refers to the function's attribute of that name. */
  refAttrName?: string;
  docString?: string;
  value: AttrValue;
}

export interface Use {
  node: Node;
  index: number;
}

export class Value {
  /** The node that computes it; null for graph inputs and initializers. */
  producer: Node | null = null;
  /** Output index within the producer. */
  producerIndex = 0;
  readonly uses: Use[] = [];
  /** Constant data when this value is an initializer. */
  initializer?: Tensor;
  docString = '';
  /** metadata_props and other unmodelled ValueInfoProto fields. */
  unknown: Uint8Array[] = [];

  constructor(
    public name: string,
    public type?: ValueType,
  ) {}

  get isInitializer(): boolean {
    return this.initializer !== undefined;
  }

  /** The constant tensor behind this value: an initializer, or the output of a `Constant` node. */
  constTensor(): Tensor | undefined {
    if (this.initializer) return this.initializer;
    const p = this.producer;
    if (p && p.opType === 'Constant' && p.domain === '') {
      const a = p.attrs.get('value');
      if (a?.value.type === 'tensor') return a.value.value;
    }
    return undefined;
  }

  /** Replaces every use of this value (in this graph and its subgraphs) by `other`. */
  replaceAllUsesWith(other: Value): void {
    if (other === this) return;
    for (const u of [...this.uses]) u.node.setInput(u.index, other);
  }
}

export class Node {
  name: string;
  domain: string;
  overload = '';
  docString = '';
  readonly inputs: (Value | null)[] = [];
  readonly outputs: Value[] = [];
  attrs = new Map<string, Attribute>();
  /** The graph this node belongs to (set when added). */
  graph: Graph | null = null;
  /** metadata_props and other unmodelled NodeProto fields. */
  unknown: Uint8Array[] = [];

  constructor(
    public opType: string,
    inputs: readonly (Value | null)[] = [],
    outputs: readonly Value[] = [],
    opts: { name?: string; domain?: string; attrs?: Iterable<Attribute> } = {},
  ) {
    this.name = opts.name ?? '';
    this.domain = opts.domain ?? '';
    for (const v of inputs) this.addInput(v);
    for (const o of outputs) this.addOutput(o);
    if (opts.attrs) for (const a of opts.attrs) this.attrs.set(a.name, a);
  }

  addInput(v: Value | null): void {
    const index = this.inputs.length;
    this.inputs.push(v);
    if (v) v.uses.push({ node: this, index });
  }

  setInput(index: number, v: Value | null): void {
    const old = this.inputs[index];
    if (old === v) return;
    if (old) {
      const k = old.uses.findIndex((u) => u.node === this && u.index === index);
      if (k >= 0) old.uses.splice(k, 1);
    }
    while (this.inputs.length <= index) this.inputs.push(null);
    this.inputs[index] = v;
    if (v) v.uses.push({ node: this, index });
  }

  /** Detaches this node from all of its inputs (used when removing it). */
  clearInputs(): void {
    for (let i = 0; i < this.inputs.length; i++) this.setInput(i, null);
    this.inputs.length = 0;
  }

  addOutput(v: Value): void {
    v.producer = this;
    v.producerIndex = this.outputs.length;
    this.outputs.push(v);
  }

  /** Sets output `index` to `v` (the old value loses its producer). */
  setOutput(index: number, v: Value): void {
    const old = this.outputs[index];
    if (old && old.producer === this) old.producer = null;
    this.outputs[index] = v;
    v.producer = this;
    v.producerIndex = index;
  }

  input(i: number): Value | null {
    return this.inputs[i] ?? null;
  }

  /** Qualified op: 'Conv' for the default domain, 'com.microsoft.Attention' otherwise. */
  get qualifiedType(): string {
    return this.domain === '' || this.domain === 'ai.onnx' ? this.opType : `${this.domain}.${this.opType}`;
  }

  attr(name: string): AttrValue | undefined {
    return this.attrs.get(name)?.value;
  }

  attrInt(name: string, dflt: number): number;
  attrInt(name: string): number | undefined;
  attrInt(name: string, dflt?: number): number | undefined {
    const a = this.attr(name);
    return a?.type === 'int' ? a.value : dflt;
  }

  attrFloat(name: string, dflt: number): number;
  attrFloat(name: string): number | undefined;
  attrFloat(name: string, dflt?: number): number | undefined {
    const a = this.attr(name);
    return a?.type === 'float' ? a.value : a?.type === 'int' ? a.value : dflt;
  }

  attrInts(name: string, dflt: number[]): number[];
  attrInts(name: string): number[] | undefined;
  attrInts(name: string, dflt?: number[]): number[] | undefined {
    const a = this.attr(name);
    return a?.type === 'ints' ? a.value : dflt;
  }

  attrFloats(name: string): number[] | undefined {
    const a = this.attr(name);
    return a?.type === 'floats' ? a.value : undefined;
  }

  attrString(name: string, dflt: string): string;
  attrString(name: string): string | undefined;
  attrString(name: string, dflt?: string): string | undefined {
    const a = this.attr(name);
    return a?.type === 'string' ? a.value : dflt;
  }

  attrTensor(name: string): Tensor | undefined {
    const a = this.attr(name);
    return a?.type === 'tensor' ? a.value : undefined;
  }

  setAttr(name: string, value: AttrValue): void {
    this.attrs.set(name, { name, value });
  }

  /** Subgraphs held by this node's attributes (If branches, Loop/Scan bodies). */
  subgraphs(): Graph[] {
    const out: Graph[] = [];
    for (const a of this.attrs.values()) {
      if (a.value.type === 'graph') out.push(a.value.value);
      else if (a.value.type === 'graphs') out.push(...a.value.value);
    }
    return out;
  }
}

export class Graph {
  name: string;
  docString = '';
  inputs: Value[] = [];
  outputs: Value[] = [];
  /** Initializers by name; each Value's `initializer` holds its tensor. */
  initializers = new Map<string, Value>();
  nodes: Node[] = [];
  /** The graph that holds the node whose attribute this graph is (null at top level). */
  parent: Graph | null = null;
  /** Fields we keep as read (sparse_initializer, quantization_annotation, metadata_props, …). */
  unknown: Uint8Array[] = [];
  /** Values that had a value_info entry (intermediate types worth keeping on save). */
  valueInfo = new Map<string, Value>();

  constructor(name = 'main') {
    this.name = name;
  }

  // ---- construction -------------------------------------------------------------------------------

  addInput(v: Value): Value {
    this.inputs.push(v);
    return v;
  }

  addInitializer(t: Tensor, name = t.name): Value {
    if (!name) throw new Error('an initializer needs a name');
    const v = new Value(name, { kind: 'tensor', elemType: t.dtype, shape: [...t.dims] });
    t.name = name;
    v.initializer = t;
    this.initializers.set(name, v);
    return v;
  }

  removeInitializer(v: Value): void {
    this.initializers.delete(v.name);
    const k = this.inputs.indexOf(v);
    if (k >= 0) this.inputs.splice(k, 1);
  }

  /** Appends a node (or inserts before `before`), taking ownership of it. */
  addNode(n: Node, before?: Node): Node {
    n.graph = this;
    for (const s of n.subgraphs()) s.parent = this; // its If/Loop bodies are nested in this graph
    if (before) {
      const k = this.nodes.indexOf(before);
      if (k < 0) throw new Error(`node '${before.name}' is not in graph '${this.name}'`);
      this.nodes.splice(k, 0, n);
    } else this.nodes.push(n);
    return n;
  }

  /** Inserts nodes right after `after`. */
  insertAfter(after: Node, ...nodes: Node[]): void {
    const k = this.nodes.indexOf(after);
    if (k < 0) throw new Error(`node '${after.name}' is not in graph '${this.name}'`);
    for (const n of nodes) {
      n.graph = this;
      for (const s of n.subgraphs()) s.parent = this;
    }
    this.nodes.splice(k + 1, 0, ...nodes);
  }

  /**
   * Removes a node. With `safe` (the default) refuses when one of its outputs is still used or is a
   * graph output.
   */
  removeNode(n: Node, safe = true): void {
    if (safe) {
      for (const o of n.outputs) {
        if (o.uses.length > 0) throw new Error(`cannot remove '${n.name}': output '${o.name}' is still used`);
        if (this.outputs.includes(o)) throw new Error(`cannot remove '${n.name}': '${o.name}' is a graph output`);
      }
    }
    const k = this.nodes.indexOf(n);
    if (k >= 0) this.nodes.splice(k, 1);
    n.clearInputs();
    n.graph = null;
  }

  /** Removes many nodes at once (O(n)); they must be unused outside the set. */
  removeNodes(dead: Iterable<Node>): void {
    const set = new Set(dead);
    if (set.size === 0) return;
    this.nodes = this.nodes.filter((n) => !set.has(n));
    for (const n of set) {
      n.clearInputs();
      n.graph = null;
    }
  }

  // ---- lookup -------------------------------------------------------------------------------------

  /** Every value name used in this graph and its subgraphs (and enclosing graphs). */
  private allNames(): Set<string> {
    let root: Graph = this;
    while (root.parent) root = root.parent;
    const names = new Set<string>();
    const visit = (g: Graph) => {
      for (const v of g.inputs) names.add(v.name);
      for (const v of g.initializers.keys()) names.add(v);
      for (const n of g.nodes) {
        names.add(n.name);
        for (const o of n.outputs) names.add(o.name);
        for (const s of n.subgraphs()) visit(s);
      }
    };
    visit(root);
    return names;
  }

  private nameCache: Set<string> | null = null;

  /** A name not used anywhere in the model, based on `base`. */
  uniqueName(base: string): string {
    let root: Graph = this;
    while (root.parent) root = root.parent;
    if (!root.nameCache) root.nameCache = root.allNames();
    const names = root.nameCache;
    // refresh lazily: names taken since the cache was built are re-checked here
    let name = base;
    let k = 1;
    while (names.has(name) || this.hasName(name)) name = `${base}_${k++}`;
    names.add(name);
    return name;
  }

  private hasName(name: string): boolean {
    if (this.initializers.has(name)) return true;
    return this.inputs.some((v) => v.name === name);
  }

  /** A new value with a unique name. */
  newValue(base: string, type?: ValueType): Value {
    return new Value(this.uniqueName(base), type);
  }

  /** Nodes that read `v`. */
  consumers(v: Value): Node[] {
    return [...new Set(v.uses.map((u) => u.node))];
  }

  /** Finds a value by name among inputs, initializers and node outputs of this graph. */
  findValue(name: string): Value | undefined {
    const init = this.initializers.get(name);
    if (init) return init;
    for (const v of this.inputs) if (v.name === name) return v;
    for (const n of this.nodes) for (const o of n.outputs) if (o.name === name) return o;
    return undefined;
  }

  /** Nodes in this graph and, recursively, in its subgraphs. */
  *allNodes(): Generator<Node> {
    for (const n of this.nodes) {
      yield n;
      for (const g of n.subgraphs()) yield* g.allNodes();
    }
  }

  /** This graph and, recursively, every subgraph of its nodes. */
  *allGraphs(): Generator<Graph> {
    yield this;
    for (const n of this.nodes) for (const g of n.subgraphs()) yield* g.allGraphs();
  }

  /** True when `v` is a graph output. */
  isOutput(v: Value): boolean {
    return this.outputs.includes(v);
  }

  /**
   * Sorts nodes topologically (stable: keeps the current order where it is valid). Values from
   * enclosing graphs and subgraph reads of this graph's values count as dependencies of the node holding
   * the subgraph. Throws on a cycle.
   */
  topologicalSort(): void {
    const index = new Map<Node, number>();
    this.nodes.forEach((n, i) => index.set(n, i));
    const deps = (n: Node): Node[] => {
      const out: Node[] = [];
      const addValue = (v: Value | null) => {
        let p = v?.producer ?? null;
        // a value produced inside a subgraph of one of our nodes cannot be read from here; an outer
        // value has no producer in this graph
        if (p && index.has(p)) out.push(p);
      };
      for (const v of n.inputs) addValue(v);
      for (const g of n.subgraphs()) for (const v of outerReads(g)) addValue(v);
      return out;
    };
    const state = new Map<Node, number>(); // 1 = visiting, 2 = done
    const order: Node[] = [];
    const visit = (root: Node) => {
      const stack: [Node, number][] = [[root, 0]];
      while (stack.length) {
        const top = stack[stack.length - 1]!;
        const [n, i] = top;
        if (i === 0) {
          if (state.get(n) === 2) {
            stack.pop();
            continue;
          }
          state.set(n, 1);
        }
        const ds = deps(n);
        if (i < ds.length) {
          top[1]++;
          const d = ds[i]!;
          const s = state.get(d);
          if (s === 1) throw new Error(`graph '${this.name}' has a cycle through node '${d.name}'`);
          if (s !== 2) stack.push([d, 0]);
        } else {
          state.set(n, 2);
          order.push(n);
          stack.pop();
        }
      }
    };
    for (const n of this.nodes) visit(n);
    this.nodes = order;
  }
}

/** Values read inside `g` (and its nested subgraphs) that are defined outside of `g`. */
export function outerReads(g: Graph): Set<Value> {
  const defined = new Set<Value>();
  const reads = new Set<Value>();
  const visit = (h: Graph) => {
    for (const v of h.inputs) defined.add(v);
    for (const v of h.initializers.values()) defined.add(v);
    for (const n of h.nodes) for (const o of n.outputs) defined.add(o);
    for (const n of h.nodes) {
      for (const v of n.inputs) if (v) reads.add(v);
      for (const s of n.subgraphs()) visit(s);
    }
    for (const v of h.outputs) reads.add(v);
  };
  visit(g);
  for (const v of defined) reads.delete(v);
  return reads;
}

export interface OpsetImport {
  domain: string;
  version: number;
}

export class Model {
  irVersion = 8;
  opsetImports: OpsetImport[] = [{ domain: '', version: 17 }];
  producerName = 'inferopt';
  producerVersion = '';
  domain = '';
  modelVersion = 0;
  docString = '';
  metadata: { key: string; value: string }[] = [];
  /** FunctionProto messages, kept as read (bytes); inferopt does not edit functions yet. */
  functions: Uint8Array[] = [];
  /** training_info, configuration and unknown ModelProto fields, kept as read. */
  unknown: Uint8Array[] = [];

  /** The file this model was loaded from (not saved; a copy or a derived model has none): names it in errors. */
  file?: string;

  constructor(public graph: Graph = new Graph()) {}

  /** The opset version imported for `domain` ('' = ai.onnx), or undefined. */
  opset(domain = ''): number | undefined {
    const d = domain === 'ai.onnx' ? '' : domain;
    return this.opsetImports.find((o) => (o.domain === 'ai.onnx' ? '' : o.domain) === d)?.version;
  }

  /** Makes sure `domain` is imported at least at `version`. */
  requireOpset(domain: string, version: number): void {
    const d = domain === 'ai.onnx' ? '' : domain;
    const o = this.opsetImports.find((x) => (x.domain === 'ai.onnx' ? '' : x.domain) === d);
    if (!o) this.opsetImports.push({ domain: d, version });
    else if (o.version < version) o.version = version;
  }
}
