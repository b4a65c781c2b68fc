import { DataType, dtypeInfo, dtypeName } from '../ir/dtype.js';
import type { Graph, Model, Node, Value } from '../ir/graph.js';
import { Tensor } from '../ir/tensor.js';
import { isTensorType } from '../ir/types.js';
import { analyzeShapes } from './infer.js';
import { opTraits, signatureChangeAt, type AttrToInput, type SignatureChange } from './registry.js';

/**
 * The one interpreter of the op registry's `signatureChanges` (attributes that became inputs at an opset, a
 * rename) and `breaksAt` (a change no upgrade rewrites): what raising a model's default-domain opset does to
 * each node. Used by the quantizer's upgrade to opset 10/11 (src/quantize/opset-upgrade) and by `--target
 * std`'s upgrade to opset 20 (src/passes/upgrade-opset); neither names an op. Every check runs before the first
 * rewrite, so a refused model is left as it was.
 */

export interface OpsetUpgradeOptions {
  /**
   * Nodes holding subgraphs (If, Loop, Scan): 'refuse' blocks the raise (their bodies are left as they are),
   * 'rewrite' rewrites the nodes of the bodies too.
   */
  subgraphs: 'refuse' | 'rewrite';
}

const isDefaultDomain = (n: Node) => n.domain === '' || n.domain === 'ai.onnx';

const nodesOf = (g: Graph, opts: OpsetUpgradeOptions): Iterable<Node> => (opts.subgraphs === 'rewrite' ? g.allNodes() : g.nodes);
const graphsOf = (g: Graph, opts: OpsetUpgradeOptions): Iterable<Graph> => (opts.subgraphs === 'rewrite' ? g.allGraphs() : [g]);

export type ElemTypeOf = (v: Value) => DataType | undefined;

/**
 * Element types of a model's values: the declared one (graph inputs, initializers, value_info), else the op
 * registry's inference over the model as it is now, run once, on the first value that needs it.
 */
export function elemTypes(model: Model): ElemTypeOf {
  let inferred: ReturnType<typeof analyzeShapes> | undefined;
  return (v) => {
    if (v.initializer) return v.initializer.dtype;
    if (isTensorType(v.type)) return v.type.elemType;
    inferred ??= analyzeShapes(model);
    const t = inferred.typeOf(v);
    return isTensorType(t) ? t.elemType : undefined;
  };
}

/**
 * The values the input an attribute becomes holds (ints, floats, int or float attribute), or undefined when the
 * input stays absent: the node has no such attribute, or it holds the input's default (`omitIf`).
 */
function inputValues(n: Node, to: AttrToInput): number[] | undefined {
  const a = n.attr(to.attr);
  if (!a) return undefined;
  const vals = a.type === 'ints' || a.type === 'floats' ? a.value : a.type === 'int' || a.type === 'float' ? [a.value] : [];
  return to.omitIf !== undefined && vals.length === 1 && vals[0] === to.omitIf ? undefined : vals;
}

/** Why `vals` cannot be written as a tensor of `dtype` exactly; undefined when they can. */
function unwritable(dtype: DataType, vals: readonly number[]): string | undefined {
  const info = dtypeInfo(dtype);
  if (dtype === DataType.FLOAT || dtype === DataType.DOUBLE || dtype === DataType.FLOAT16) return undefined; // rounded as ORT casts the attribute
  if (!info.isInt || info.bits < 8) return `inferopt does not write ${dtypeName(dtype)} constants`;
  const lo = info.signed ? -(2 ** (info.bits - 1)) : 0;
  const hi = info.signed ? 2 ** (info.bits - 1) - 1 : 2 ** info.bits - 1;
  const bad = vals.find((x) => !Number.isInteger(x) || x < lo || x > hi || (info.bits === 64 && !Number.isSafeInteger(x)));
  return bad === undefined ? undefined : `${bad} is not representable as ${dtypeName(dtype)}`;
}

/** The element type the input an attribute becomes has: declared, or the data's (input 0's). */
function inputDtype(n: Node, to: AttrToInput, elemType: ElemTypeOf): DataType | undefined {
  if (to.dtype !== 'data') return to.dtype;
  const x = n.inputs[0];
  return x ? elemType(x) : undefined;
}

/**
 * Why node `n`, whose op is `opType` at opset v − 1, cannot take its op's signature at opset v; undefined
 * when it can (with or without something to rewrite). Names the node as `${opType} '${name}'`.
 */
