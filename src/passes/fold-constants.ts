import { DataType } from '../ir/dtype.js';
import { Graph, Model, Node, Value } from '../ir/graph.js';
import { Tensor } from '../ir/tensor.js';
import { opTraits } from '../ops/index.js';
import { replaceValue } from '../rewrite/apply.js';
import { Session } from '../runtime/session.js';
import type { Pass, PassContext, PassResult } from './pass.js';
import { isNondeterministic, staticShapeOf } from './util.js';

export interface FoldConfig {
  /** Results up to this many bytes are always folded. */
  smallBytes: number;
  /** Larger results are folded only when no bigger than the constants they are computed from. */
  inflateRatio: number;
}

/** Ops never folded (registry trait `neverFold`): their result depends on more than their inputs, or folding them loses meaning. */
function isFoldable(n: Node): boolean {
  if (n.domain !== '' && n.domain !== 'ai.onnx') return false;
  if (opTraits(n.domain, n.opType).neverFold || isNondeterministic(n)) return false;
  return n.subgraphs().length === 0;
}

/** Shape/Size of a value whose shape is fully known: the answer without running anything. */
function shapeAnswer(n: Node): Tensor | undefined {
  if (n.opType !== 'Shape' && n.opType !== 'Size') return undefined;
  const shape = staticShapeOf(n.input(0));
  if (!shape) return undefined;
  if (n.opType === 'Size') return Tensor.scalar(DataType.INT64, shape.reduce((a, b) => a * b, 1));
  const r = shape.length;
  const clamp = (x: number) => Math.min(r, Math.max(0, x < 0 ? x + r : x));
  const start = clamp(n.attrInt('start', 0));
  const end = clamp(n.attrInt('end', r));
  const dims = shape.slice(start, Math.max(start, end));
  return Tensor.int64([dims.length], dims);
}

/** No result bigger than this is ever computed for folding (the model would not want it either). */
const MAX_EVAL_BYTES = 64 * 2 ** 20;

/** True when evaluating `n` could allocate an unreasonable tensor (known to be huge, or unknown and size-inflating: registry trait). */
function tooBigToEvaluate(n: Node): boolean {
  for (const o of n.outputs) {
    const shape = staticShapeOf(o);
    if (!shape) {
      if (opTraits(n.domain, n.opType).sizeInflating) return true;
      continue;
    }
    if (shape.reduce((a, b) => a * b, 1) * 8 > MAX_EVAL_BYTES) return true;
  }
  return false;
}

/** Nodes whose inputs are all constants (or results of such nodes), in graph order. */
function constantNodes(g: Graph): Node[] {
  const constant = new Set<Value>();
  // a subgraph also reads the initializers of the graphs around it;
  // an initializer that is also a graph input can be overridden at run time: not a constant
  for (let h: Graph | null = g; h; h = h.parent) for (const v of h.initializers.values()) if (!h.inputs.includes(v)) constant.add(v);
  const out: Node[] = [];
  for (const n of g.nodes) {
    if (n.opType === 'Constant' && n.outputs[0]?.constTensor()) {
      constant.add(n.outputs[0]);
      continue;
    }
    if (!isFoldable(n) || n.outputs.some((o) => g.isOutput(o)) || tooBigToEvaluate(n)) continue;
    if (!n.inputs.every((v) => v === null || constant.has(v))) continue;
    out.push(n);
    for (const o of n.outputs) constant.add(o);
  }
  return out;
}

/** Bytes of the graph constants (initializers/Constant outputs) that `v` is computed from. */
function sourceBytes(v: Value, inSet: Set<Node>, memo: Map<Value, Set<Value>>): number {
  const leaves = (x: Value): Set<Value> => {
    const cached = memo.get(x);
    if (cached) return cached;
    const p = x.producer;
    const s = new Set<Value>();
    if (p && inSet.has(p)) for (const i of p.inputs) if (i) for (const l of leaves(i)) s.add(l);
    else s.add(x);
    memo.set(x, s);
    return s;
  };
  let bytes = 0;
  for (const l of leaves(v)) bytes += l.constTensor()?.byteLength ?? 0;
  return bytes;
}

