import { DataType } from '../dtype.js';
import type { Attribute, Graph, Model, Node, Value } from '../graph.js';
import type { Tensor } from '../tensor.js';
import type { Dim, ValueType } from '../types.js';
import { Writer } from './wire.js';

/** How a tensor is stored on save: inline (raw_data) or in the external data file at `offset`. */
export type TensorPlacement = (t: Tensor) => { location: string; offset: number } | undefined;

export interface EncodeOptions {
  placement?: TensorPlacement;
}

/** Encodes a model as ModelProto chunks (big tensors referenced, not copied). */
export function encodeModel(m: Model, opts: EncodeOptions = {}): Uint8Array[] {
  const w = new Writer(1024);
  if (m.irVersion) w.varintField(1, m.irVersion);
  w.optString(2, m.producerName);
  w.optString(3, m.producerVersion);
  w.optString(4, m.domain);
  if (m.modelVersion) w.varintField(5, m.modelVersion);
  w.optString(6, m.docString);
  w.message(7, (g) => encodeGraph(g, m.graph, opts));
  for (const o of m.opsetImports) {
    w.message(8, (x) => {
      x.optString(1, o.domain);
      x.varintField(2, o.version);
    });
  }
  for (const e of m.metadata) w.message(14, (x) => stringEntry(x, e.key, e.value));
  for (const u of m.unknown) w.raw(u);
  for (const f of m.functions) w.bytesField(25, f);
  return w.finish();
}

function stringEntry(w: Writer, key: string, value: string): void {
  w.stringField(1, key);
  w.stringField(2, value);
}

function encodeGraph(w: Writer, g: Graph, opts: EncodeOptions): void {
  for (const n of g.nodes) w.message(1, (x) => encodeNode(x, n, opts));
  w.optString(2, g.name);
  for (const v of g.initializers.values()) w.message(5, (x) => encodeTensor(x, v.initializer!, opts, v.name));
  w.optString(10, g.docString);
  for (const v of g.inputs) w.message(11, (x) => encodeValueInfo(x, v));
  for (const v of g.outputs) w.message(12, (x) => encodeValueInfo(x, v));
  const io = new Set<Value>([...g.inputs, ...g.outputs]);
  for (const v of g.valueInfo.values()) {
    if (io.has(v) || v.isInitializer || !v.type) continue;
    if (!v.producer || v.producer.graph !== g) continue; // stale: the value left the graph
    w.message(13, (x) => encodeValueInfo(x, v));
  }
  for (const u of g.unknown) w.raw(u);
}

function encodeNode(w: Writer, n: Node, opts: EncodeOptions): void {
  for (const v of n.inputs) w.stringField(1, v ? v.name : '');
  for (const v of n.outputs) w.stringField(2, v.name);
  w.optString(3, n.name);
  w.stringField(4, n.opType);
  for (const a of n.attrs.values()) {
    if (a.value.type === 'raw') w.bytesField(5, a.value.bytes);
    else w.message(5, (x) => encodeAttribute(x, a, opts));
  }
  w.optString(6, n.docString);
  w.optString(7, n.domain);
  w.optString(8, n.overload);
  for (const u of n.unknown) w.raw(u);
}

const ATTR_TYPE = {
  float: 1,
  int: 2,
  string: 3,
  tensor: 4,
  graph: 5,
  floats: 6,
  ints: 7,
  strings: 8,
  tensors: 9,
  graphs: 10,
} as const;

function encodeAttribute(w: Writer, a: Attribute, opts: EncodeOptions): void {
  const v = a.value;
  w.stringField(1, a.name);
  switch (v.type) {
    case 'float':
      w.floatField(2, v.value);
      break;
    case 'int':
      w.varintField(3, v.value);
      break;
    case 'string':
      w.stringField(4, v.value);
      break;
    case 'tensor':
      w.message(5, (x) => encodeTensor(x, v.value, opts, v.value.name));
      break;
    case 'graph':
      w.message(6, (x) => encodeGraph(x, v.value, opts));
      break;
    case 'floats':
      w.packedFloat(7, v.value);
      break;
    case 'ints':
      w.packedInt64(8, v.value);
      break;
    case 'strings':
      for (const s of v.value) w.stringField(9, s);
      break;
    case 'tensors':
      for (const t of v.value) w.message(10, (x) => encodeTensor(x, t, opts, t.name));
      break;
    case 'graphs':
      for (const g of v.value) w.message(11, (x) => encodeGraph(x, g, opts));
      break;
    case 'raw':
      throw new Error('unreachable');
  }
  if (a.docString) w.stringField(13, a.docString);
  w.varintField(20, ATTR_TYPE[v.type]);
  if (a.refAttrName) w.stringField(21, a.refAttrName);
}

/** One TensorProto (raw_data inline), as ONNX test sets store inputs: what `--input name=file.pb` reads. */
export function encodeTensorProto(t: Tensor, name: string): Uint8Array[] {
  const w = new Writer(64);
  encodeTensor(w, t, {}, name);
  return w.finish();
}

function encodeTensor(w: Writer, t: Tensor, opts: EncodeOptions, name: string): void {
  w.packedInt64(1, t.dims);
  w.varintField(2, t.dtype);
  if (t.dtype === DataType.STRING) {
    for (const s of t.strings ?? []) w.bytesField(6, s);
  }
  w.optString(8, name);
  const ext = t.dtype === DataType.STRING ? undefined : opts.placement?.(t);
  if (!ext && t.dtype !== DataType.STRING) w.bytesField(9, t.bytes);
  w.optString(12, t.docString);
  if (ext) {
    w.message(13, (x) => stringEntry(x, 'location', ext.location));
    w.message(13, (x) => stringEntry(x, 'offset', String(ext.offset)));
    w.message(13, (x) => stringEntry(x, 'length', String(t.bytes.length)));
    w.varintField(14, 1);
  }
  for (const u of t.unknown) w.raw(u);
}

function encodeValueInfo(w: Writer, v: Value): void {
  w.stringField(1, v.name);
  if (v.type) w.message(2, (x) => encodeType(x, v.type!));
  w.optString(3, v.docString);
  for (const u of v.unknown) w.raw(u);
}

function encodeType(w: Writer, t: ValueType): void {
  switch (t.kind) {
    case 'raw':
      w.raw(t.bytes);
      return;
    case 'tensor':
    case 'sparse_tensor':
      w.message(t.kind === 'tensor' ? 1 : 8, (x) => {
        x.varintField(1, t.elemType);
        if (t.shape) x.message(2, (s) => encodeShape(s, t.shape!));
      });
      break;
    case 'sequence':
    case 'optional':
      w.message(t.kind === 'sequence' ? 4 : 9, (x) => {
        if (t.elem) x.message(1, (e) => encodeType(e, t.elem!));
      });
      break;
    case 'map':
      w.message(5, (x) => {
        x.varintField(1, t.keyType);
        if (t.value) x.message(2, (e) => encodeType(e, t.value!));
      });
      break;
  }
  if (t.denotation) w.stringField(6, t.denotation);
}

function encodeShape(w: Writer, shape: readonly Dim[]): void {
  for (const d of shape) {
    w.message(1, (x) => {
      if (typeof d === 'number') x.varintField(1, d);
      else if (typeof d === 'string') x.stringField(2, d);
    });
  }
}