export function signatureBlocker(n: Node, v: number, elemType: ElemTypeOf, opType = n.opType): string | undefined {
  const who = `${opType} '${n.name}'`;
  if (opTraits(n.domain, opType).breaksAt?.includes(v)) return `${who} changed meaning at opset ${v}`;
  for (const to of signatureChangeAt(n.domain, opType, v)?.attrsToInputs ?? []) {
    const vals = inputValues(n, to);
    if (!vals) continue;
    if (n.inputs[to.input]) return `${who} already has an input ${to.input}, where its attribute ${to.attr} goes at opset ${v}`;
    if (to.shape === 'scalar' && vals.length !== 1) return `${who}: attribute ${to.attr} holds ${vals.length} values, not one`;
    const dtype = inputDtype(n, to, elemType);
    if (dtype === undefined) return `${who}: the element type of its input 0 is not known (no value_info, and inference cannot tell), and its attribute ${to.attr} must become an input of that type at opset ${v}`;
    const why = unwritable(dtype, vals);
    if (why) return `${who}: its attribute ${to.attr} becomes an input of type ${dtypeName(dtype)} at opset ${v}, and ${why}`;
  }
  return undefined;
}

/**
 * Why the default-domain opset of `model` cannot be raised to `to` by rewriting what the registry declares;
 * undefined when it can. Follows renames (Upsample is Resize from 10, and Resize changed meaning at 11).
 */
export function opsetUpgradeBlocker(model: Model, to: number, opts: OpsetUpgradeOptions, elemType: ElemTypeOf = elemTypes(model)): string | undefined {
  const from = model.opset('') ?? 1;
  if (from >= to) return undefined;
  for (const n of nodesOf(model.graph, opts)) {
    if (!isDefaultDomain(n)) continue;
    if (opts.subgraphs === 'refuse' && n.subgraphs().length > 0) return `${n.opType} '${n.name}' holds subgraphs (their bodies are not upgraded)`;
    let opType = n.opType;
    for (let v = from + 1; v <= to; v++) {
      const why = signatureBlocker(n, v, elemType, opType);
      if (why) return why;
      opType = signatureChangeAt(n.domain, opType, v)?.renamedTo ?? opType;
    }
  }
  return undefined;
}

/**
 * Raises the default-domain opset of `model` to `to`, rewriting every node whose op's signature changed on the
 * way, opset by opset (all nodes at v before any at v + 1). Throws (an Error, before changing anything) when
 * `opsetUpgradeBlocker` has a reason: callers ask it first, to say why in their own terms, and pass the same
 * `elemType` (inference then runs once). Returns how many nodes had a declared change applied (whether or not
 * they held the attributes).
 */
export function upgradeModelOpset(model: Model, to: number, opts: OpsetUpgradeOptions, elemType: ElemTypeOf = elemTypes(model)): number {
  const why = opsetUpgradeBlocker(model, to, opts, elemType);
  if (why) throw new Error(`cannot raise opset to ${to}: ${why}`);
  const from = model.opset('') ?? 1;
  const changed = new Set<Node>();
  for (let v = from + 1; v <= to; v++) {
    for (const g of graphsOf(model.graph, opts)) {
      for (const n of [...g.nodes]) {
        if (!isDefaultDomain(n)) continue;
        const change = signatureChangeAt(n.domain, n.opType, v);
        if (!change) continue;
        applySignatureChange(g, n, change, elemType);
        changed.add(n);
      }
    }
  }
  const imports = model.opsetImports.filter((x) => x.domain === '' || x.domain === 'ai.onnx');
  for (const o of imports) o.version = to;
  if (!imports.length) model.opsetImports.push({ domain: '', version: to });
  return changed.size;
}

/** Rewrites a node (of graph g) to the signature its op has from `change.at`; `signatureBlocker` said it can. */
function applySignatureChange(g: Graph, n: Node, change: SignatureChange, elemType: ElemTypeOf): void {
  for (const to of change.attrsToInputs ?? []) {
    const vals = inputValues(n, to);
    n.attrs.delete(to.attr);
    if (!vals) continue;
    const dtype = inputDtype(n, to, elemType)!;
    while (n.inputs.length < to.input) n.addInput(null);
    const dims = to.shape === 'scalar' ? [] : [vals.length];
    n.setInput(to.input, g.addInitializer(Tensor.fromArray(dtype, dims, vals), g.uniqueName(`${n.name || n.opType}_${to.attr}`)));
  }
  if (change.renamedTo) n.opType = change.renamedTo;
}
