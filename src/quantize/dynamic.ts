import { Node, type Graph, type Value } from '../ir/graph.js';
import { DataType } from '../ir/dtype.js';
import { Tensor } from '../ir/tensor.js';
import type { Pass } from '../passes/pass.js';
import { matchWeightMatMul, type WeightMatMul } from './matmul-weights.js';
import type { QType } from './qparams.js';
import { dropIfUnused, nodeSelected, replaceNode, type NodeFilter } from './select.js';
import { quantizeTensor } from './weights.js';
import { upgradeOpset } from './opset-upgrade.js';
import { quantizeTables, splitAttentions, TABLE_OPS, WEIGHT_OPS } from './fused.js';

/**
 * Dynamic quantization: MatMul/Gemm weights become int8 once, activations are quantized at run time.
 *
 *   target cpu:  A ─ DynamicQuantizeMatMul(A, Wq, w_scale, w_zp, bias) ─ Y        (com.microsoft)
 *   target std:  A ─ DynamicQuantizeLinear ─ MatMulInteger(·, Wq, a_zp, w_zp) ─ Cast(float)
 *                  ─ Mul(a_scale · w_scale) [─ Add(bias)] ─ Y                     (standard ONNX only)
 * ORT fuses the std form back into DynamicQuantizeMatMul; other runtimes run it as written. Weights are
 * symmetric s8 by default (faster than u8 on the AVX2 CPUs measured in FACTS.md); per-channel scales are
 * per output column.
 */
export interface DynamicConfig extends NodeFilter {
  perChannel: boolean;
  weightType: QType;
  reduceRange: boolean;
  /** Op types rewritten (MatMul, Gemm, fused Attention, EmbedLayerNormalization, Gather tables). */
  opTypes: string[];
  /** A fused Attention's QKV weight: QAttention (cpu), or split into a quantized MatMul + MultiHeadAttention. */
  attention: 'qattention' | 'split';
}

