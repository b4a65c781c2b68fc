import { DataType, byteSize, dtypeInfo } from '../dtype.js';
import { Graph, Model, Node, Value, type Attribute, type AttrValue } from '../graph.js';
import { Tensor } from '../tensor.js';
import type { Dim, ValueType } from '../types.js';
import { Reader, WireType, textDecoder } from './wire.js';

/** Where a tensor's external data lives, as written in the file. */
export interface ExternalRef {
  location: string;
  offset: number;
  length?: number;
}

export interface DecodeOptions {
  /** Returns the bytes of an external tensor; called once per external tensor. */
  externalData?: (ref: ExternalRef, tensorName: string) => Uint8Array;
}

/** Decodes an ONNX ModelProto. Big raw_data fields stay views into `bytes`. */
export function decodeModel(bytes: Uint8Array, opts: DecodeOptions = {}): Model {
  const r = new Reader(bytes);
  const m = new Model();
  m.opsetImports = [];
  m.producerName = '';
  m.irVersion = 0;
  let graphReader: Reader | undefined;
  while (!r.done) {
    const start = r.pos;
    const [f, wt] = r.tag();
    switch (f) {
      case 1:
        m.irVersion = r.int64();
        break;
      case 2:
        m.producerName = r.string();
        break;
      case 3:
        m.producerVersion = r.string();
        break;
      case 4:
        m.domain = r.string();
        break;
      case 5:
        m.modelVersion = r.int64();
        break;
      case 6:
        m.docString = r.string();
        break;
      case 7:
        graphReader = r.sub();
        break;
      case 8: {
        const s = r.sub();
        let domain = '';
        let version = 0;
        while (!s.done) {
          const [g, w] = s.tag();
          if (g === 1) domain = s.string();
          else if (g === 2) version = s.int64();
          else s.skip(w, s.pos);
        }
        m.opsetImports.push({ domain, version });
        break;
      }
      case 14:
        m.metadata.push(decodeStringEntry(r.sub()));
        break;
      case 25:
        m.functions.push(r.bytes());
        break;
      default:
        m.unknown.push(r.skip(wt, start));
    }
  }
  if (!graphReader) throw new Error('not an ONNX model: no graph');
  if (m.irVersion <= 0 || m.irVersion > 64) throw new Error(`not an ONNX model: ir_version ${m.irVersion}`);
  m.graph = new GraphDecoder(opts).decode(graphReader, null);
  return m;
}

/** Decodes a standalone TensorProto (e.g. the input_N.pb / output_N.pb files of ONNX's backend tests). */
export function decodeTensor(bytes: Uint8Array, opts: DecodeOptions = {}): Tensor {
  return new GraphDecoder(opts).tensor(new Reader(bytes));
}

function decodeStringEntry(r: Reader): { key: string; value: string } {
  let key = '';
  let value = '';
  while (!r.done) {
    const [f, wt] = r.tag();
    if (f === 1) key = r.string();
    else if (f === 2) value = r.string();
    else r.skip(wt, r.pos);
  }
  return { key, value };
}

const EXTERNAL_KEYS = new Set(['location', 'offset', 'length', 'checksum']);

/**
 * The external_data entries of a tensor, checked as ONNX Runtime checks them: a location, and offset/length
 * as plain decimal integers (ORT refuses `"1.5"`, so accepting it would write models ORT cannot load); the
 * length, when given, must be the tensor's size.
 */
function externalRef(entries: Record<string, string>, tensor: string, expected: number): ExternalRef {
  const bad = (why: string): never => {
    throw new Error(`tensor '${tensor}': external data ${why}`);
  };
  for (const k of Object.keys(entries)) if (!EXTERNAL_KEYS.has(k)) bad(`has an unknown key '${k.replace(/[^\x20-\x7e]/g, '?').slice(0, 40)}'`);
  const location = entries['location'];
  if (location === undefined || location === '') bad('without a location');
  const int = (key: string): number | undefined => {
    const v = entries[key];
    if (v === undefined) return undefined;
    const n = /^[0-9]{1,16}$/.test(v) ? Number(v) : NaN;
    if (!Number.isSafeInteger(n)) bad(`${key} '${v.replace(/[^\x20-\x7e]/g, '?').slice(0, 40)}' is not a non-negative integer`);
    return n;
  };
  const offset = int('offset') ?? 0;
  const length = int('length') ?? expected;
  if (length !== expected) bad(`length ${length} does not match the tensor's ${expected} bytes`);
  return { location: location!, offset, length };
}

