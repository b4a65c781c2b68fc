import { InputError } from '../errors.js';
import { DataType } from '../ir/dtype.js';
import { Node, type Graph, type Model, type Value } from '../ir/graph.js';
import { Tensor } from '../ir/tensor.js';
import type { Pass, PassContext } from '../passes/pass.js';
import { collectStats, computeRanges, type CalibrateOptions, type CalibrationStats } from './calibrate.js';
import { computeQParams, qDataType, roundHalfEven, type QParams, type QType } from './qparams.js';
import type { CalibMethod, Range } from './range-methods.js';
import { dropIfUnused, type NodeFilter } from './select.js';
import { planStatic, QUANTIZED_OPS, type StaticPlan } from './static-plan.js';
import type { CalibrationData } from './stream.js';
import { quantizeTensor } from './weights.js';
import { upgradeOpset, wouldUpgrade } from './opset-upgrade.js';
import { cloneModel } from '../ir/clone.js';
import { isDepthwiseConv } from '../ops/conv.js';
import { hasSplittableAttention, quantizeTables, splitAttentions, TABLE_OPS } from './fused.js';

/**
 * Static quantization in QDQ form (see static-plan.ts for where Q/DQ go). Default S8S8: int8 activations
 * (asymmetric, so ReLUs fold) and symmetric int8 weights, per channel for Conv. `--target wasm` switches to
 * uint8 weights and activations: onnxruntime-web has no int8-weight integer Conv kernel.
 */
export interface StaticConfig extends NodeFilter {
  /**
   * 'auto': uint8 (U8S8) for target cpu — ORT's x86 CPU provider does not fuse int8-activation QDQ Conv into
   * QLinearConv (measured: the Conv stays float between Q/DQ), while U8S8 fuses — and int8 (S8S8) otherwise.
   */
  activationType: QType | 'auto';
  weightType: QType;
  /** Weight grid: 8, or fewer bits stored in the 8-bit type (same kernels; for accuracy studies and QAT). */
  weightBits: number;
  /** With `weightBits` < 8: the first and the last weighted layers (in graph order) keep 8-bit weights. */
  wideEnds: boolean;
  perChannel: 'conv' | 'all' | 'none';
  symmetricActivations: boolean;
  reduceRange: boolean;
  calibMethod: CalibMethod;
  percentile: number;
  opTypes: string[];
  /** Calibration feeds; not needed when `stats` are given. */
  calibration?: CalibrationData;
  /** Statistics collected before (sensitivity and fallback reuse them). */
  stats?: CalibrationStats;
  calibrate?: CalibrateOptions;
  /**
   * Depthwise Conv: 'int8' like every Conv, 'float' left float, 'auto' float for `--target wasm` (onnxruntime-web
   * has no fast int8 depthwise kernel: MobileNetV2's depthwise layers ran ~10× slower as QLinearConv there)
   * and int8 elsewhere.
   */
  depthwise?: 'auto' | 'int8' | 'float';
}

