/**
 * Model bytes written field by field (no encoder, no committed binaries), for tests that need files the
 * encoder would never write: hostile external data references, deep nesting, odd shapes.
 */

import { concatChunks } from '../../src/ir/proto/wire.js';

function varint(v: number | bigint): number[] {
  let x = BigInt(v);
  if (x < 0n) x += 1n << 64n;
  const out: number[] = [];
  do {
    let b = Number(x & 0x7fn);
    x >>= 7n;
    if (x) b |= 0x80;
    out.push(b);
  } while (x);
  return out;
}

const enc = new TextEncoder();

/** A length-delimited field. */
export function field(num: number, body: Uint8Array | string): Uint8Array {
  const b = typeof body === 'string' ? enc.encode(body) : body;
  return cat([Uint8Array.from([...varint((num << 3) | 2), ...varint(b.length)]), b]);
}

/** A varint field. */
export function vfield(num: number, v: number | bigint): Uint8Array {
  return Uint8Array.from([...varint(num << 3), ...varint(v)]);
}

export const cat = (parts: readonly Uint8Array[]): Uint8Array => concatChunks(parts);

/** ValueInfoProto: float tensor with these dims (numbers or symbolic names). */
export function valueInfo(name: string, dims: readonly (number | bigint | string)[], elemType = 1): Uint8Array {
  const shape = cat(dims.map((d) => field(1, typeof d === 'string' ? field(2, d) : vfield(1, d))));
  const tensorType = cat([vfield(1, elemType), field(2, shape)]);
  return cat([field(1, name), field(2, field(1, tensorType))]);
}

export function node(op: string, inputs: readonly string[], outputs: readonly string[], attrs: readonly Uint8Array[] = []): Uint8Array {
  return cat([...inputs.map((i) => field(1, i)), ...outputs.map((o) => field(2, o)), field(4, op), ...attrs.map((a) => field(5, a))]);
}

/** AttributeProto holding a graph. */
export function graphAttr(name: string, graph: Uint8Array): Uint8Array {
  return cat([field(1, name), field(6, graph), vfield(20, 5)]);
}

export interface ExternalSpec {
  location: string;
  offset?: number | string;
  length?: number | string;
}

/** TensorProto, float: raw data, or an external reference. */
export function tensor(name: string, dims: readonly number[], data: Float32Array | ExternalSpec): Uint8Array {
  const parts = [...dims.map((d) => vfield(1, d)), vfield(2, 1), field(8, name)];
  if (data instanceof Float32Array) parts.push(field(9, new Uint8Array(data.buffer, data.byteOffset, data.byteLength)));
  else {
    const entry = (k: string, v: string) => field(13, cat([field(1, k), field(2, v)]));
    parts.push(entry('location', data.location));
    if (data.offset !== undefined) parts.push(entry('offset', String(data.offset)));
    if (data.length !== undefined) parts.push(entry('length', String(data.length)));
    parts.push(vfield(14, 1));
  }
  return cat(parts);
}

export function graph(parts: { nodes: Uint8Array[]; inputs?: Uint8Array[]; outputs: Uint8Array[]; initializers?: Uint8Array[]; name?: string }): Uint8Array {
  return cat([
    ...parts.nodes.map((n) => field(1, n)),
    field(2, parts.name ?? 'g'),
    ...(parts.initializers ?? []).map((t) => field(5, t)),
    ...(parts.inputs ?? []).map((v) => field(11, v)),
    ...parts.outputs.map((v) => field(12, v)),
  ]);
}

export function model(g: Uint8Array, opset = 17, irVersion = 8): Uint8Array {
  return cat([vfield(1, irVersion), field(2, 'inferopt-test'), field(7, g), field(8, vfield(2, opset))]);
}

/** y = x + w (float[n]); `w` inline or in external data. */
export function addModel(n: number, w: Float32Array | ExternalSpec, xDims: readonly (number | bigint | string)[] = [n]): Uint8Array {
  return model(
    graph({
      nodes: [node('Add', ['x', 'w'], ['y'])],
      initializers: [tensor('w', [n], w)],
      inputs: [valueInfo('x', xDims)],
      outputs: [valueInfo('y', xDims)],
    }),
  );
}

/**
 * `If` nested `depth` deep: each then-branch holds the next If, each else-branch returns x + 1; built from
 * the inside out, without recursion.
 */
export function nestedIfModel(depth: number): Uint8Array {
  const leaf = (tag: string) =>
    graph({ nodes: [node('Add', ['x', 'one'], [`y_${tag}`])], outputs: [valueInfo(`y_${tag}`, [1])], name: `leaf_${tag}` });
  let inner = leaf('in');
  for (let d = depth - 1; d >= 0; d--) {
    const ifNode = node('If', ['c'], [`y${d}`], [graphAttr('then_branch', inner), graphAttr('else_branch', leaf(String(d)))]);
    inner = d === 0 ? new Uint8Array() : graph({ nodes: [ifNode], outputs: [valueInfo(`y${d}`, [1])], name: `g${d}` });
    if (d === 0) {
      return model(
        graph({
          nodes: [ifNode],
          initializers: [tensor('one', [1], Float32Array.of(1))],
          inputs: [valueInfo('x', [1]), valueInfo('c', [], 9)],
          outputs: [valueInfo('y0', [1])],
        }),
      );
    }
  }
  throw new Error('depth must be ≥ 1');
}