interface RawNode {
  node: Node;
  inputNames: string[];
  outputNames: string[];
  attrReaders: Reader[];
}

/** Values visible to a graph: its own and those of the graphs that enclose it. */
class Scope {
  readonly values = new Map<string, Value>();
  constructor(readonly parent: Scope | null) {}
  lookup(name: string): Value | undefined {
    return this.values.get(name) ?? this.parent?.lookup(name);
  }
}

class GraphDecoder {
  constructor(private opts: DecodeOptions) {}

  decode(r: Reader, parentScope: Scope | null, parentGraph: Graph | null = null): Graph {
    const g = new Graph('');
    g.parent = parentGraph;
    const nodeReaders: Reader[] = [];
    const inputInfos: Reader[] = [];
    const outputInfos: Reader[] = [];
    const valueInfos: Reader[] = [];
    const inits: Tensor[] = [];
    while (!r.done) {
      const start = r.pos;
      const [f, wt] = r.tag();
      switch (f) {
        case 1:
          nodeReaders.push(r.sub());
          break;
        case 2:
          g.name = r.string();
          break;
        case 5:
          inits.push(this.tensor(r.sub()));
          break;
        case 10:
          g.docString = r.string();
          break;
        case 11:
          inputInfos.push(r.sub());
          break;
        case 12:
          outputInfos.push(r.sub());
          break;
        case 13:
          valueInfos.push(r.sub());
          break;
        default:
          g.unknown.push(r.skip(wt, start));
      }
    }
    const scope = new Scope(parentScope);
    for (const ir of inputInfos) {
      const v = decodeValueInfo(ir);
      scope.values.set(v.name, v);
      g.inputs.push(v);
    }
    for (const t of inits) {
      const existing = g.inputs.find((v) => v.name === t.name);
      const v = existing ?? new Value(t.name, { kind: 'tensor', elemType: t.dtype, shape: [...t.dims] });
      v.initializer = t;
      g.initializers.set(t.name, v);
      scope.values.set(t.name, v);
    }
    const raws = nodeReaders.map((nr) => this.nodeHeader(nr));
    for (const raw of raws) {
      for (const name of raw.outputNames) {
        const v = new Value(name);
        if (name !== '') scope.values.set(name, v);
        raw.node.addOutput(v);
      }
    }
    for (const raw of raws) {
      for (const ar of raw.attrReaders) {
        const a = this.attribute(ar, scope, g);
        raw.node.attrs.set(a.name, a);
      }
      for (const name of raw.inputNames) {
        if (name === '') {
          raw.node.addInput(null);
          continue;
        }
        let v = scope.lookup(name);
        if (!v) {
          // dangling reference (invalid model): keep the name so the model round-trips as it was
          v = new Value(name);
          scope.values.set(name, v);
        }
        raw.node.addInput(v);
      }
      g.addNode(raw.node);
    }
    for (const vr of valueInfos) {
      const info = decodeValueInfo(vr);
      const v = scope.values.get(info.name);
      if (!v) continue; // value_info for a value that does not exist: dropped
      if (info.type) v.type = info.type;
      v.docString ||= info.docString;
      g.valueInfo.set(info.name, v);
    }
    for (const orr of outputInfos) {
      const info = decodeValueInfo(orr);
      let v = scope.lookup(info.name);
      if (!v) {
        v = info;
        scope.values.set(info.name, v);
      } else {
        if (info.type) v.type = info.type;
        if (info.docString) v.docString = info.docString;
        if (info.unknown.length) v.unknown = info.unknown;
      }
      g.outputs.push(v);
    }
    return g;
  }

