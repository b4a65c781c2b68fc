import { DataType } from '../ir/dtype.js';
import { FLOAT16_MAX, float32ToFloat16 } from '../ir/float16.js';
import { Node, type Graph, type Value } from '../ir/graph.js';
import { outerReads } from '../ir/graph.js';
import { Tensor } from '../ir/tensor.js';
import { opsWith, opTraits } from '../ops/index.js';
import type { Pass } from '../passes/pass.js';
import { randomInputs } from '../runtime/inputs.js';
import { dropIfUnused, nodeSelected, type NodeFilter } from './select.js';
import { feedsOf, streamActivations, type CalibrationData, type StreamOptions } from './stream.js';

/**
 * fp16 / bf16 conversion. Every node computes in half precision except:
 * - ops on the block list (the op registry's `halfUnsafe` trait, each with its reason), nodes excluded by the user, ops of other domains
 *   and nodes holding subgraphs;
 * - nodes that read or write a value outside the half type's range: float initializers are checked
 *   directly, activations on calibration data (one seeded random batch when none is given), with headroom.
 * Graph inputs and outputs stay fp32 by default (one Cast each at the edge). A Cast is inserted only where
 * a value crosses between an fp32 and a half node, shared by every reader; a value produced by a Cast gets
 * that Cast's `to` changed instead, so no Cast→Cast chain is ever written.
 */
export const HALF_BLOCK_LIST: Readonly<Record<string, string>> = Object.fromEntries(
  opsWith((t) => t.halfUnsafe !== undefined).map((op) => [op, opTraits('', op).halfUnsafe!]),
);

export interface HalfConfig extends NodeFilter {
  /** 'fp16' or 'bf16'. */
  precision: 'fp16' | 'bf16';
  keepIOTypes: boolean;
  blockOps: string[];
  /** A value must stay below max/headroom on calibration data to be stored in half precision. */
  headroom: number;
  calibration?: CalibrationData;
  stream?: StreamOptions;
}

export const halfPrecisionPass: Pass<HalfConfig> = {
  id: 'convert-half',
  doc: 'fp16 (or bf16) weights and activations, fp32 kept where the range or the op needs it',
  params: {
    precision: { type: 'string', choices: ['fp16', 'bf16'], default: 'fp16', search: ['fp16', 'bf16'], doc: 'half type' },
    keepIOTypes: { type: 'boolean', default: true, doc: 'graph inputs and outputs stay float32' },
    blockOps: { type: 'string[]', default: Object.keys(HALF_BLOCK_LIST), doc: 'op types that stay float32' },
    headroom: { type: 'number', min: 0, max: 1e6, default: 2, doc: 'activations must stay below max/headroom on calibration data (0: no range check)' },
    include: { type: 'string[]', default: [], doc: 'only these nodes / op types' },
    exclude: { type: 'string[]', default: [], doc: 'never these nodes / op types' },
    calibration: { type: 'object', default: undefined, doc: 'feeds to measure activation ranges (default: one random batch)' },
    stream: { type: 'object', default: undefined, doc: 'streaming options' },
  },
  async run(model, ctx, config) {
    const g = model.graph;
    const half = config.precision === 'bf16' ? DataType.BFLOAT16 : DataType.FLOAT16;
    const limit = config.precision === 'bf16' ? 3.38e38 : FLOAT16_MAX;
    const probe = await probeValues(model, config);
    const isFloat = (v: Value | null) => !!v && (v.constTensor()?.dtype === DataType.FLOAT || probe.get(v.name)?.dtype === DataType.FLOAT);
    const fp32 = new Set<Node>();
    const reasons: Record<string, number> = {};
    const keep = (n: Node, why: string) => {
      if (!fp32.has(n)) reasons[why] = (reasons[why] ?? 0) + 1;
      fp32.add(n);
    };
    for (const n of g.nodes) {
      if (config.blockOps.includes(n.opType)) keep(n, 'blocked op');
      else if (!nodeSelected(n, config)) keep(n, 'excluded');
      else if (n.domain !== '' && n.domain !== 'ai.onnx' && n.domain !== 'com.microsoft') keep(n, 'other domain');
      else if (n.subgraphs().length) keep(n, 'has subgraphs');
      // fp16 scales are valid from opset 19 (earlier QuantizeLinear/DequantizeLinear take float32 scales only)
      else if ((n.opType === 'QuantizeLinear' || n.opType === 'DequantizeLinear') && (n.domain === '' || n.domain === 'ai.onnx') && (model.opset('') ?? 0) < 19) keep(n, 'float32 scales before opset 19');
      for (const v of n.inputs) {
        const c = v?.constTensor();
        if (c?.dtype === DataType.FLOAT && maxAbs(c.toFloat32()) > limit) keep(n, 'initializer out of range');
      }
    }
    // activations out of range (on calibration data) keep their producer and readers in fp32
    for (const [name, p] of probe) {
      if (p.dtype !== DataType.FLOAT || p.maxAbs * config.headroom <= limit) continue;
      const v = g.findValue(name);
      if (v?.producer) keep(v.producer, 'activation out of range');
      for (const u of v?.uses ?? []) if (u.node.graph === g) keep(u.node, 'activation out of range');
    }
    // values read inside subgraphs stay fp32: their producers too
    for (const n of g.nodes) for (const s of n.subgraphs()) for (const v of outerReads(s)) if (v.producer?.graph === g) keep(v.producer, 'read by a subgraph');
    const converted = convert(g, half, fp32, isFloat, config.keepIOTypes);
    const why = Object.entries(reasons).map(([k, c]) => `${k}: ${c}`).join(', ');
    ctx.log?.(`convert-half: ${g.nodes.length - fp32.size} nodes in ${config.precision}, ${fp32.size} in fp32${why ? ` (${why})` : ''}`);
    return { model, modified: converted > 0, stats: { halfNodes: g.nodes.length - fp32.size, fp32Nodes: fp32.size, casts: g.nodes.filter((n) => n.opType === 'Cast').length } };
  },
};

