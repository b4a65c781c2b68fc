import type { Graph, Model, Node, Value } from '../ir/graph.js';
import { GraphBuilder, type AttrInput } from '../ir/builder.js';
import type { Tensor } from '../ir/tensor.js';
import type { Target } from '../passes/pass.js';
import type { Match } from './match.js';
import type { OpPattern } from './pattern.js';

/**
 * A declarative rewrite rule: patterns (variants of the same subgraph, each rooted at the op being
 * replaced), a `check` that returns the reason when it refuses, and a replacement built with the builder.
 */
export interface RewriteRule {
  /** Unique id, used by `--skip` and `--explain`. */
  name: string;
  doc: string;
  patterns: OpPattern[];
  /** Targets the replacement runs on (default: all). */
  targets?: readonly Target[];
  /**
   * Named pattern nodes whose outputs may also be used outside the match; `replace` must redirect those
   * uses (e.g. SkipLayerNormalization exposes the residual sum). Other intermediates must be private.
   */
  mayEscape?: readonly string[];
  /** Returns a reason to refuse, or undefined to go ahead. */
  check?(m: Match, ctx: RuleContext): string | undefined;
  /** Builds the replacement; returns the new values for the root node's outputs (in order). */
  replace(m: Match, b: RewriteBuilder, ctx: RuleContext): Value | (Value | null)[];
}

export interface RuleContext {
  model: Model;
  graph: Graph;
  target: Target;
}

/** Builds replacement nodes just before the matched root, so the order stays topological. */
export class RewriteBuilder {
  private readonly gb: GraphBuilder;

  constructor(
    readonly model: Model,
    readonly graph: Graph,
    private readonly before: Node,
    private readonly baseName: string,
  ) {
    this.gb = new GraphBuilder(graph);
  }

  /** One node, one output. A non-default domain is imported into the model (version 1). */
  op(opType: string, inputs: (Value | null)[], attrs: Record<string, AttrInput | undefined> = {}, domain = ''): Value {
    return this.opN(opType, inputs, attrs, 1, domain)[0]!;
  }

  opN(opType: string, inputs: (Value | null)[], attrs: Record<string, AttrInput | undefined>, outputs: number, domain = ''): Value[] {
    if (domain !== '') this.model.requireOpset(domain, 1);
    const name = `${this.baseName}/${opType}`;
    return this.gb.opN(opType, inputs, attrs, { domain, outputs, before: this.before, name });
  }

  /** A new initializer (name made unique). */
  init(name: string, t: Tensor): Value {
    return this.gb.init(name, t);
  }
}

/** A node's attributes in the form `RewriteBuilder.op` takes (to copy them onto a replacement). */
export function attrsOf(n: Node, without: readonly string[] = []): Record<string, AttrInput> {
  const out: Record<string, AttrInput> = {};
  for (const [k, a] of n.attrs) if (!without.includes(k)) out[k] = a.value;
  return out;
}
