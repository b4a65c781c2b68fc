import { InputError } from '../errors.js';
import { dtypeName } from '../ir/dtype.js';
import type { Graph, Model, Value } from '../ir/graph.js';
import type { Tensor } from '../ir/tensor.js';
import { formatType, isTensorType, type Dim } from '../ir/types.js';
import { analyzeShapes, modelCost, type InferReport, type OpTypeCost } from '../ops/index.js';
import { concreteShape, requireSizedDims, runtimeInputs } from '../runtime/inputs.js';

/**
 * What `inferopt inspect` reports about a model: its interface, opsets, op histogram, parameters (initializers
 * and Constant-node tensors: some exporters store all weights as Constant nodes), size on disk, and compute
 * (MACs/FLOPs) for given or default input shapes. A stable, JSON-serializable object; `formatInspect` renders
 * it for a terminal.
 */

export interface InspectOptions {
  /** Shapes by input name (from `--shape x=1x3x224x224`). */
  shapes?: Record<string, number[]>;
  /** Values for symbolic dims (from `--dim seq=128`); others default as in runtime/inputs `concreteShape`. */
  dims?: Record<string, number>;
  /** Size of the model file plus its external data, when it came from a file. */
  sizeOnDisk?: number;
}

export interface InterfaceValue {
  name: string;
  /** Element type name (float32, int64…), or the kind for non-tensors. */
  type: string;
  /** Declared shape: numbers, symbolic names, null for unknown; null when no shape is declared. */
  shape: Dim[] | null;
}

export interface DtypeParams {
  dtype: string;
  tensors: number;
  elements: number;
  bytes: number;
}

export interface InspectReport {
  irVersion: number;
  opsets: { domain: string; version: number }[];
  producer: { name: string; version: string };
  inputs: InterfaceValue[];
  outputs: InterfaceValue[];
  nodes: number;
  /** Op histogram over the graph and its subgraphs, most frequent first. */
  ops: { op: string; count: number }[];
  parameters: { elements: number; bytes: number; tensors: number; byDtype: DtypeParams[] };
  sizeOnDisk: number | null;
  compute: ComputeSummary | { error: string };
  /** Ops the inferopt registry has no entry for. */
  unknownOps: { op: string; count: number }[];
  inferenceFailures: { node: string; reason: string }[];
}

export interface ComputeSummary {
  /** The concrete input shapes the numbers are for. */
  inputShapes: Record<string, number[]>;
  macs: number;
  flops: number;
  bytesRead: number;
  bytesWritten: number;
  byOp: OpTypeCost[];
  /** Nodes whose cost could not be computed (shapes that stay dynamic), by op type. */
  uncounted: { op: string; count: number }[];
}

export function inspectModel(model: Model, opts: InspectOptions = {}): InspectReport {
  const known = new Set(runtimeInputs(model).map((v) => v.name));
  for (const name of Object.keys(opts.shapes ?? {})) {
    if (!known.has(name)) throw new InputError(`--shape: the model has no input '${name}' (inputs: ${[...known].join(', ') || 'none'})`);
  }
  const { compute, inference } = computeSummary(model, opts);
  return {
    irVersion: model.irVersion,
    opsets: model.opsetImports.map((o) => ({ domain: o.domain || 'ai.onnx', version: o.version })),
    producer: { name: model.producerName, version: model.producerVersion },
    inputs: runtimeInputs(model).map(valueInfo),
    outputs: model.graph.outputs.map(valueInfo),
    nodes: [...model.graph.allNodes()].length,
    ops: opHistogram(model.graph),
    parameters: parameterStats(model.graph),
    sizeOnDisk: opts.sizeOnDisk ?? null,
    compute,
    unknownOps: inference.unknownOps,
    inferenceFailures: inference.failed,
  };
}

function valueInfo(v: Value): InterfaceValue {
  const t = v.type;
  if (!isTensorType(t)) return { name: v.name, type: formatType(t), shape: null };
  return { name: v.name, type: dtypeName(t.elemType), shape: t.shape ? [...t.shape] : null };
}

function opHistogram(g: Graph): { op: string; count: number }[] {
  const counts = new Map<string, number>();
  for (const n of g.allNodes()) counts.set(n.qualifiedType, (counts.get(n.qualifiedType) ?? 0) + 1);
  return [...counts].map(([op, count]) => ({ op, count })).sort((a, b) => b.count - a.count || a.op.localeCompare(b.op));
}

/** Every constant tensor once: initializers (of all graphs) and the `value` of Constant nodes. */
function constantTensors(g: Graph): Tensor[] {
  const seen = new Set<Tensor>();
  const visit = (h: Graph) => {
    for (const v of h.initializers.values()) seen.add(v.initializer!);
    for (const n of h.nodes) {
      if (n.opType === 'Constant' && n.domain === '') {
        const t = n.attrTensor('value');
        if (t) seen.add(t);
      }
      for (const s of n.subgraphs()) visit(s);
    }
  };
  visit(g);
  return [...seen];
}

function parameterStats(g: Graph): InspectReport['parameters'] {
  const by = new Map<string, DtypeParams>();
  for (const t of constantTensors(g)) {
    const dtype = dtypeName(t.dtype);
    const e = by.get(dtype) ?? { dtype, tensors: 0, elements: 0, bytes: 0 };
    e.tensors++;
    e.elements += t.size;
    e.bytes += t.byteLength;
    by.set(dtype, e);
  }
  const byDtype = [...by.values()].sort((a, b) => b.bytes - a.bytes || a.dtype.localeCompare(b.dtype));
  const sum = (k: 'elements' | 'bytes' | 'tensors') => byDtype.reduce((s, d) => s + d[k], 0);
  return { elements: sum('elements'), bytes: sum('bytes'), tensors: sum('tensors'), byDtype };
}

/** Compute for concrete input shapes, and the inference report (for symbolic shapes when none can be made). */
function computeSummary(model: Model, opts: InspectOptions): { compute: InspectReport['compute']; inference: InferReport } {
  const inputShapes: Record<string, number[]> = {};
  try {
    requireSizedDims(model, { shapes: opts.shapes, dims: opts.dims }, { what: 'costed' });
    for (const v of runtimeInputs(model)) inputShapes[v.name] = concreteShape(v, { shapes: opts.shapes, dims: opts.dims });
  } catch (e) {
    if (!(e instanceof InputError)) throw e;
    return { compute: { error: e.message }, inference: analyzeShapes(model, { dims: opts.dims }).report };
  }
  const cost = modelCost(model, { shapes: inputShapes });
  return {
    compute: { inputShapes, ...cost.total, byOp: cost.byOp, uncounted: cost.uncounted },
    inference: cost.inference,
  };
}
