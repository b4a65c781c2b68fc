import type { Node, Value } from '../ir/graph.js';
import type { Tensor } from '../ir/tensor.js';
import { opTraits } from '../ops/index.js';
import type { OpPattern, Pattern } from './pattern.js';

/** What a pattern bound: named values, named nodes (with their output value), named constants. */
export class Match {
  constructor(
    readonly root: Node,
    readonly values: ReadonlyMap<string, Value>,
    readonly nodeMap: ReadonlyMap<string, Node>,
    /** Every node the pattern matched, root included. */
    readonly nodes: readonly Node[],
  ) {}

  /** The value bound to `name` (a var, a constant, or a named op's output). */
  value(name: string): Value {
    const v = this.values.get(name);
    if (!v) throw new Error(`pattern binds no value '${name}'`);
    return v;
  }

  node(name: string): Node {
    const n = this.nodeMap.get(name);
    if (!n) throw new Error(`pattern binds no node '${name}'`);
    return n;
  }

  /** The constant bound to `name`. */
  tensor(name: string): Tensor {
    const t = this.value(name).constTensor();
    if (!t) throw new Error(`'${name}' is not a constant`);
    return t;
  }

  has(name: string): boolean {
    return this.values.has(name) || this.nodeMap.has(name);
  }
}

interface State {
  values: Map<string, Value>;
  nodes: Map<string, Node>;
  matched: Node[];
}

const copy = (s: State): State => ({ values: new Map(s.values), nodes: new Map(s.nodes), matched: [...s.matched] });

/** The failure that got furthest, for --explain ("why didn't my rule fire?"). */
export interface MatchFailure {
  depth: number;
  reason: string;
}

function bindValue(s: State, name: string | undefined, v: Value): boolean {
  if (!name) return true;
  const prev = s.values.get(name);
  if (prev) return prev === v;
  s.values.set(name, v);
  return true;
}

function matchValue(p: Pattern, v: Value | null, s: State, depth: number, fail: MatchFailure): State | null {
  const refuse = (reason: string): null => {
    if (depth >= fail.depth) {
      fail.depth = depth;
      fail.reason = reason;
    }
    return null;
  };
  if (!v) return refuse('missing input');
  switch (p.kind) {
    case 'var':
      return bindValue(s, p.name, v) ? s : refuse(`'${p.name}' bound to two different values`);
    case 'const': {
      const t = v.constTensor();
      if (!t) return refuse(`'${v.name}' is not a constant${p.name ? ` (for ${p.name})` : ''}`);
      if (p.where && !p.where(t)) return refuse(`constant '${v.name}' is not ${p.describe ?? `a fit for ${p.name ?? 'the pattern'}`}`);
      return bindValue(s, p.name, v) ? s : refuse(`'${p.name}' bound to two different values`);
    }
    case 'op': {
      const n = v.producer;
      if (!n || n.graph === null) return refuse(`'${v.name}' is not computed by a node (want ${p.op})`);
      return matchNode(p, n, v.producerIndex, s, depth, fail);
    }
  }
}

function matchNode(p: OpPattern, n: Node, outIndex: number, s: State, depth: number, fail: MatchFailure): State | null {
  const refuse = (reason: string): null => {
    if (depth >= fail.depth) {
      fail.depth = depth;
      fail.reason = reason;
    }
    return null;
  };
  const domain = n.domain === 'ai.onnx' ? '' : n.domain;
  if (n.opType !== p.op || domain !== p.domain) return refuse(`'${n.name}' is ${n.opType}, want ${p.op}`);
  if ((p.output ?? 0) !== outIndex) return refuse(`'${n.name}': output ${outIndex} used, want output ${p.output ?? 0}`);
  if (p.where) {
    const ok = p.where(n);
    if (ok !== true) return refuse(`${p.op} '${n.name}': ${ok}`);
  }
  if (s.matched.includes(n)) {
    // the same node reached twice (diamond): fine when it binds the same name
    if (p.as && s.nodes.get(p.as) !== n) return refuse(`'${n.name}' reached twice under different names`);
    return s;
  }
  const orders: number[][] = [p.inputs.map((_, i) => i)];
  const commute = p.commute ?? opTraits(p.domain, p.op).commutative === true;
  if (commute && p.inputs.length === 2) orders.push([1, 0]);
  for (const order of orders) {
    let st: State | null = copy(s);
    st.matched.push(n);
    if (p.as) {
      if (st.nodes.has(p.as) && st.nodes.get(p.as) !== n) return refuse(`'${p.as}' bound to two nodes`);
      st.nodes.set(p.as, n);
      bindValue(st, p.as, n.outputs[outIndex]!);
    }
    for (let i = 0; i < p.inputs.length && st; i++) st = matchValue(p.inputs[i]!, n.input(order[i]!), st, depth + 1, fail);
    if (st) return st;
  }
  return null;
}

/** Matches `p` rooted at node `n`; on failure `fail` says why (the deepest refusal). */
export function matchPattern(p: OpPattern, n: Node, fail: MatchFailure = { depth: -1, reason: '' }): Match | null {
  const s = matchNode(p, n, p.output ?? 0, { values: new Map(), nodes: new Map(), matched: [] }, 0, fail);
  if (!s) return null;
  return new Match(n, s.values, s.nodes, s.matched);
}
