import type { Model, Node, Value } from '../ir/graph.js';
import { outerReads } from '../ir/graph.js';
import { isStaticShape, isTensorType } from '../ir/types.js';
import '../ops/index.js';
import '../ops/prune/index.js';
import { analyzeShapes, type ShapeAnalysis } from '../ops/infer.js';
import type { ChannelMap, PruneContext } from '../ops/prune-rule.js';
import { getPruneRule } from '../ops/registry.js';
import { intConst } from '../passes/util.js';
import { PruneSpace } from './space.js';

/**
 * Channel dependency analysis on an ONNX graph (DepGraph's idea on values instead of modules): nodes are
 * visited in order and each op's pruning rule from the registry says how channels flow from its inputs to
 * its outputs, which ones it couples and what it cuts. Channels that reach a graph output, an op without a
 * rule or a subgraph are blocked with the reason.
 */

export interface AnalyzeOptions {
  /** Values for symbolic dims (default 1 each): the rules need static shapes. */
  dims?: Record<string, number>;
  /** Concrete shapes for named graph inputs. */
  shapes?: Record<string, number[]>;
}

export interface Analysis {
  model: Model;
  space: PruneSpace;
  shapes: ShapeAnalysis;
  /** The tracked channels of each value (for importance criteria that read activations). */
  channels: Map<Value, ChannelMap>;
}

/** Symbolic dims of the graph inputs, each set to 1 unless given. */
export function defaultDims(model: Model, given: Record<string, number> = {}): Record<string, number> {
  const dims: Record<string, number> = {};
  for (const v of model.graph.inputs) {
    if (!isTensorType(v.type)) continue;
    for (const d of v.type.shape ?? []) if (typeof d === 'string') dims[d] = given[d] ?? 1;
  }
  return { ...dims, ...given };
}

export function staticShape(shapes: ShapeAnalysis, v: Value | null | undefined): number[] | undefined {
  if (!v) return undefined;
  const c = v.constTensor();
  if (c) return [...c.dims];
  const t = shapes.typeOf(v) ?? v.type;
  return isTensorType(t) && isStaticShape(t.shape) ? t.shape : undefined;
}

export function analyzeChannels(model: Model, opts: AnalyzeOptions = {}, space = new PruneSpace()): Analysis {
  const graph = model.graph;
  const shapes = analyzeShapes(model, { dims: defaultDims(model, opts.dims), shapes: opts.shapes });
  const channels = new Map<Value, ChannelMap>();
  const graphInputs = new Set(graph.inputs);
  const opset = model.opset('') ?? 1;
  const isConst = (v: Value | null | undefined) => !!v && !graphInputs.has(v) && v.constTensor() !== undefined;

  for (const node of graph.nodes) {
    const tracked = node.inputs.filter((v): v is Value => !!v && channels.has(v));
    const sub = node.subgraphs();
    if (sub.length > 0) {
      for (const g of sub) for (const v of outerReads(g)) if (channels.has(v)) tracked.push(v);
      for (const v of tracked) space.block(channels.get(v)!.ids, `${node.opType} '${node.name}' reads them inside a subgraph`);
      continue;
    }
    const rule = getPruneRule(node.domain, node.opType);
    if (!rule) {
      for (const v of tracked) space.block(channels.get(v)!.ids, `${node.qualifiedType} '${node.name}' has no pruning rule`);
      continue;
    }
    const ctx = contextFor(node, opset, shapes, channels, isConst, space);
    const outs = rule(ctx);
    outs.forEach((m, i) => {
      const o = node.outputs[i];
      if (m && o) channels.set(o, m);
    });
  }
  for (const o of graph.outputs) {
    const m = channels.get(o);
    if (m) space.block(m.ids, `they reach the graph output '${o.name}'`);
  }
  return { model, space, shapes, channels };
}

function contextFor(
  node: Node,
  opset: number,
  shapes: ShapeAnalysis,
  channels: Map<Value, ChannelMap>,
  isConst: (v: Value | null | undefined) => boolean,
  space: PruneSpace,
): PruneContext {
  return {
    node,
    opset,
    inShape: (i) => staticShape(shapes, node.inputs[i]),
    outShape: (i) => staticShape(shapes, node.outputs[i]),
    chan: (i) => {
      const v = node.inputs[i];
      return v ? channels.get(v) : undefined;
    },
    isConst: (i) => isConst(node.inputs[i]),
    constInts: (i) => (isConst(node.inputs[i]) ? intConst(node.inputs[i]) : undefined),
    fresh: (n) => space.fresh(n, node, 'channel', staticShape(shapes, node.outputs[0])?.length),
    union: (a, b) => space.union(a, b),
    block: (ids, reason) => space.block(ids, reason),
    cut: (input, axis, ids, role) => space.cut(node, input, axis, ids, role),
    fix: (f) => space.fixes.push(f),
  };
}
