import type { Graph, Model } from './graph.js';
import type { Tensor } from './tensor.js';
import { decodeModelBytes, modelFromBytes, modelToBytes } from './bytes.js';
import { encodeModel } from './proto/encode.js';
import { concatChunks } from './proto/wire.js';

/**
 * A deep copy of a model (through the encoder; the copy shares no object with the original). With
 * `shareWeights`, the tensors of 1 KiB and more share their bytes with the original instead of copying them
 * (new Tensor objects over the same arrays): the copy of a 438 MB model costs its graph only. For a copy whose
 * rewrites replace tensors but never write into one's bytes, which would change both models.
 */
export function cloneModel(model: Model, opts: { shareWeights?: boolean } = {}): Model {
  if (!opts.shareWeights) return modelFromBytes(modelToBytes(model), undefined, { check: false }); // the original was checked when it was made
  const shared: Uint8Array[] = [];
  const index = new Map<Uint8Array, number>();
  const placement = (t: Tensor) => {
    if (t.bytes.length < 1024) return undefined;
    let i = index.get(t.bytes);
    if (i === undefined) index.set(t.bytes, (i = shared.push(t.bytes) - 1));
    return { location: SHARED, offset: i };
  };
  return decodeModelBytes(concatChunks(encodeModel(model, { placement })), '<clone>', (ref) => shared[ref.offset]!);
}

/** The external data location of a weight shared with the original (an index into its list, not a file). */
const SHARED = '\u0000inferopt:shared';

/**
 * Gives every byte array of a model its own buffer. A loaded model's tensors are views into the file's
 * bytes, so one small surviving tensor keeps the whole file in memory: after an in-place rewrite that
 * replaced the big weights (quantization), this lets the file's buffer go. Returns the bytes copied.
 */
export function ownBytes(model: Model): number {
  let copied = 0;
  const own = (b: Uint8Array): Uint8Array => {
    if (b.buffer.byteLength === b.byteLength) return b;
    copied += b.byteLength;
    return b.slice();
  };
  const ownAll = (list: Uint8Array[]) => list.forEach((b, i) => (list[i] = own(b)));
  const tensor = (t: Tensor) => {
    t.bytes = own(t.bytes);
    if (t.strings) ownAll(t.strings);
    ownAll(t.unknown);
  };
  const graph = (g: Graph) => {
    ownAll(g.unknown);
    for (const v of [...g.inputs, ...g.outputs, ...g.valueInfo.values(), ...g.initializers.values()]) {
      ownAll(v.unknown);
      if (v.initializer) tensor(v.initializer);
    }
    for (const n of g.nodes) {
      ownAll(n.unknown);
      for (const a of n.attrs.values()) {
        const x = a.value;
        if (x.type === 'tensor') tensor(x.value);
        else if (x.type === 'tensors') x.value.forEach(tensor);
        else if (x.type === 'graph') graph(x.value);
        else if (x.type === 'graphs') x.value.forEach(graph);
        else if (x.type === 'raw') a.value = { type: 'raw', bytes: own(x.bytes) };
      }
    }
  };
  graph(model.graph);
  ownAll(model.unknown);
  ownAll(model.functions);
  return copied;
}