export const staticQuantizePass: Pass<StaticConfig> = {
  id: 'quantize-static',
  doc: 'int8 weights and activations in QDQ form, ranges calibrated on data',
  params: {
    activationType: { type: 'string', choices: ['auto', 'int8', 'uint8'], default: 'auto', search: ['int8', 'uint8'], doc: 'activation integer type: int8 (S8S8), uint8 (U8S8); auto = uint8 on cpu, int8 elsewhere' },
    weightType: { type: 'string', choices: ['int8', 'uint8'], default: 'int8', doc: 'weight integer type' },
    weightBits: { type: 'number', min: 2, max: 8, default: 8, doc: 'weight grid in bits (below 8: stored in the 8-bit type, e.g. 4 = levels −7…7; same kernels, for accuracy studies and QAT)' },
    wideEnds: { type: 'boolean', default: false, doc: 'with weightBits below 8: the first and the last weighted layers keep 8-bit weights (the usual low-bit practice)' },
    perChannel: { type: 'string', choices: ['conv', 'all', 'none'], default: 'conv', search: ['conv', 'all', 'none'], doc: 'per-channel weight scales: Conv only, all weighted ops, none' },
    symmetricActivations: { type: 'boolean', default: false, search: [false, true], doc: 'symmetric activation ranges (no zero point; ReLUs then stay)' },
    reduceRange: { type: 'boolean', default: false, search: [false, true], doc: '7-bit weights for CPUs without VNNI' },
    calibMethod: { type: 'string', choices: ['minmax', 'percentile', 'entropy'], default: 'minmax', search: ['minmax', 'percentile', 'entropy'], doc: 'how ranges are derived from calibration statistics' },
    percentile: { type: 'number', min: 50, max: 100, default: 99.999, search: [99.9, 99.99, 99.999], doc: 'percentile kept by the percentile method' },
    opTypes: {
      type: 'string[]',
      default: [...Object.keys(QUANTIZED_OPS), ...TABLE_OPS],
      doc: 'op types to quantize (Attention: fused QKV projection split out; EmbedLayerNormalization, Gather: int8 tables)',
    },
    include: { type: 'string[]', default: [], doc: 'only these nodes / op types' },
    exclude: { type: 'string[]', default: [], doc: 'never these nodes / op types' },
    calibration: { type: 'object', default: undefined, doc: 'calibration feeds (batches)' },
    stats: { type: 'object', default: undefined, doc: 'precomputed calibration statistics' },
    calibrate: { type: 'object', default: undefined, doc: 'calibration options (cache, grouping)' },
    depthwise: { type: 'string', choices: ['auto', 'int8', 'float'], default: 'auto', search: ['int8', 'float'], doc: 'depthwise Conv: int8, or left float; auto = float for --target wasm (no fast int8 depthwise kernel in onnxruntime-web), int8 elsewhere' },
  },
  async run(model, ctx, config) {
    const activationType: QType = config.activationType === 'auto' ? (ctx.target === 'std' ? 'int8' : 'uint8') : config.activationType;
    const cfg = ctx.target === 'wasm' ? { ...config, weightType: 'uint8' as const, activationType: 'uint8' as const } : { ...config, activationType };
    const g = model.graph;
    const explain = (n: Node, reason: string) => ctx.explain?.({ pass: 'quantize-static', node: n.name, fired: false, reason });
    // a fused Attention's QKV projection becomes a MatMul the plan quantizes (calibrateFor splits a copy alike)
    if (cfg.opTypes.includes('Attention')) splitAttentions(model, cfg, explain);
    const stats = cfg.stats ?? (await calibrateFor(model, cfg));
    const ranges = computeRanges(stats, cfg.calibMethod, { symmetric: cfg.symmetricActivations, percentile: cfg.percentile });
    const depthwise = (cfg.depthwise ?? 'auto') === 'auto' ? (ctx.target === 'wasm' ? 'float' : 'int8') : cfg.depthwise;
    const keepFloat = depthwise === 'float' ? (n: Node) => isDepthwiseConv(n) && (explain(n, 'depthwise Conv left float (depthwise=float)'), true) : undefined;
    const plan = planStatic(g, { ...cfg, isFloat: (v) => ranges.has(v.name), ...(keepFloat ? { keepFloat } : {}) });
    tieRanges(plan, ranges);
    const count = applyPlan(model, plan, ranges, cfg, ctx);
    const tables = quantizeTables(model, cfg, ctx, explain);
    return { model, modified: plan.nodes.length + tables > 0, stats: { quantizedNodes: plan.nodes.length, qdqPairs: count, tables, calibrationBatches: stats.batches } };
  },
};

/** Calibrates every tensor the plan could quantize (before knowing which carry float data). */
export async function calibrateFor(model: Model, cfg: Pick<StaticConfig, 'calibration' | 'calibrate' | 'opTypes' | 'perChannel' | 'symmetricActivations' | 'include' | 'exclude'>): Promise<CalibrationStats> {
  if (!cfg.calibration) throw new InputError('static quantization needs calibration data (--calib)');
  // the pass splits fused Attentions before planning: statistics are taken on a split copy, by the same names
  if (cfg.opTypes.includes('Attention') && hasSplittableAttention(model, cfg)) {
    model = cloneModel(model, { shareWeights: true }); // splitting replaces the QKV weights, never writes into one
    splitAttentions(model, cfg);
  }
  const plan = planStatic(model.graph, cfg);
  // shared (pass-through) outputs too: their statistics tell later planning that they carry float data
  const names = [...plan.activations, ...plan.shared.keys()].map((v) => v.name);
  return collectStats(model, cfg.calibration, names, cfg.calibrate);
}