/** Runs the constant nodes in a one-off model on ONNX Runtime; returns the values asked for. */
async function evaluate(model: Model, nodes: Node[], wanted: Value[]): Promise<Map<Value, Tensor>> {
  const g = new Graph('fold');
  const copies = new Map<Value, Value>();
  const valueFor = (v: Value): Value => {
    let c = copies.get(v);
    if (c) return c;
    const t = v.constTensor();
    if (v.producer && nodes.includes(v.producer)) c = new Value(v.name);
    else if (t) c = g.addInitializer(t, v.name);
    else throw new Error(`fold: '${v.name}' is not constant`);
    copies.set(v, c);
    return c;
  };
  for (const n of nodes) {
    const ins = n.inputs.map((v) => (v ? valueFor(v) : null));
    const outs = n.outputs.map((o) => valueFor(o));
    g.addNode(new Node(n.opType, ins, outs, { name: n.name, domain: n.domain, attrs: n.attrs.values() }));
  }
  g.outputs = wanted.map((v) => copies.get(v)!);
  const m = new Model(g);
  m.irVersion = Math.max(model.irVersion, 4);
  m.opsetImports = model.opsetImports.map((o) => ({ ...o }));
  const s = await Session.create(m, { optLevel: 'disabled', threads: 1 });
  try {
    const res = await s.run({});
    return new Map(wanted.map((v) => [v, res[v.name]!]));
  } finally {
    await s.release();
  }
}

/**
 * Constant folding (the main graph and every If/Loop/Scan body): Shape/Size of fully known shapes, and every node computed only from
 * constants, evaluated by ONNX Runtime in one session. A size limit keeps folding from inflating the model
 * (ConstantOfShape/Expand/Tile of a small input into a big tensor stays a node); ops that can inflate are
 * evaluated only when shape inference has bounded their output (≤ 64 MiB).
 */
export const foldConstants: Pass<FoldConfig> = {
  id: 'fold-constants',
  doc: 'evaluate constant subgraphs and shapes that are known, unless the result would inflate the model',
  params: {
    smallBytes: { type: 'integer', min: 0, default: 64 * 1024, doc: 'results up to this size are always folded' },
    inflateRatio: { type: 'number', min: 0, max: 1e6, default: 1, search: [1, 2], doc: 'larger results fold only up to this multiple of the constants they come from' },
  },
  async run(model: Model, ctx: PassContext, cfg: FoldConfig): Promise<PassResult> {
    let folded = await foldGraph(model, model.graph, ctx, cfg, this.id, true);
    for (const n of [...model.graph.allNodes()]) {
      // a Loop/Scan body runs once per iteration: a loop-carried value may change shape from one to the next
      for (const s of n.subgraphs()) folded += await foldGraph(model, s, ctx, cfg, this.id, n.opType === 'If');
    }
    return { model, modified: folded > 0, stats: folded ? { folded } : {} };
  },
};

async function foldGraph(model: Model, g: Graph, ctx: PassContext, cfg: FoldConfig, pass: string, foldShapes: boolean): Promise<number> {
  let folded = 0;
  for (const n of foldShapes ? [...g.nodes] : []) {
    const t = shapeAnswer(n);
    if (!t || g.isOutput(n.outputs[0]!)) continue;
    replaceValue(g, n.outputs[0]!, g.addInitializer(t, g.uniqueName(`${n.outputs[0]!.name}_folded`)));
    folded++;
  }
  const nodes = constantNodes(g);
  const inSet = new Set(nodes);
  // values needed outside the constant region
  const frontier = nodes.flatMap((n) => n.outputs.filter((o) => o.uses.some((u) => !inSet.has(u.node))));
  if (frontier.length > 0) {
    let results: Map<Value, Tensor> | undefined;
    try {
      results = await evaluate(model, nodes, frontier);
    } catch (e) {
      ctx.explain?.({ pass, fired: false, reason: `ONNX Runtime could not evaluate the constant subgraph: ${(e as Error).message}` });
    }
    const memo = new Map<Value, Set<Value>>();
    for (const [v, t] of results ?? []) {
      if (!t || t.dtype === DataType.STRING) continue;
      const limit = Math.max(cfg.smallBytes, cfg.inflateRatio * sourceBytes(v, inSet, memo));
      if (t.byteLength > limit) {
        ctx.explain?.({ pass, node: v.producer?.name, fired: false, reason: `result '${v.name}' is ${t.byteLength} bytes, over the limit ${limit}` });
        continue;
      }
      replaceValue(g, v, g.addInitializer(new Tensor(t.dtype, t.dims, new Uint8Array(t.bytes)), g.uniqueName(`${v.name}_folded`)));
      folded++;
    }
  }
  return folded;
}
