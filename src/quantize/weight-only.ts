import { InputError } from '../errors.js';
import { Node, type Graph, type Value } from '../ir/graph.js';
import { DataType } from '../ir/dtype.js';
import { Tensor } from '../ir/tensor.js';
import type { Pass } from '../passes/pass.js';
import { quantizeBlockwise, type BlockwiseSpec, type BlockwiseWeight } from './blockwise.js';
import { collectHessians, gptqQuantize } from './gptq.js';
import { matchWeightMatMul, type WeightMatMul } from './matmul-weights.js';
import { quantizeTables, splitAttentions, TABLE_OPS, WEIGHT_OPS } from './fused.js';
import { dropIfUnused, nodeSelected, replaceNode, type NodeFilter } from './select.js';
import type { CalibrateOptions } from './calibrate.js';
import type { CalibrationData } from './stream.js';

/**
 * Weight-only quantization: MatMul/Gemm weights stored as 4- or 8-bit blocks in com.microsoft MatMulNBits
 * (weights dequantized inside the kernel; with accuracy_level 4 activations are quantized to int8 on the
 * fly). Round-to-nearest needs no data; GPTQ quantizes one input row at a time and spreads each rounding
 * error over the rows not yet quantized, weighted by the layer's input Hessian from calibration data.
 */
export interface WeightOnlyConfig extends NodeFilter {
  bits: 4 | 8;
  blockSize: number;
  symmetric: boolean;
  /** MatMulNBits accuracy_level: 0 = unset, 1 fp32, 2 fp16, 3 bf16, 4 int8 compute. */
  accuracyLevel: 0 | 1 | 2 | 3 | 4;
  algorithm: 'rtn' | 'gptq';
  /** Op types rewritten: MatMul/Gemm (MatMulNBits), fused Attention (split), embedding tables (int8). */
  opTypes: string[];
  /** GPTQ: damping added to the Hessian diagonal, as a fraction of its mean. */
  dampening: number;
  calibration?: CalibrationData;
  calibrate?: CalibrateOptions;
}