function tieRanges(plan: StaticPlan, ranges: Map<string, Range>): void {
  for (const tied of plan.tiedRanges) {
    const group = tied.map((v) => plan.shared.get(v) ?? v);
    const rs = group.map((v) => ranges.get(v.name)).filter((r): r is Range => !!r);
    if (!rs.length) continue;
    const union = { min: Math.min(...rs.map((r) => r.min)), max: Math.max(...rs.map((r) => r.max)) };
    for (const v of group) ranges.set(v.name, union);
  }
}

/** The weights of the first and the last weighted node in graph order. */
function endWeights(g: Graph, plan: StaticPlan): Set<Value> {
  const order = new Map(g.nodes.map((n, i) => [n, i]));
  const weights = [...plan.weights].filter(([, info]) => info.isWeight).map(([w]) => ({ w, at: Math.min(...w.uses.map((u) => order.get(u.node) ?? Infinity)) }));
  weights.sort((a, b) => a.at - b.at);
  return new Set([weights[0]?.w, weights.at(-1)?.w].filter((w): w is Value => !!w));
}

function applyPlan(model: Model, plan: StaticPlan, ranges: Map<string, Range>, cfg: StaticConfig & { activationType: QType }, ctx: PassContext): number {
  const g = model.graph;
  if (plan.nodes.length) raiseOpset(model, ctx);
  const domain = (model.opset('') ?? 0) >= 13 ? '' : 'com.microsoft';
  if (domain) model.requireOpset('com.microsoft', 1);
  const actSpec = { qtype: cfg.activationType, symmetric: cfg.symmetricActivations };
  const params = new Map<Value, QParams>();
  const paramsOf = (v: Value) => params.get(plan.shared.get(v) ?? v);
  let pairs = 0;
  for (const v of plan.activations) {
    const r = ranges.get(v.name);
    if (!r) continue;
    params.set(v, computeQParams(r.min, r.max, actSpec));
  }
  const qdq = (v: Value, p: QParams) => {
    insertQdq(g, v, Tensor.float([], [p.scale]), Tensor.fromArray(qDataType(cfg.activationType), [], [p.zeroPoint]), domain);
    pairs++;
  };
  for (const [v, p] of params) qdq(v, p);
  for (const [v, src] of plan.shared) {
    const p = params.get(src);
    if (p) qdq(v, p);
  }
  const weightScales = new Map<Value, number[]>();
  const floors = biasScaleFloors(plan, paramsOf);
  const wide = cfg.weightBits < 8 && cfg.wideEnds ? endWeights(g, plan) : new Set<Value>();
  for (const [w, info] of plan.weights) {
    const t = w.constTensor()!;
    const spec = info.isWeight
      ? { qtype: cfg.weightType, symmetric: cfg.weightType === 'int8', reduceRange: cfg.reduceRange, bits: cfg.weightBits < 8 && !wide.has(w) ? cfg.weightBits : undefined }
      : actSpec;
    const q = quantizeTensor(t, spec, info.axis, floors.get(w));
    weightScales.set(w, q.params.map((p) => p.scale));
    constDq(g, w, q.data, q.scale, q.zeroPoint, info.axis, domain);
  }
  for (const [b, [x, w]] of plan.biases) {
    const xs = paramsOf(x)?.scale;
    const ws = weightScales.get(w);
    if (xs === undefined || !ws) {
      ctx.explain?.({ pass: 'quantize-static', node: b.name, fired: false, reason: 'bias kept float: input or weight not quantized' });
      continue;
    }
    const bf = b.constTensor()!.toFloat32();
    const scales = Array.from(bf, (_, i) => xs * ws[ws.length === 1 ? 0 : i]!);
    const q = Array.from(bf, (v, i) => Math.max(-(2 ** 31), Math.min(2 ** 31 - 1, roundHalfEven(v / scales[i]!))));
    const perChannel = ws.length > 1;
    constDq(
      g,
      b,
      Tensor.fromArray(DataType.INT32, [bf.length], q),
      Tensor.float(perChannel ? [bf.length] : [], perChannel ? scales : [scales[0]!]),
      Tensor.fromArray(DataType.INT32, perChannel ? [bf.length] : [], perChannel ? new Array(bf.length).fill(0) : [0]),
      perChannel ? 0 : undefined,
      domain,
    );
  }
  g.topologicalSort();
  return pairs;
}