  private nodeHeader(r: Reader): RawNode {
    const node = new Node('');
    const inputNames: string[] = [];
    const outputNames: string[] = [];
    const attrReaders: Reader[] = [];
    while (!r.done) {
      const start = r.pos;
      const [f, wt] = r.tag();
      switch (f) {
        case 1:
          inputNames.push(r.string());
          break;
        case 2:
          outputNames.push(r.string());
          break;
        case 3:
          node.name = r.string();
          break;
        case 4:
          node.opType = r.string();
          break;
        case 5:
          attrReaders.push(r.sub());
          break;
        case 6:
          node.docString = r.string();
          break;
        case 7:
          node.domain = r.string();
          break;
        case 8:
          node.overload = r.string();
          break;
        default:
          node.unknown.push(r.skip(wt, start));
      }
    }
    if (node.domain === 'ai.onnx') node.domain = '';
    return { node, inputNames, outputNames, attrReaders };
  }

  private attribute(r: Reader, scope: Scope, owner: Graph): Attribute {
    const whole = r.buf.subarray(r.pos, r.end);
    let name = '';
    let refAttrName: string | undefined;
    let docString: string | undefined;
    let type = 0;
    let f = 0;
    let i = 0;
    let s: Uint8Array | undefined;
    let t: Tensor | undefined;
    let gr: Reader | undefined;
    const floats: number[] = [];
    const ints: number[] = [];
    const strings: Uint8Array[] = [];
    const tensors: Tensor[] = [];
    const graphs: Reader[] = [];
    let unmodelled = false;
    while (!r.done) {
      const start = r.pos;
      const [fld, wt] = r.tag();
      switch (fld) {
        case 1:
          name = r.string();
          break;
        case 21:
          refAttrName = r.string();
          break;
        case 13:
          docString = r.string();
          break;
        case 20:
          type = r.int32();
          break;
        case 2:
          f = r.float();
          break;
        case 3:
          i = r.int64();
          break;
        case 4:
          s = r.bytes();
          break;
        case 5:
          t = this.tensor(r.sub());
          break;
        case 6:
          gr = r.sub();
          break;
        case 7:
          r.repeated(wt, (x) => x.float(), floats);
          break;
        case 8:
          r.repeated(wt, (x) => x.int64(), ints);
          break;
        case 9:
          strings.push(r.bytes());
          break;
        case 10:
          tensors.push(this.tensor(r.sub()));
          break;
        case 11:
          graphs.push(r.sub());
          break;
        default:
          unmodelled = true;
          r.skip(wt, start);
      }
    }
    const sub = (gr2: Reader) => this.decode(gr2, scope, owner);
    let value: AttrValue;
    if (unmodelled && type !== 0 && ![1, 2, 3, 4, 5, 6, 7, 8, 9, 10].includes(type)) {
      value = { type: 'raw', bytes: whole };
    } else {
      switch (type) {
        case 1:
          value = { type: 'float', value: f };
          break;
        case 2:
          value = { type: 'int', value: i };
          break;
        case 3:
          value = { type: 'string', value: textDecoder.decode(s ?? new Uint8Array()) };
          break;
        case 4:
          if (!t) throw new Error(`attribute '${name}' is of type TENSOR but holds no tensor`);
          value = { type: 'tensor', value: t };
          break;
        case 5:
          if (!gr) throw new Error(`attribute '${name}' is of type GRAPH but holds no graph`);
          value = { type: 'graph', value: sub(gr) };
          break;
        case 6:
          value = { type: 'floats', value: floats };
          break;
        case 7:
          value = { type: 'ints', value: ints };
          break;
        case 8:
          value = { type: 'strings', value: strings.map((x) => textDecoder.decode(x)) };
          break;
        case 9:
          value = { type: 'tensors', value: tensors };
          break;
        case 10:
          value = { type: 'graphs', value: graphs.map(sub) };
          break;
        case 0: {
          // IR < 3 files have no type field: infer it from which field is set
          if (t) value = { type: 'tensor', value: t };
          else if (gr) value = { type: 'graph', value: sub(gr) };
          else if (s) value = { type: 'string', value: textDecoder.decode(s) };
          else if (floats.length) value = { type: 'floats', value: floats };
          else if (ints.length) value = { type: 'ints', value: ints };
          else if (strings.length) value = { type: 'strings', value: strings.map((x) => textDecoder.decode(x)) };
          else if (f !== 0) value = { type: 'float', value: f };
          else value = { type: 'int', value: i };
          break;
        }
        default:
          value = { type: 'raw', bytes: whole };
      }
    }
    const a: Attribute = { name, value };
    if (refAttrName) a.refAttrName = refAttrName;
    if (docString) a.docString = docString;
    return a;
  }