export const weightOnlyQuantizePass: Pass<WeightOnlyConfig> = {
  id: 'quantize-weight-only',
  doc: 'block-wise 4/8-bit MatMul weights (MatMulNBits), round-to-nearest or GPTQ',
  params: {
    bits: { type: 'integer', choices: [4, 8], default: 4, search: [4, 8], doc: 'bits per weight' },
    blockSize: { type: 'integer', powerOfTwo: true, min: 16, max: 1 << 16, default: 32, search: [16, 32, 64, 128], doc: 'weights per scale along K (a power of two ≥ 16)' },
    symmetric: { type: 'boolean', default: true, search: [true, false], doc: 'symmetric blocks (no stored zero points)' },
    accuracyLevel: { type: 'integer', choices: [0, 1, 2, 3, 4], default: 0, search: [0, 4], doc: 'MatMulNBits accuracy_level (4: int8 activations inside the kernel)' },
    algorithm: { type: 'string', choices: ['rtn', 'gptq'], default: 'rtn', search: ['rtn', 'gptq'], doc: 'round-to-nearest, or GPTQ with calibration data' },
    opTypes: { type: 'string[]', default: [...WEIGHT_OPS, ...TABLE_OPS], doc: 'op types to quantize (Attention: fused QKV projection split out; EmbedLayerNormalization, Gather: int8 tables)' },
    dampening: { type: 'number', min: 0, max: 1, default: 0.01, doc: 'GPTQ Hessian dampening (fraction of the mean diagonal)' },
    include: { type: 'string[]', default: [], doc: 'only these nodes / op types' },
    exclude: { type: 'string[]', default: [], doc: 'never these nodes / op types' },
    calibration: { type: 'object', default: undefined, doc: 'calibration feeds (GPTQ)' },
    calibrate: { type: 'object', default: undefined, doc: 'calibration options' },
  },
  async run(model, ctx, config) {
    if (ctx.target !== 'cpu') throw new InputError(`weight-only quantization emits com.microsoft MatMulNBits: use --target cpu (not ${ctx.target})`);
    const explain = (n: Node, reason: string) => ctx.explain?.({ pass: 'quantize-weight-only', node: n.name, fired: false, reason });
    // a fused Attention's QKV projection becomes a MatMul quantized like the others
    if (config.opTypes.includes('Attention')) splitAttentions(model, config, explain);
    const spec: BlockwiseSpec = { bits: config.bits, blockSize: config.blockSize, symmetric: config.symmetric };
    const matches: WeightMatMul[] = [];
    let inSubgraphs = 0;
    // the main graph and every If/Loop/Scan body (GPTQ needs activations, which calibration sees in the main graph only)
    for (const g of model.graph.allGraphs()) {
      for (const n of g.nodes) {
        if ((n.opType !== 'MatMul' && n.opType !== 'Gemm') || !config.opTypes.includes(n.opType) || !nodeSelected(n, config)) continue;
        const m = matchWeightMatMul(n);
        if (typeof m === 'string') explain(n, m);
        else if (g.parent && config.algorithm === 'gptq') explain(n, 'GPTQ needs the activations, which calibration does not see inside If/Loop/Scan bodies (rtn quantizes it)');
        else {
          matches.push(m);
          if (g.parent) inSubgraphs++;
        }
      }
    }
    let hessians: Map<string, Float64Array> | undefined;
    if (config.algorithm === 'gptq') {
      if (!config.calibration) throw new InputError('GPTQ needs calibration data (--calib)');
      hessians = await collectHessians(model, config.calibration, matches.map((m) => ({ name: m.input.name, K: m.weight.dims[0]! })), config.calibrate);
    }
    for (const m of matches) {
      const [K, N] = m.weight.dims as [number, number];
      const H = hessians?.get(m.input.name);
      const q = H ? gptqQuantize(m.weight.toFloat32(), K, N, H, spec, config.dampening) : quantizeBlockwise(m.weight.toFloat32(), K, N, spec);
      rewrite(m.node.graph!, m, q, config);
    }
    if (matches.length) model.requireOpset('com.microsoft', 1);
    if (inSubgraphs) ctx.log?.(`quantize-weight-only: ${inSubgraphs} of the ${matches.length} quantized nodes are inside If/Loop/Scan bodies`);
    // embedding tables: int8 (QEmbedLayerNormalization, or Gather + DequantizeLinear), 4× smaller
    const tables = quantizeTables(model, config, ctx, explain);
    return { model, modified: matches.length + tables > 0, stats: { quantized: matches.length, tables, ...(inSubgraphs ? { inSubgraphs } : {}) } };
  },
};

function rewrite(g: Graph, m: WeightMatMul, q: BlockwiseWeight, config: WeightOnlyConfig): void {
  const base = m.weightValue.name;
  const blob = (config.blockSize * config.bits) / 8;
  const inputs: (Value | null)[] = [
    m.input,
    g.addInitializer(new Tensor(DataType.UINT8, [q.N, q.blocks, blob], q.packed), g.uniqueName(`${base}_Q${config.bits}`)),
    g.addInitializer(Tensor.float([q.N * q.blocks], q.scales), g.uniqueName(`${base}_scales`)),
  ];
  if (q.zeroPoints) inputs.push(g.addInitializer(new Tensor(DataType.UINT8, [q.zeroPoints.length], q.zeroPoints), g.uniqueName(`${base}_zero_points`)));
  if (m.bias) {
    while (inputs.length < 5) inputs.push(null); // zero_points and g_idx are optional holes
    inputs.push(g.addInitializer(Tensor.float([q.N], m.bias.toFloat32()), g.uniqueName(`${m.node.name}_bias`)));
  }
  const attrs = [
    { name: 'K', value: { type: 'int' as const, value: q.K } },
    { name: 'N', value: { type: 'int' as const, value: q.N } },
    { name: 'bits', value: { type: 'int' as const, value: config.bits } },
    { name: 'block_size', value: { type: 'int' as const, value: config.blockSize } },
    ...(config.accuracyLevel ? [{ name: 'accuracy_level', value: { type: 'int' as const, value: config.accuracyLevel } }] : []),
  ];
  replaceNode(g, m.node, [new Node('MatMulNBits', inputs, [m.node.outputs[0]!], { name: m.node.name, domain: 'com.microsoft', attrs })]);
  dropIfUnused(g, m.weightValue);
  dropIfUnused(g, m.biasValue ?? null);
}