interface Probe {
  dtype: DataType;
  maxAbs: number;
}

/** Element type and max |x| of every node output, streamed over the calibration data. */
async function probeValues(model: import('../ir/graph.js').Model, config: HalfConfig): Promise<Map<string, Probe>> {
  const g = model.graph;
  const names = [...g.inputs.filter((v) => !v.isInitializer), ...g.nodes.flatMap((n) => n.outputs)].map((v) => v.name).filter((n) => n);
  const out = new Map<string, Probe>();
  const data = config.calibration ?? feedsOf([randomInputs(model)]);
  await streamActivations(
    model,
    data,
    names,
    (name, t) => {
      const p = out.get(name) ?? { dtype: t.dtype, maxAbs: 0 };
      if (t.dtype === DataType.FLOAT) p.maxAbs = Math.max(p.maxAbs, maxAbs(t.toFloat32()));
      out.set(name, p);
    },
    config.stream,
  );
  return out;
}

function maxAbs(x: Float32Array): number {
  let m = 0;
  for (let i = 0; i < x.length; i++) {
    const a = Math.abs(x[i]!);
    if (a > m) m = a; // NaN never wins; an Infinity does, and keeps the node in fp32
  }
  return m;
}

function toHalfTensor(t: Tensor, half: DataType, name: string): Tensor {
  const x = t.toFloat32();
  if (half === DataType.FLOAT16) {
    const h = float32ToFloat16(x);
    return new Tensor(half, [...t.dims], new Uint8Array(h.buffer), name);
  }
  const u = new Uint32Array(x.buffer.slice(x.byteOffset, x.byteOffset + x.byteLength));
  const b = new Uint16Array(u.length);
  for (let i = 0; i < u.length; i++) {
    const v = u[i]!;
    b[i] = (v & 0x7fffffff) > 0x7f800000 ? (v >>> 16) | 0x40 : (v + 0x7fff + ((v >>> 16) & 1)) >>> 16; // round to nearest even, keep NaN
  }
  return new Tensor(half, [...t.dims], new Uint8Array(b.buffer), name);
}