  tensor(r: Reader): Tensor {
    const dims: number[] = [];
    let dataType = 0;
    let name = '';
    let docString = '';
    let raw: Uint8Array | undefined;
    const floatData: number[] = [];
    const int32Data: number[] = [];
    const int64Data: number[] = [];
    const doubleData: number[] = [];
    const uint64Data: number[] = [];
    const stringData: Uint8Array[] = [];
    const external: Record<string, string> = Object.create(null) as Record<string, string>;
    let dataLocation = 0;
    const unknown: Uint8Array[] = [];
    while (!r.done) {
      const start = r.pos;
      const [f, wt] = r.tag();
      switch (f) {
        case 1:
          r.repeated(wt, (x) => x.int64(), dims);
          break;
        case 2:
          dataType = r.int32();
          break;
        case 4:
          r.repeated(wt, (x) => x.float(), floatData);
          break;
        case 5:
          r.repeated(wt, (x) => x.int32(), int32Data);
          break;
        case 6:
          stringData.push(r.bytes());
          break;
        case 7:
          r.repeated(wt, (x) => x.int64(), int64Data);
          break;
        case 8:
          name = r.string();
          break;
        case 9:
          raw = r.bytes();
          break;
        case 10:
          r.repeated(wt, (x) => x.double(), doubleData);
          break;
        case 11:
          r.repeated(wt, (x) => x.uint64(), uint64Data);
          break;
        case 12:
          docString = r.string();
          break;
        case 13: {
          const e = decodeStringEntry(r.sub());
          external[e.key] = e.value;
          break;
        }
        case 14:
          dataLocation = r.int32();
          break;
        default:
          unknown.push(r.skip(wt, start));
      }
    }
    const dtype = dataType as DataType;
    const count = dims.reduce((a, b) => a * b, 1);
    let bytes: Uint8Array;
    let strings: Uint8Array[] | undefined;
    if (dataLocation === 1) {
      if (!this.opts.externalData) {
        throw new Error(`tensor '${name}' has external data; load the model from a path (or give its data)`);
      }
      bytes = this.opts.externalData(externalRef(external, name, byteSize(dtype, count)), name);
    } else if (dtype === DataType.STRING) {
      bytes = new Uint8Array();
      strings = stringData;
    } else if (raw) {
      bytes = raw;
    } else {
      bytes = typedFieldsToRaw(dtype, count, { floatData, int32Data, int64Data, doubleData, uint64Data }, name);
    }
    const t = new Tensor(dtype, dims, bytes, name, strings);
    t.docString = docString;
    t.unknown = unknown;
    return t;
  }
}

