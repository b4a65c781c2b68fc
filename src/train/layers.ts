import { InputError } from '../errors.js';
import { DataType } from '../ir/dtype.js';
import type { Model, Node, Value } from '../ir/graph.js';
import { loadModel, modelToBytes } from '../ir/io.js';
import { analyzeShapes } from '../ops/infer.js';
import '../ops/index.js';

/**
 * The repeated blocks of a network (transformer encoder layers, residual blocks), found from the weight names
 * every exporter writes (`encoder.layer.3.…`, `layers.3.…`, `layer3.…`, `block2.…`, `h.5.…`): a layer is the
 * nodes that read its weights plus every node between them, its output the one value that leaves them, its
 * input the value that enters from the previous layer (side inputs every layer reads, such as the attention
 * mask, are not it). Distillation maps hidden states by these layers and builds students by dropping them.
 */
export interface Layer {
  index: number;
  /** The weight-name prefix shared by the layer's weights, e.g. `layer2.`. */
  prefix: string;
  nodes: Set<Node>;
  input: Value;
  output: Value;
  /** The first Softmax output inside the layer (attention probabilities), if any. */
  attention?: Value;
}

const LAYER_NAME = /^(.*?(?:layers?|blocks?|h|stages?)[._/]?)(\d+)(?=[._/])/i;

export function findLayers(model: Model, opts: { minLayers?: number } = {}): Layer[] {
  const g = model.graph;
  // weights grouped by (stem, index); the stem with the most indices names the layers
  const groups = new Map<string, Map<number, Value[]>>();
  for (const v of g.initializers.values()) {
    const m = LAYER_NAME.exec(v.name);
    if (!m) continue;
    const byIndex = groups.get(m[1]!) ?? new Map<number, Value[]>();
    const k = Number(m[2]);
    byIndex.set(k, [...(byIndex.get(k) ?? []), v]);
    groups.set(m[1]!, byIndex);
  }
  const best = [...groups.entries()].sort((a, b) => b[1].size - a[1].size)[0];
  if (!best || best[1].size < (opts.minLayers ?? 2)) throw new InputError('no repeated layers found in the model (weights named like layer0., layers.1., encoder.layer.2., block3.)');
  const [stem, byIndex] = best;
  g.topologicalSort();
  const order = new Map(g.nodes.map((n, i) => [n, i]));
  const layers: Omit<Layer, 'input'>[] = [];
  const externals: Value[][] = [];
  for (const index of [...byIndex.keys()].sort((a, b) => a - b)) {
    const weighted = new Set(byIndex.get(index)!.flatMap((v) => v.uses.map((u) => u.node)));
    // between: reachable forward from a weighted node and backward from one
    const down = new Set<Node>();
    for (const n of [...weighted].sort((a, b) => order.get(a)! - order.get(b)!)) {
      if (down.has(n)) continue;
      const stack = [n];
      while (stack.length) {
        const x = stack.pop()!;
        if (down.has(x)) continue;
        down.add(x);
        for (const o of x.outputs) for (const u of o.uses) stack.push(u.node);
      }
    }
    const nodes = new Set<Node>();
    const stack = [...weighted];
    while (stack.length) {
      const x = stack.pop()!;
      if (nodes.has(x) || !down.has(x)) continue;
      nodes.add(x);
      for (const v of x.inputs) if (v?.producer && v.producer.graph === g) stack.push(v.producer);
    }
    const leavingOf = () => [...nodes].flatMap((n) => n.outputs).filter((o) => g.isOutput(o) || o.uses.some((u) => !nodes.has(u.node)));
    let leaving = leavingOf();
    const outside = (n: Node) => !nodes.has(n) && !n.inputs.some((v) => v?.initializer && LAYER_NAME.exec(v.name)?.[1] === stem);
    const enters = (v: Value | null) => !!v && !v.initializer && !!v.uses.some((u) => nodes.has(u.node)) && !(v.producer && nodes.has(v.producer));
    // branches that merge after the last weight belong to the layer: a projection shortcut's Add, and the
    // residual Add that joins the layer's output with its own input
    for (let round = 0; round < 8; round++) {
      const merge = leaving.flatMap((o) => o.uses.map((u) => u.node)).filter((n) => outside(n) && (leaving.length > 1 || n.inputs.some((v) => enters(v) && !leaving.includes(v!))));
      if (!merge.length) break;
      for (const n of merge) nodes.add(n);
      leaving = leavingOf();
    }
    if (leaving.length !== 1) throw new InputError(`layer ${stem}${index}: expected one value leaving it, found ${leaving.length} (${leaving.map((v) => v.name).join(', ')})`);
    const entering = new Set<Value>();
    for (const n of nodes) for (const v of n.inputs) if (v && !v.initializer && !v.constTensor() && !(v.producer && nodes.has(v.producer))) entering.add(v);
    const attention = [...nodes].sort((a, b) => order.get(a)! - order.get(b)!).find((n) => n.opType === 'Softmax')?.outputs[0];
    layers.push({ index, prefix: `${stem}${index}`, nodes, output: leaving[0]!, attention });
    externals.push([...entering]);
  }
  // the residual stream enters from the previous layer; side inputs (masks) enter every layer
  const side = (v: Value) => externals.every((e) => e.includes(v));
  return layers.map((l, i) => {
    const prev = layers[i - 1]?.output;
    let own = externals[i]!.filter((v) => !side(v));
    if (own.length > 1 && prev && own.includes(prev)) own = [prev];
    // a single layer (a student that kept one): every entering value is read by all layers, so the hidden
    // state is the one shaped like the layer's output
    if (layers.length === 1) {
      const dims = shapeTexts(model);
      own = externals[0]!.filter((v) => dims(v) !== '?' && dims(v) === dims(l.output));
    }
    if (own.length !== 1) throw new InputError(`layer ${l.prefix}: cannot tell which input is the hidden state (${externals[i]!.map((v) => v.name).join(', ')})`);
    return { ...l, input: own[0]! };
  });
}

