import { InputError } from '../errors.js';
import type { Graph, Model, Value } from './graph.js';
import type { ValueType } from './types.js';

/** One reason a model is not a valid ONNX graph. `graph` is the path of the (sub)graph: `main`, `main/If_0:then_branch`. */
export interface GraphProblem {
  graph: string;
  kind: 'opset' | 'order' | 'undefined' | 'duplicate' | 'output' | 'shape' | 'name';
  message: string;
}

/**
 * Checks what every consumer of the model (our passes, ONNX Runtime) relies on, as the ONNX checker does:
 * opset imports (versions ≥ 1, each domain once, every node's domain imported); per graph
 * and into subgraphs (which see the values of enclosing graphs defined before their node): nodes in
 * topological order, every value defined once, no node output in a subgraph shadowing an outer name, every
 * use and every graph output defined, graph outputs listed once, no negative dimension. Returns every problem found (empty: valid).
 */
export function checkModel(model: Model, limit = 100): GraphProblem[] {
  const problems: GraphProblem[] = [];
  const add = (p: GraphProblem) => {
    if (problems.length < limit) problems.push(p);
  };
  const imported = new Map<string, number>();
  for (const o of model.opsetImports) {
    const domain = o.domain === 'ai.onnx' ? '' : o.domain;
    if (imported.has(domain)) add({ graph: 'model', kind: 'opset', message: `opset of domain ${q(domain || 'ai.onnx')} imported twice` });
    if (!Number.isSafeInteger(o.version) || o.version < 1) add({ graph: 'model', kind: 'opset', message: `opset version ${o.version} for domain ${q(domain || 'ai.onnx')} (must be ≥ 1)` });
    imported.set(domain, o.version);
  }
  checkGraph(model.graph, 'main', new Set(), imported, add);
  return problems;
}

function checkGraph(g: Graph, where: string, outer: ReadonlySet<string>, imported: ReadonlyMap<string, number>, add: (p: GraphProblem) => void): void {
  const defined = new Set<string>();
  const define = (name: string, what: string) => {
    if (defined.has(name)) add({ graph: where, kind: 'duplicate', message: `${q(name)} is defined twice (${what})` });
    defined.add(name);
  };
  const visible = (name: string) => defined.has(name) || outer.has(name);
  for (const v of g.inputs) {
    if (!v.name) add({ graph: where, kind: 'name', message: 'a graph input has no name' });
    define(v.name, 'graph input');
    checkDims(v, where, add);
  }
  for (const [name, v] of g.initializers) {
    if (!g.inputs.includes(v)) define(name, 'initializer');
    const t = v.initializer;
    if (t && t.dims.some((d) => !Number.isSafeInteger(d) || d < 0)) add({ graph: where, kind: 'shape', message: `initializer ${q(name)} has dims [${t.dims.join(',')}]` });
  }
  // every name a node of this graph produces, to tell a use-before-definition (a cycle or a misordered
  // list) from a use of nothing
  const producedHere = new Set<string>();
  for (const n of g.nodes) for (const o of n.outputs) if (o.name) producedHere.add(o.name);
  for (const [i, n] of g.nodes.entries()) {
    const label = `node ${n.name ? q(n.name) : `#${i}`} (${q(n.opType).slice(1, -1)})`;
    if (!imported.has(n.domain === 'ai.onnx' ? '' : n.domain)) add({ graph: where, kind: 'opset', message: `${label} is in domain ${q(n.domain)}, which the model does not import` });
    for (const v of n.inputs) {
      if (!v || visible(v.name)) continue;
      if (producedHere.has(v.name)) add({ graph: where, kind: 'order', message: `${label} uses ${q(v.name)} before the node that computes it (a cycle, or nodes out of topological order)` });
      else add({ graph: where, kind: 'undefined', message: `${label} uses ${q(v.name)}, which is not defined before it (in this graph or an enclosing one)` });
    }
    // subgraphs see what is defined so far, in this graph and around it
    const subs = n.subgraphs();
    if (subs.length) {
      const scope = new Set([...outer, ...defined]);
      for (const [k, a] of n.attrs) {
        const graphs = a.value.type === 'graph' ? [a.value.value] : a.value.type === 'graphs' ? a.value.value : [];
        for (const [j, sg] of graphs.entries()) checkGraph(sg, `${where}/${n.name ? q(n.name).slice(1, -1) : `#${i}`}:${q(k).slice(1, -1)}${graphs.length > 1 ? `[${j}]` : ''}`, scope, imported, add);
      }
    }
    for (const o of n.outputs) {
      if (!o.name) continue;
      // ONNX IR: "In the case of a nested subgraph, a node output name MUST be distinct from the names from
      // the outer scopes that are visible in the nested subgraph" (graph inputs and initializers of a
      // subgraph may shadow; the ONNX checker allows that too)
      if (outer.has(o.name)) add({ graph: where, kind: 'duplicate', message: `${q(o.name)} (output of ${label}) shadows a value of an enclosing graph; ONNX requires node outputs in a subgraph to have names distinct from the outer names visible there` });
      define(o.name, `output of ${label}`);
    }
  }
  const listed = new Set<string>();
  for (const v of g.outputs) {
    if (!v.name) add({ graph: where, kind: 'name', message: 'a graph output has no name' });
    if (listed.has(v.name)) add({ graph: where, kind: 'output', message: `graph output ${q(v.name)} is listed twice` });
    listed.add(v.name);
    if (!visible(v.name)) add({ graph: where, kind: 'undefined', message: `graph output ${q(v.name)} is not computed by any node, input or initializer` });
    checkDims(v, where, add);
  }
  for (const v of g.valueInfo.values()) checkDims(v, where, add);
}

/** A name from the model, quoted, with line breaks and other control characters escaped and long names cut. */
function q(name: string): string {
  const s = JSON.stringify(name.length > 80 ? `${name.slice(0, 77)}…` : name).slice(1, -1).replace(/[\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return `'${s}'`;
}

function checkDims(v: Value, where: string, add: (p: GraphProblem) => void): void {
  const bad = negativeDim(v.type);
  if (bad !== undefined) add({ graph: where, kind: 'shape', message: `${q(v.name)} has dimension ${bad}` });
}

function negativeDim(t: ValueType | undefined): number | undefined {
  if (!t) return undefined;
  switch (t.kind) {
    case 'tensor':
    case 'sparse_tensor':
      return t.shape?.find((d): d is number => typeof d === 'number' && (d < 0 || !Number.isSafeInteger(d)));
    case 'sequence':
    case 'optional':
      return negativeDim(t.elem);
    case 'map':
      return negativeDim(t.value);
    default:
      return undefined;
  }
}

/** Throws one InputError line (the first problems and how many more) when the model is not valid. */
export function assertValidModel(model: Model, label: string): void {
  const problems = checkModel(model, 4);
  if (!problems.length) return;
  const shown = problems.slice(0, 3).map((p) => (p.graph === 'main' || p.graph === 'model' ? p.message : `${p.graph}: ${p.message}`));
  const more = problems.length > 3 ? '; and more (inferopt inspect lists them)' : '';
  throw new InputError(`${label}: invalid ONNX graph: ${shown.join('; ')}${more}`);
}