function typedFieldsToRaw(
  dtype: DataType,
  count: number,
  d: { floatData: number[]; int32Data: number[]; int64Data: number[]; doubleData: number[]; uint64Data: number[] },
  name: string,
): Uint8Array {
  const size = byteSize(dtype, count);
  const out = new Uint8Array(size);
  const dv = new DataView(out.buffer);
  const bits = dtypeInfo(dtype).bits;
  const need = (arr: number[], n: number, field: string) => {
    if (arr.length !== n) throw new Error(`tensor '${name}': ${field} has ${arr.length} values, expected ${n}`);
  };
  switch (dtype) {
    case DataType.FLOAT:
    case DataType.COMPLEX64: {
      const n = dtype === DataType.COMPLEX64 ? count * 2 : count;
      need(d.floatData, n, 'float_data');
      d.floatData.forEach((v, i) => dv.setFloat32(i * 4, v, true));
      break;
    }
    case DataType.DOUBLE:
    case DataType.COMPLEX128: {
      const n = dtype === DataType.COMPLEX128 ? count * 2 : count;
      need(d.doubleData, n, 'double_data');
      d.doubleData.forEach((v, i) => dv.setFloat64(i * 8, v, true));
      break;
    }
    case DataType.INT64:
      need(d.int64Data, count, 'int64_data');
      d.int64Data.forEach((v, i) => dv.setBigInt64(i * 8, BigInt(Math.round(v)), true));
      break;
    case DataType.UINT32:
      need(d.uint64Data, count, 'uint64_data');
      d.uint64Data.forEach((v, i) => dv.setUint32(i * 4, v, true));
      break;
    case DataType.UINT64:
      need(d.uint64Data, count, 'uint64_data');
      d.uint64Data.forEach((v, i) => dv.setBigUint64(i * 8, BigInt(Math.round(v)), true));
      break;
    case DataType.INT32:
      need(d.int32Data, count, 'int32_data');
      d.int32Data.forEach((v, i) => dv.setInt32(i * 4, v, true));
      break;
    default: {
      // int32_data holds one element each (16-bit and 8-bit types) or one packed byte each (4-bit types)
      if (bits === 16) {
        need(d.int32Data, count, 'int32_data');
        d.int32Data.forEach((v, i) => dv.setUint16(i * 2, v & 0xffff, true));
      } else if (bits === 8) {
        need(d.int32Data, count, 'int32_data');
        d.int32Data.forEach((v, i) => dv.setUint8(i, v & 0xff));
      } else if (bits === 4 || bits === 2) {
        need(d.int32Data, size, 'int32_data');
        d.int32Data.forEach((v, i) => dv.setUint8(i, v & 0xff));
      } else if (count !== 0) {
        throw new Error(`tensor '${name}': no data for element type ${dtype}`);
      }
    }
  }
  return out;
}

function decodeValueInfo(r: Reader): Value {
  const v = new Value('');
  while (!r.done) {
    const start = r.pos;
    const [f, wt] = r.tag();
    if (f === 1) v.name = r.string();
    else if (f === 2) v.type = decodeType(r.sub());
    else if (f === 3) v.docString = r.string();
    else v.unknown.push(r.skip(wt, start));
  }
  return v;
}

function decodeType(r: Reader): ValueType {
  const whole = r.buf.subarray(r.pos, r.end);
  let t: ValueType | undefined;
  let denotation: string | undefined;
  while (!r.done) {
    const start = r.pos;
    const [f, wt] = r.tag();
    switch (f) {
      case 1:
      case 8: {
        const s = r.sub();
        let elemType = 0;
        let shape: Dim[] | undefined;
        while (!s.done) {
          const [g, w] = s.tag();
          if (g === 1) elemType = s.int32();
          else if (g === 2) shape = decodeShape(s.sub());
          else s.skip(w, s.pos);
        }
        t = { kind: f === 1 ? 'tensor' : 'sparse_tensor', elemType, ...(shape ? { shape } : {}) };
        break;
      }
      case 4:
      case 9: {
        const s = r.sub();
        let elem: ValueType | undefined;
        while (!s.done) {
          const [g, w] = s.tag();
          if (g === 1) elem = decodeType(s.sub());
          else s.skip(w, s.pos);
        }
        t = { kind: f === 4 ? 'sequence' : 'optional', ...(elem ? { elem } : {}) };
        break;
      }
      case 5: {
        const s = r.sub();
        let keyType = 0;
        let value: ValueType | undefined;
        while (!s.done) {
          const [g, w] = s.tag();
          if (g === 1) keyType = s.int32();
          else if (g === 2) value = decodeType(s.sub());
          else s.skip(w, s.pos);
        }
        t = { kind: 'map', keyType };
        if (value) t.value = value;
        break;
      }
      case 6:
        denotation = r.string();
        break;
      default:
        r.skip(wt, start);
        return { kind: 'raw', bytes: whole };
    }
  }
  if (!t) return { kind: 'raw', bytes: whole };
  if (denotation && t.kind !== 'raw') t.denotation = denotation;
  return t;
}

function decodeShape(r: Reader): Dim[] {
  const dims: Dim[] = [];
  while (!r.done) {
    const [f, wt] = r.tag();
    if (f !== 1) {
      r.skip(wt, r.pos);
      continue;
    }
    const s = r.sub();
    let d: Dim = null;
    while (!s.done) {
      const [g, w] = s.tag();
      if (g === 1) d = s.int64();
      else if (g === 2) d = s.string();
      else s.skip(w, s.pos);
    }
    dims.push(d);
  }
  return dims;
}