export const dynamicQuantizePass: Pass<DynamicConfig> = {
  id: 'quantize-dynamic',
  doc: 'int8 weights for MatMul/Gemm (and fused Attention, embedding tables), activations quantized at run time',
  params: {
    perChannel: { type: 'boolean', default: false, search: [false, true], doc: 'one scale per output column instead of per tensor' },
    weightType: { type: 'string', choices: ['int8', 'uint8'], default: 'int8', search: ['int8', 'uint8'], doc: 'weight integer type (s8 is faster on AVX2)' },
    reduceRange: { type: 'boolean', default: false, doc: '7-bit weights (for CPUs without VNNI that saturate u8·s8 sums)' },
    opTypes: {
      type: 'string[]',
      default: [...WEIGHT_OPS, ...TABLE_OPS],
      doc: 'op types to quantize (fused com.microsoft Attention, EmbedLayerNormalization → QEmbedLayerNormalization, Gather: int8 tables)',
    },
    attention: {
      type: 'string',
      choices: ['qattention', 'split'],
      default: 'qattention',
      doc: "fused Attention: com.microsoft QAttention (cpu), or 'split' into an int8 QKV MatMul + MultiHeadAttention (other targets always split)",
    },
    include: { type: 'string[]', default: [], doc: 'only these nodes / op types' },
    exclude: { type: 'string[]', default: [], doc: 'never these nodes / op types' },
  },
  run(model, ctx, config) {
    let quantized = 0;
    let skipped = 0;
    let inSubgraphs = 0;
    const explain = (n: Node, reason: string) => ctx.explain?.({ pass: 'quantize-dynamic', node: n.name, fired: false, reason });
    const wants = (op: string) => config.opTypes.includes(op);
    // a fused Attention becomes a plain projection MatMul that the loop below quantizes
    // (QAttention takes int8 weights and needs the cpu target)
    if (wants('Attention') && (config.attention === 'split' || ctx.target !== 'cpu' || config.weightType !== 'int8')) splitAttentions(model, config, explain);
    // the main graph and every If/Loop/Scan body in it, each with its own DynamicQuantizeLinear sharing (a
    // value quantized in one branch is not visible in the other)
    for (const g of [...model.graph.allGraphs()]) {
      const sharedActivation = new Map<Value, Value[]>();
      for (const n of [...g.nodes]) {
        const convAsked = n.opType === 'Conv' && n.domain === '' && isIncluded(n, config);
        if ((!wants(n.opType) && !convAsked) || !nodeSelected(n, config)) continue;
        if (n.opType === 'Conv') {
          const why = rewriteConv(g, n, config, sharedActivation);
          if (why) {
            skipped++;
            explain(n, why);
          } else {
            quantized++;
            if (g.parent) inSubgraphs++;
          }
          continue;
        }
        if (n.opType === 'Attention' && n.domain === 'com.microsoft') {
          const why = ctx.target === 'cpu' ? rewriteAttention(g, n, config, sharedActivation) : 'QAttention is a com.microsoft op: needs --target cpu';
          if (why) explain(n, why);
          else quantized++;
          continue;
        }
        if (n.opType === 'Gather' || n.opType === 'EmbedLayerNormalization') continue; // tables: below
        const m = matchWeightMatMul(n);
        if (typeof m === 'string') {
          skipped++;
          explain(n, m);
          continue;
        }
        if (ctx.target === 'cpu') rewriteContrib(g, m, config);
        else rewriteStandard(g, m, config, sharedActivation);
        dropIfUnused(g, m.weightValue);
        dropIfUnused(g, m.biasValue ?? null);
        quantized++;
        if (g.parent) inSubgraphs++;
      }
    }
    const tables = quantizeTables(model, config, ctx, explain);
    if (inSubgraphs) ctx.log?.(`quantize-dynamic: ${inSubgraphs} of the ${quantized} quantized nodes are inside If/Loop/Scan bodies`);
    if (quantized && ctx.target === 'cpu') model.requireOpset('com.microsoft', 1);
    // DynamicQuantizeLinear is opset 11: older models are upgraded op by op, never just relabelled
    if (quantized && ctx.target !== 'cpu' && upgradeOpset(model, 11)) ctx.log?.('quantize-dynamic: raised the model to opset 11');
    return { model, modified: quantized + tables > 0, stats: { quantized, tables, skipped, ...(inSubgraphs ? { inSubgraphs } : {}) } };
  },
};

/** Conv is quantized only when asked by name or op type (`--include Conv`): ConvInteger is often slower than float Conv. */
const isIncluded = (n: Node, f: NodeFilter) => !!f.include?.length && nodeSelected(n, f);

/**
 * Conv with a constant float weight → DynamicQuantizeLinear(x) ─ ConvInteger(x_q, W_q, x_zp) ─ Cast ─
 * Mul(x_scale · w_scale[M]) [─ Add(bias)], as ORT's own dynamic quantizer does for Conv. Weights are
 * symmetric int8 per output channel, so their zero point is 0 (ConvInteger takes one zero point for W);
 * the per-channel scales are applied to the int32 result. Returns why it refused, or undefined.
 */