function convert(g: Graph, half: DataType, fp32: Set<Node>, isFloat: (v: Value | null) => boolean, keepIO: boolean): number {
  const halfConst = new Map<Value, Value>();
  const casts = new Map<string, Value>(); // `${value}->${dtype}` → cast output
  const dtypeOf = new Map<Value, DataType>(); // float values after conversion
  for (const v of g.inputs) if (isFloat(v) && !v.isInitializer) dtypeOf.set(v, keepIO ? DataType.FLOAT : half);
  let changed = 0;
  const castTo = (v: Value, to: DataType, before: Node): Value => {
    const key = `${v.name}->${to}`;
    let out = casts.get(key);
    if (!out) {
      out = g.newValue(`${v.name}_${to === DataType.FLOAT ? 'fp32' : 'half'}`);
      const c = new Node('Cast', [v], [out], { name: g.uniqueName(`${v.name}_Cast`), attrs: [{ name: 'to', value: { type: 'int', value: to } }] });
      if (v.producer && v.producer.graph === g) g.insertAfter(v.producer, c);
      else g.addNode(c, before);
      casts.set(key, out);
      dtypeOf.set(out, to);
    }
    return out;
  };
  for (const n of [...g.nodes]) {
    const wantHalf = !fp32.has(n);
    const want = wantHalf ? half : DataType.FLOAT;
    if (n.opType !== 'Cast') {
      n.inputs.forEach((v, i) => {
        if (!v || !isFloat(v)) return;
        const c = v.constTensor();
        if (c) {
          if (!wantHalf) return;
          let hv = halfConst.get(v);
          if (!hv) {
            hv = g.addInitializer(toHalfTensor(c, half, ''), g.uniqueName(`${v.name}_${half === DataType.FLOAT16 ? 'fp16' : 'bf16'}`));
            halfConst.set(v, hv);
          }
          n.setInput(i, hv);
          dropIfUnused(g, v);
          changed++;
          return;
        }
        const have = dtypeOf.get(v) ?? DataType.FLOAT;
        if (have !== want) n.setInput(i, castTo(v, want, n));
      });
    }
    if (wantHalf) {
      if (n.opType === 'Cast' && n.attrInt('to') === DataType.FLOAT) n.setAttr('to', { type: 'int', value: half });
      const cv = n.attrTensor('value');
      if (n.opType === 'ConstantOfShape' && cv?.dtype === DataType.FLOAT) n.setAttr('value', { type: 'tensor', value: toHalfTensor(cv, half, cv.name) });
    }
    for (const o of n.outputs) if (isFloat(o)) dtypeOf.set(o, wantHalf ? half : DataType.FLOAT);
    if (wantHalf) changed++;
  }
  // graph outputs: back to fp32 at the edge (the Cast writes the original value, so names stay)
  g.outputs.forEach((v, k) => {
    if (dtypeOf.get(v) !== half) return;
    if (!keepIO) return;
    const p = v.producer!;
    if (p.opType === 'Cast' && p.graph === g && v.uses.length === 0) {
      p.setAttr('to', { type: 'int', value: DataType.FLOAT }); // retarget instead of chaining a second Cast
      return;
    }
    const inner = g.newValue(`${v.name}_half`);
    p.setOutput(v.producerIndex, inner);
    v.replaceAllUsesWith(inner);
    const c = new Node('Cast', [inner], [v], { name: g.uniqueName(`${v.name}_Cast`), attrs: [{ name: 'to', value: { type: 'int', value: DataType.FLOAT } }] });
    g.insertAfter(p, c);
    g.outputs[k] = v;
  });
  // declared types follow the data
  for (const [v, t] of dtypeOf) if (v.type?.kind === 'tensor' && v.type.elemType !== t && !(keepIO && (g.inputs.includes(v) || g.outputs.includes(v)))) v.type = { ...v.type, elemType: t };
  removeCastChains(g);
  g.topologicalSort();
  return changed;
}

const FLOAT_TYPES = new Set<number>([DataType.FLOAT, DataType.FLOAT16, DataType.BFLOAT16]);

/**
 * Cast(Cast(x, a), b) with a and b float types reads x directly (one rounding instead of two); the inner
 * Cast goes when nothing else reads it. Int→float→int chains are left alone: they truncate on purpose.
 */
function removeCastChains(g: Graph): void {
  for (const n of [...g.nodes]) {
    if (n.opType !== 'Cast' || !FLOAT_TYPES.has(n.attrInt('to', 0))) continue;
    const src = n.input(0)?.producer;
    if (!src || src.opType !== 'Cast' || src.graph !== g || !FLOAT_TYPES.has(src.attrInt('to', 0))) continue;
    n.setInput(0, src.input(0));
    const mid = src.outputs[0]!;
    if (mid.uses.length === 0 && !g.isOutput(mid)) g.removeNode(src);
  }
}