/**
 * QLinearConv needs opset 10. 11 is preferred: ORT's own WeightBiasQuantization transformer inserts Round
 * (opset 11) next to a float Conv between quantized neighbours, which an opset-10 model cannot load.
 */
function raiseOpset(model: Model, ctx: PassContext): void {
  const from = model.opset('') ?? 1;
  if (from >= 11) return;
  // an op that changed meaning at 11 (Resize…) keeps the model at 10
  const target = wouldUpgrade(model, 11) ? 11 : 10;
  if (upgradeOpset(model, target)) ctx.log?.(`quantize-static: raised the model from opset ${from} to ${target}`);
}

/**
 * Smallest weight scale per output channel that keeps the int32 bias (b / (x_scale·w_scale)) in range: a
 * dead channel (weights ≈ 0 after BatchNorm folding) with a live bias would otherwise overflow and clamp.
 */
function biasScaleFloors(plan: StaticPlan, paramsOf: (v: Value) => QParams | undefined): Map<Value, number[]> {
  const out = new Map<Value, number[]>();
  const limit = 2 ** 31 - 1;
  for (const [b, [x, w]] of plan.biases) {
    const xs = paramsOf(x)?.scale;
    if (xs === undefined) continue;
    const floors = Array.from(b.constTensor()!.toFloat32(), (v) => (Math.abs(v) / (xs * limit)) * 1.01);
    const prev = out.get(w);
    out.set(w, prev ? floors.map((f, i) => Math.max(f, prev[i] ?? 0)) : floors);
  }
  return out;
}

/** v → Q → DQ; every reader of v now reads the DQ output (graph outputs keep v itself). */
function insertQdq(g: Graph, v: Value, scale: Tensor, zp: Tensor, domain: string): void {
  const s = g.addInitializer(scale, g.uniqueName(`${v.name}_scale`));
  const z = g.addInitializer(zp, g.uniqueName(`${v.name}_zero_point`));
  const vq = g.newValue(`${v.name}_quantized`);
  const vd = g.newValue(`${v.name}_dequantized`);
  v.replaceAllUsesWith(vd);
  const q = new Node('QuantizeLinear', [v, s, z], [vq], { name: g.uniqueName(`${v.name}_QuantizeLinear`), domain });
  const d = new Node('DequantizeLinear', [vq, s, z], [vd], { name: g.uniqueName(`${v.name}_DequantizeLinear`), domain });
  if (v.producer && v.producer.graph === g) g.insertAfter(v.producer, q, d);
  else {
    g.addNode(q, g.nodes[0]);
    g.insertAfter(q, d);
  }
}

/** Replaces a float constant by DequantizeLinear(quantized constant). */
function constDq(g: Graph, v: Value, data: Tensor, scale: Tensor, zp: Tensor, axis: number | undefined, domain: string): void {
  const base = v.name;
  const inputs = [g.addInitializer(data, g.uniqueName(`${base}_quantized`)), g.addInitializer(scale, g.uniqueName(`${base}_scale`)), g.addInitializer(zp, g.uniqueName(`${base}_zero_point`))];
  const out = g.newValue(`${base}_dequantized`);
  const attrs = axis !== undefined && scale.rank > 0 ? [{ name: 'axis', value: { type: 'int' as const, value: axis } }] : [];
  const dq = new Node('DequantizeLinear', inputs, [out], { name: g.uniqueName(`${base}_DequantizeLinear`), domain, attrs });
  v.replaceAllUsesWith(out);
  g.addNode(dq, g.nodes[0]);
  dropIfUnused(g, v);
}
