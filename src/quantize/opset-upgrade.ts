import { InputError } from '../errors.js';
import { DataType } from '../ir/dtype.js';
import type { Graph, Model, Node } from '../ir/graph.js';
import { Tensor } from '../ir/tensor.js';
import { opTraits, outputRange, signatureChangeAt, type AttrToInput, type SignatureChange } from '../ops/index.js';

/**
 * Raises the default-domain opset of old models (PaddleOCR's exports are opset 9) to what quantized ops
 * need: 10 for QuantizeLinear/QLinearConv, 11 for DynamicQuantizeLinear. Ops whose signature changed on the
 * way are rewritten as the op registry declares: `signatureChanges` (attributes that became inputs, a new
 * name) and `boundsInputSince` (range bounds that became inputs); this file names no op. A model using an op
 * whose meaning changed in a way not handled here is refused rather than silently altered: those are the op
 * registry's `breaksAt` trait, and any node holding subgraphs (If, Loop, Scan: their bodies are not upgraded).
 */
function refusedAt(n: Node, v: number, opType = n.opType): boolean {
  return n.subgraphs().length > 0 || opTraits(n.domain, opType).breaksAt?.includes(v) === true;
}

const isDefaultDomain = (n: Node) => n.domain === '' || n.domain === 'ai.onnx';

export function upgradeOpset(model: Model, target: 10 | 11): boolean {
  const from = model.opset('') ?? 1;
  if (from >= target) return false;
  if (from < 9) throw new InputError(`opset ${from} is too old to quantize (inferopt upgrades from 9 onward)`);
  const g = model.graph;
  for (let v = from + 1; v <= target; v++) {
    for (const n of [...g.nodes]) {
      if (!isDefaultDomain(n)) continue;
      if (refusedAt(n, v)) throw new InputError(`cannot raise opset ${from} → ${target} for quantization: ${n.opType} '${n.name}' changed meaning at opset ${v}`);
      if (opTraits(n.domain, n.opType).boundsInputSince === v) boundsToInputs(g, n);
      const change = signatureChangeAt(n.domain, n.opType, v);
      if (change) applySignatureChange(g, n, change);
    }
  }
  const o = model.opsetImports.find((x) => x.domain === '' || x.domain === 'ai.onnx')!;
  o.version = target;
  return true;
}

/** Whether `upgradeOpset(model, target)` would succeed (no op it refuses on the way, under the name it has then). */
export function wouldUpgrade(model: Model, target: 10 | 11): boolean {
  const from = model.opset('') ?? 1;
  if (from < 9) return false;
  for (const n of model.graph.nodes) {
    if (!isDefaultDomain(n)) continue;
    let opType = n.opType;
    for (let v = from + 1; v <= target; v++) {
      if (refusedAt(n, v, opType)) return false;
      opType = signatureChangeAt(n.domain, opType, v)?.renamedTo ?? opType;
    }
  }
  return true;
}

/** Rewrites a node to the signature its op has from `change.at` (the registry's data, see SignatureChange). */
function applySignatureChange(g: Graph, n: Node, change: SignatureChange): void {
  for (const a of change.attrsToInputs ?? []) attrToInput(g, n, a);
  if (change.renamedTo) n.opType = change.renamedTo;
}

function attrToInput(g: Graph, n: Node, to: AttrToInput): void {
  const a = n.attr(to.attr);
  if (!a) return;
  const vals = a.type === 'ints' || a.type === 'floats' ? a.value : a.type === 'int' || a.type === 'float' ? [a.value] : [];
  n.attrs.delete(to.attr);
  if (to.omitIf !== undefined && vals.length === 1 && vals[0] === to.omitIf) return;
  if (to.shape === 'scalar' && vals.length !== 1) throw new InputError(`attribute ${to.attr} of ${n.opType} '${n.name}' holds ${vals.length} values, not one`);
  while (n.inputs.length < to.input) n.addInput(null);
  const dims = to.shape === 'scalar' ? [] : [vals.length];
  n.setInput(to.input, g.addInitializer(Tensor.fromArray(to.dtype, dims, vals), g.uniqueName(`${n.name || n.opType}_${to.attr}`)));
}

/**
 * The range bounds of an op whose `min`/`max` attributes become inputs 1 and 2 at this opset (Clip-11: optional
 * inputs of the data's type, float here: Clip was float-only before). An absent attribute stays absent.
 */
function boundsToInputs(g: Graph, n: Node): void {
  const r = outputRange(n)!; // from the attributes (no bound inputs before this opset)
  n.attrs.delete('min');
  n.attrs.delete('max');
  const put = (i: number, v: number | null, what: string) => {
    if (v !== null && Number.isFinite(v)) n.setInput(i, g.addInitializer(Tensor.scalar(DataType.FLOAT, v), g.uniqueName(`${n.name || n.opType}_${what}`)));
  };
  put(1, r.min, 'min');
  put(2, r.max, 'max');
}
