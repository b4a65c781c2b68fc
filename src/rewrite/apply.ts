import { Node, type Graph, type Model, type Value } from '../ir/graph.js';
import type { Pass, PassContext, PassResult } from '../passes/pass.js';
import { matchPattern, type Match, type MatchFailure } from './match.js';
import type { OpPattern } from './pattern.js';
import { RewriteBuilder, type RewriteRule, type RuleContext } from './rule.js';

interface IndexedPattern {
  rule: RewriteRule;
  pattern: OpPattern;
}

/** Rules indexed by the op type of their patterns' roots (cheap early rejection). */
function indexRules(rules: readonly RewriteRule[], ctx: PassContext): Map<string, IndexedPattern[]> {
  const index = new Map<string, IndexedPattern[]>();
  for (const rule of rules) {
    if (ctx.skip?.has(rule.name)) continue;
    if (rule.targets && !rule.targets.includes(ctx.target)) continue;
    for (const pattern of rule.patterns) {
      const list = index.get(pattern.op) ?? [];
      list.push({ rule, pattern });
      index.set(pattern.op, list);
    }
  }
  return index;
}

/**
 * True when `v` may be renamed to take over a graph output's name: it is computed by a node of `g` itself. A
 * value of an enclosing graph cannot: a subgraph output must be computed inside the subgraph (ONNX Runtime
 * refuses "an outer scope value being returned directly"), and renaming it would rename the outer value.
 */
export function canTakeOutputName(g: Graph, v: Value): boolean {
  return v.producer !== null && v.producer.graph === g && !v.isInitializer && !g.inputs.includes(v) && !g.outputs.includes(v);
}

/** Reason an intermediate of the match is needed outside it, or undefined. */
function escapingIntermediate(m: Match, g: Graph, mayEscape: readonly string[]): string | undefined {
  const inside = new Set(m.nodes);
  const allowed = new Set(mayEscape.map((n) => (m.nodeMap.has(n) ? m.node(n) : null)));
  for (const n of m.nodes) {
    if (n === m.root || allowed.has(n)) continue;
    for (const o of n.outputs) {
      if (g.isOutput(o)) return `intermediate '${o.name}' (${n.opType}) is a graph output`;
      if (o.uses.some((u) => !inside.has(u.node))) return `intermediate '${o.name}' (${n.opType}) is also used outside the pattern`;
    }
  }
  return undefined;
}

/** Points every use of `old` (graph outputs included) at `next`, keeping the graph output's name. */
export function replaceValue(g: Graph, old: Value, next: Value): void {
  if (old === next) return;
  if (!next.type && old.type) next.type = old.type;
  old.replaceAllUsesWith(next);
  const k = g.outputs.indexOf(old);
  if (k < 0) return;
  let target = next;
  if (!canTakeOutputName(g, next)) {
    // the output must keep its own name: route it through an Identity
    const producer = old.producer;
    target = g.newValue(`${old.name}_id`, old.type);
    const id = new Node('Identity', [next], [target], { name: g.uniqueName(`${old.name}/Identity`) });
    if (producer) g.addNode(id, producer);
    else g.addNode(id);
  }
  const name = old.name;
  old.name = g.uniqueName(`${name}_replaced`);
  target.name = name;
  g.outputs[k] = target;
}

/** Removes the matched nodes that nothing reads any more. */
function removeDead(g: Graph, nodes: readonly Node[]): void {
  let changed = true;
  const alive = new Set(nodes);
  while (changed) {
    changed = false;
    for (const n of alive) {
      if (n.graph !== g) {
        alive.delete(n);
        continue;
      }
      if (n.outputs.every((o) => o.uses.length === 0 && !g.isOutput(o))) {
        g.removeNode(n, false);
        alive.delete(n);
        changed = true;
      }
    }
  }
}

export interface RuleStats {
  [rule: string]: number;
}

/** Applies rules once over every node of `g` (and of its subgraphs); returns how often each fired. */
export function applyRules(model: Model, g: Graph, rules: readonly RewriteRule[], ctx: PassContext, passId: string): RuleStats {
  const index = indexRules(rules, ctx);
  const stats: RuleStats = {};
  const rctx: RuleContext = { model, graph: g, target: ctx.target };
  for (const node of [...g.nodes]) {
    for (const sub of node.subgraphs()) addStats(stats, applyRules(model, sub, rules, ctx, passId));
    const candidates = index.get(node.opType);
    if (!candidates) continue;
    for (const { rule, pattern } of candidates) {
      if (node.graph !== g) break; // removed by an earlier rewrite
      const fail: MatchFailure = { depth: -1, reason: '' };
      const m = matchPattern(pattern, node, fail);
      const explain = (fired: boolean, reason?: string) => ctx.explain?.({ pass: passId, rule: rule.name, node: node.name, fired, reason });
      if (!m) {
        explain(false, `pattern: ${fail.reason}`);
        continue;
      }
      const reason = escapingIntermediate(m, g, rule.mayEscape ?? []) ?? rule.check?.(m, rctx);
      if (reason) {
        explain(false, reason);
        continue;
      }
      const b = new RewriteBuilder(model, g, node, node.name || rule.name);
      const out = rule.replace(m, b, rctx);
      const outs = Array.isArray(out) ? out : [out];
      node.outputs.forEach((o, i) => {
        const next = outs[i];
        if (next) replaceValue(g, o, next);
      });
      removeDead(g, m.nodes);
      stats[rule.name] = (stats[rule.name] ?? 0) + 1;
      explain(true);
      break;
    }
  }
  return stats;
}

function addStats(into: RuleStats, more: RuleStats): void {
  for (const [k, v] of Object.entries(more)) into[k] = (into[k] ?? 0) + v;
}

/**
 * A pass made of rewrite rules, applied until none fires (bounded). Stats count firings per rule. The
 * graph is re-sorted afterwards: redirected uses of escaped intermediates may need it.
 */
export function rulePass(id: string, doc: string, rules: readonly RewriteRule[]): Pass & { rules: readonly RewriteRule[] } {
  return {
    id,
    doc,
    params: {},
    rules,
    run(model: Model, ctx: PassContext): PassResult {
      const total: RuleStats = {};
      for (let round = 0; round < 20; round++) {
        const s = applyRules(model, model.graph, rules, ctx, id);
        if (Object.keys(s).length === 0) break;
        addStats(total, s);
      }
      const modified = Object.keys(total).length > 0;
      if (modified) model.graph.topologicalSort();
      return { model, modified, stats: total };
    },
  };
}
