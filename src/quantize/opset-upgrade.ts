import { InputError } from '../errors.js';
import { DataType } from '../ir/dtype.js';
import type { Graph, Model, Node } from '../ir/graph.js';
import { Tensor } from '../ir/tensor.js';
import { opTraits, outputRange } from '../ops/index.js';

/**
 * Raises the default-domain opset of old models (PaddleOCR's exports are opset 9) to what quantized ops
 * need: 10 for QuantizeLinear/QLinearConv, 11 for DynamicQuantizeLinear. Ops whose signature changed on the
 * way are rewritten (Slice and TopK attributes become inputs at 10, Upsample becomes the identical Resize-10,
 * Clip and Pad attributes become inputs at 11); a model using an op whose meaning changed in a way not
 * handled here is refused rather than silently altered: those are the op registry's `breaksAt` trait, and
 * any node holding subgraphs (If, Loop, Scan: their bodies are not upgraded).
 */
function refusedAt(n: Node, v: number, opType = n.opType): boolean {
  return n.subgraphs().length > 0 || opTraits(n.domain, opType).breaksAt?.includes(v) === true;
}

export function upgradeOpset(model: Model, target: 10 | 11): boolean {
  const from = model.opset('') ?? 1;
  if (from >= target) return false;
  if (from < 9) throw new InputError(`opset ${from} is too old to quantize (inferopt upgrades from 9 onward)`);
  const g = model.graph;
  for (let v = from + 1; v <= target; v++) {
    for (const n of [...g.nodes]) {
      if (n.domain !== '' && n.domain !== 'ai.onnx') continue;
      if (refusedAt(n, v)) throw new InputError(`cannot raise opset ${from} → ${target} for quantization: ${n.opType} '${n.name}' changed meaning at opset ${v}`);
      if (opTraits(n.domain, n.opType).boundsInputSince === v) boundsToInputs(g, n);
      if (v === 10) toOpset10(g, n);
      else toOpset11(g, n);
    }
  }
  const o = model.opsetImports.find((x) => x.domain === '' || x.domain === 'ai.onnx')!;
  o.version = target;
  return true;
}

/** Whether `upgradeOpset(model, target)` would succeed (no op it refuses on the way). */
export function wouldUpgrade(model: Model, target: 10 | 11): boolean {
  const from = model.opset('') ?? 1;
  if (from < 9) return false;
  for (let v = from + 1; v <= target; v++) {
    // Upsample becomes Resize at 10, which 11 then refuses
    const renamed = (n: Node) => v === 11 && from < 10 && n.opType === 'Upsample' && refusedAt(n, v, 'Resize');
    if (model.graph.nodes.some((n) => (n.domain === '' || n.domain === 'ai.onnx') && (refusedAt(n, v) || renamed(n)))) return false;
  }
  return true;
}

function attrToInput(g: Graph, n: Node, attr: string, tensor: (vals: number[]) => Tensor, index: number): void {
  const a = n.attr(attr);
  if (!a) return;
  const vals = a.type === 'ints' || a.type === 'floats' ? a.value : a.type === 'int' || a.type === 'float' ? [a.value] : [];
  n.attrs.delete(attr);
  while (n.inputs.length < index) n.addInput(null);
  n.setInput(index, g.addInitializer(tensor(vals), g.uniqueName(`${n.name || n.opType}_${attr}`)));
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

function toOpset10(g: Graph, n: Node): void {
  if (n.opType === 'Slice') {
    attrToInput(g, n, 'starts', (v) => Tensor.int64([v.length], v), 1);
    attrToInput(g, n, 'ends', (v) => Tensor.int64([v.length], v), 2);
    attrToInput(g, n, 'axes', (v) => Tensor.int64([v.length], v), 3);
  } else if (n.opType === 'TopK') {
    attrToInput(g, n, 'k', (v) => Tensor.int64([1], v), 1);
  } else if (n.opType === 'Upsample') {
    n.opType = 'Resize'; // Resize-10 is Upsample-9 under a new name: same inputs (X, scales) and mode
  }
}

function toOpset11(g: Graph, n: Node): void {
  if (n.opType === 'Pad') {
    const value = n.attrFloat('value', 0);
    attrToInput(g, n, 'pads', (v) => Tensor.int64([v.length], v), 1);
    n.attrs.delete('value');
    if (value !== 0) n.setInput(2, g.addInitializer(Tensor.scalar(DataType.FLOAT, value), g.uniqueName(`${n.name || 'Pad'}_value`)));
  }
}