function rewriteConv(g: Graph, n: Node, config: DynamicConfig, shared: Map<Value, Value[]>): string | undefined {
  const x = n.input(0);
  const wv = n.input(1);
  const w = wv?.constTensor();
  if (!x || !wv || !w || w.dtype !== DataType.FLOAT) return 'Conv weight is not a constant float32 tensor';
  if (w.rank < 3) return `Conv weight has rank ${w.rank}`;
  const bv = n.input(2);
  const bias = bv ? bv.constTensor() : undefined;
  if (bv && (!bias || bias.dtype !== DataType.FLOAT)) return 'Conv bias is not a constant float32 tensor';
  if (config.weightType !== 'int8') return 'ConvInteger here takes int8 weights (symmetric, zero point 0)';
  const channels = w.dims[0]!;
  const q = quantizeTensor(w, { qtype: 'int8', symmetric: true, reduceRange: config.reduceRange }, 0);
  const [xq, xs, xz] = quantizedActivation(g, x, shared);
  const name = n.name || g.uniqueName('Conv');
  const spatial = w.rank - 2;
  const wq = g.addInitializer(q.data, g.uniqueName(`${wv.name}_quantized`));
  const wz = g.addInitializer(Tensor.scalar(DataType.INT8, 0), g.uniqueName(`${wv.name}_zero_point`));
  // [1, M, 1, …]: one scale per output channel, broadcast over batch and space
  const ws = g.addInitializer(Tensor.float([1, channels, ...new Array<number>(spatial).fill(1)], q.scale.toFloat32()), g.uniqueName(`${wv.name}_scale`));
  const acc = g.newValue(`${name}_int32`);
  const attrs = [...n.attrs.values()];
  const nodes = [new Node('ConvInteger', [xq, wq, xz, wz], [acc], { name: g.uniqueName(`${name}_ConvInteger`), attrs })];
  const accF = g.newValue(`${name}_float`);
  nodes.push(new Node('Cast', [acc], [accF], { name: g.uniqueName(`${name}_Cast`), attrs: [{ name: 'to', value: { type: 'int', value: DataType.FLOAT } }] }));
  const scale = g.newValue(`${name}_scale`);
  nodes.push(new Node('Mul', [xs, ws], [scale], { name: g.uniqueName(`${name}_scale_Mul`) }));
  const out = n.outputs[0]!;
  if (bias) {
    const scaled = g.newValue(`${name}_scaled`);
    nodes.push(new Node('Mul', [accF, scale], [scaled], { name: g.uniqueName(`${name}_Mul`) }));
    const b = g.addInitializer(Tensor.float([1, channels, ...new Array<number>(spatial).fill(1)], bias.toFloat32()), g.uniqueName(`${name}_bias`));
    nodes.push(new Node('Add', [scaled, b], [out], { name: g.uniqueName(`${name}_bias_Add`) }));
  } else {
    nodes.push(new Node('Mul', [accF, scale], [out], { name: g.uniqueName(`${name}_Mul`) }));
  }
  replaceNode(g, n, nodes);
  dropIfUnused(g, wv);
  dropIfUnused(g, bv ?? null);
  return undefined;
}

function quantizeWeight(g: Graph, m: WeightMatMul, config: DynamicConfig) {
  const q = quantizeTensor(m.weight, { qtype: config.weightType, symmetric: true, reduceRange: config.reduceRange }, config.perChannel ? 1 : undefined);
  const base = m.weightValue.name;
  return {
    data: g.addInitializer(q.data, g.uniqueName(`${base}_quantized`)),
    scale: g.addInitializer(q.scale, g.uniqueName(`${base}_scale`)),
    zeroPoint: g.addInitializer(q.zeroPoint, g.uniqueName(`${base}_zero_point`)),
  };
}

function rewriteContrib(g: Graph, m: WeightMatMul, config: DynamicConfig): void {
  const w = quantizeWeight(g, m, config);
  const bias = m.bias ? g.addInitializer(Tensor.float([m.bias.size], m.bias.toFloat32()), g.uniqueName(`${m.node.name}_bias`)) : null;
  const inputs = [m.input, w.data, w.scale, w.zeroPoint, ...(bias ? [bias] : [])];
  const q = new Node('DynamicQuantizeMatMul', inputs, [m.node.outputs[0]!], { name: m.node.name, domain: 'com.microsoft' });
  replaceNode(g, m.node, [q]);
}

/** DynamicQuantizeLinear(x) outputs, one per activation (shared by every reader). */
function quantizedActivation(g: Graph, x: Value, shared: Map<Value, Value[]>): [Value, Value, Value] {
  let aq = shared.get(x);
  if (!aq) {
    aq = [g.newValue(`${x.name}_quantized`), g.newValue(`${x.name}_scale`), g.newValue(`${x.name}_zero_point`)];
    const dql = new Node('DynamicQuantizeLinear', [x], aq, { name: g.uniqueName(`${x.name}_DynamicQuantizeLinear`) });
    const producer = x.producer;
    if (producer && producer.graph === g) g.insertAfter(producer, dql);
    else g.addNode(dql, g.nodes[0]);
    shared.set(x, aq);
  }
  return aq as [Value, Value, Value];
}