/** The inferred shape of a value as text ('?' when unknown), free dims at 1. */
export function shapeTexts(model: Model): (v: Value) => string {
  const g = model.graph;
  const shapes = analyzeShapes(model, { dims: Object.fromEntries(g.inputs.flatMap((v) => (v.type?.kind === 'tensor' ? (v.type.shape ?? []).filter((d): d is string => typeof d === 'string').map((d) => [d, 1]) : []))) });
  return (v) => {
    const t = shapes.typeOf(v);
    return t?.kind === 'tensor' ? JSON.stringify(t.shape) : '?';
  };
}

/**
 * A student made from the teacher by keeping every k-th layer (DistilBERT's initialisation): layers
 * k−1, 2k−1, … stay with their weights, the others go and their input flows on. Returns the student and,
 * per student layer, the teacher layer it came from (the layer map for hidden-state losses).
 */
export function keepEveryKthLayer(teacher: Model, k: number): { student: Model; teacherLayers: number[] } {
  if (!Number.isInteger(k) || k < 1) throw new InputError(`keep every k-th layer: k must be a positive integer, not ${k}`);
  const { model, kept } = dropLayers(teacher, (i, _l, n) => {
    if (k > n) throw new InputError(`keep every ${k}th layer: the teacher has only ${n} layers`);
    return i % k !== k - 1;
  });
  return { student: model, teacherLayers: kept };
}

/**
 * A copy of `model` without the layers (`findLayers` order) for which `drop(i)` is true: each dropped layer's
 * input flows on to what read its output. Only layers whose output has their input's shape can go. Returns the
 * copy and the indices of the layers kept.
 */
export function dropLayers(model: Model, drop: (index: number, layer: Layer, count: number) => boolean): { model: Model; kept: number[] } {
  const student = loadModel(modelToBytes(model));
  const layers = findLayers(student);
  const g = student.graph;
  const dims = shapeTexts(student);
  // consecutive dropped layers: a layer's input may be the output of one dropped before it, so inputs resolve
  // through what replaced them
  const replaced = new Map<Value, Value>();
  const kept: number[] = [];
  layers.forEach((l, i) => {
    if (!drop(i, l, layers.length)) return kept.push(i);
    if (!layerKeepsShape(l, dims)) throw new InputError(`layer ${l.prefix} cannot be dropped: its output ${dims(l.output)} differs from its input ${dims(l.input)} (only layers that keep the shape can go)`);
    const input = replaced.get(l.input) ?? l.input;
    l.output.replaceAllUsesWith(input);
    replaced.set(l.output, input);
    g.outputs = g.outputs.map((o) => (o === l.output ? input : o));
    g.removeNodes(l.nodes);
  });
  for (const v of [...g.initializers.values()]) if (v.uses.length === 0 && !g.isOutput(v)) g.removeInitializer(v);
  return { model: student, kept };
}

/** Whether a layer's output has its input's (known) shape, so that it can be skipped. */
export function layerKeepsShape(l: Layer, dims: (v: Value) => string): boolean {
  return dims(l.input) === dims(l.output) && dims(l.input) !== '?';
}

/** Float values exposed as extra graph outputs (a copy of the model; teachers give hidden states this way). */
export function withOutputs(model: Model, names: readonly string[]): Model {
  const m = loadModel(modelToBytes(model));
  for (const name of names) {
    const v = m.graph.findValue(name);
    if (!v) throw new InputError(`the model has no value '${name}'`);
    if (m.graph.isOutput(v)) continue;
    v.type = undefined;
    m.graph.outputs.push(v);
  }
  return m;
}

export const isFloatType = (t: DataType) => t === DataType.FLOAT || t === DataType.FLOAT16 || t === DataType.DOUBLE;