/**
 * com.microsoft Attention(x, W[hidden, 3·hidden], bias, mask_index) → DynamicQuantizeLinear(x) +
 * QAttention(x_q, W_q, bias, x_scale, w_scale, mask_index, x_zp, w_zp): the merged QKV projection in int8.
 * Returns why it refused, or undefined.
 */
function rewriteAttention(g: Graph, n: Node, config: DynamicConfig, shared: Map<Value, Value[]>): string | undefined {
  const x = n.input(0);
  const wv = n.input(1);
  const w = wv?.constTensor();
  if (!x || !wv || !w || w.dtype !== DataType.FLOAT || w.rank !== 2) return 'Attention weight is not a constant 2-D float tensor';
  if (n.inputs.slice(4).some((v) => v)) return 'Attention with past / relative position inputs';
  const allowed = new Set(['num_heads', 'unidirectional', 'mask_filter_value', 'scale']);
  const extra = [...n.attrs.keys()].find((k) => !allowed.has(k));
  if (extra) return `Attention attribute '${extra}' has no QAttention equivalent`;
  if (config.weightType !== 'int8') return 'QAttention here takes int8 weights';
  const q = quantizeTensor(w, { qtype: 'int8', symmetric: true, reduceRange: config.reduceRange });
  const [xq, xs, xz] = quantizedActivation(g, x, shared);
  const base = wv.name;
  const wq = g.addInitializer(q.data, g.uniqueName(`${base}_quantized`));
  const ws = g.addInitializer(q.scale, g.uniqueName(`${base}_scale`));
  const wz = g.addInitializer(q.zeroPoint, g.uniqueName(`${base}_zero_point`));
  const qa = new Node('QAttention', [xq, wq, n.input(2), xs, ws, n.input(3), xz, wz], [...n.outputs], { name: n.name, domain: 'com.microsoft', attrs: n.attrs.values() });
  replaceNode(g, n, [qa]);
  dropIfUnused(g, wv);
  return undefined;
}

function rewriteStandard(g: Graph, m: WeightMatMul, config: DynamicConfig, shared: Map<Value, Value[]>): void {
  const w = quantizeWeight(g, m, config);
  const name = m.node.name || g.uniqueName('MatMul');
  const nodes: Node[] = [];
  // one DynamicQuantizeLinear per activation, shared by every MatMul reading it (Q, K, V projections)
  const [aData, aScale, aZero] = quantizedActivation(g, m.input, shared);
  const acc = g.newValue(`${name}_int32`);
  nodes.push(new Node('MatMulInteger', [aData, w.data, aZero, w.zeroPoint], [acc], { name: g.uniqueName(`${name}_MatMulInteger`) }));
  const accF = g.newValue(`${name}_float`);
  nodes.push(new Node('Cast', [acc], [accF], { name: g.uniqueName(`${name}_Cast`), attrs: [{ name: 'to', value: { type: 'int', value: DataType.FLOAT } }] }));
  const scale = g.newValue(`${name}_scale`);
  nodes.push(new Node('Mul', [aScale, w.scale], [scale], { name: g.uniqueName(`${name}_scale_Mul`) }));
  const out = m.node.outputs[0]!;
  if (m.bias) {
    const scaled = g.newValue(`${name}_scaled`);
    nodes.push(new Node('Mul', [accF, scale], [scaled], { name: g.uniqueName(`${name}_Mul`) }));
    const bias = g.addInitializer(Tensor.float([m.bias.size], m.bias.toFloat32()), g.uniqueName(`${name}_bias`));
    nodes.push(new Node('Add', [scaled, bias], [out], { name: g.uniqueName(`${name}_bias_Add`) }));
  } else {
    nodes.push(new Node('Mul', [accF, scale], [out], { name: g.uniqueName(`${name}_Mul`) }));
  }
  replaceNode(g, m.node, nodes);
}
