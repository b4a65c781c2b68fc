import { DataType } from '../../ir/dtype.js';
import type { Node, Value } from '../../ir/graph.js';
import { Tensor } from '../../ir/tensor.js';
import type { Match } from '../../rewrite/match.js';
import { rulePass } from '../../rewrite/apply.js';
import { P } from '../../rewrite/pattern.js';
import { attrsOf, type RewriteBuilder, type RewriteRule } from '../../rewrite/rule.js';
import { intConst, opsetOf, scalarConst } from '../util.js';

/**
 * Folding into Conv: BatchNormalization after Conv, a per-channel Add (bias) or Mul (scale) after Conv,
 * and a zero Pad before Conv.
 */

/** Conv with a float32 constant weight (and a constant bias, if any), not yet using auto_pad. */
const conv = (as = 'conv') =>
  P.op('Conv', [P.v('x'), P.c('w', (t) => t.dtype === DataType.FLOAT)], {
    as,
    where: (n) => (n.inputs.length < 3 || !n.input(2) || n.input(2)!.constTensor() ? true : 'the bias is not a constant'),
  });

interface ConvParts {
  w: Float32Array;
  dims: number[];
  bias: Float32Array;
  channels: number;
  perChannel: number;
}

function convParts(m: Match): ConvParts {
  const wt = m.tensor('w');
  const channels = wt.dims[0]!;
  const biasT = m.node('conv').input(2)?.constTensor();
  return {
    w: new Float32Array(wt.toFloat32()),
    dims: [...wt.dims],
    bias: biasT ? new Float32Array(biasT.toFloat32()) : new Float32Array(channels),
    channels,
    perChannel: wt.size / channels,
  };
}

/** The name a Conv weight folded with what follows it gets (QAT finds its BatchNorm again by it). */
export const foldedWeightName = (weight: string) => `${weight}_folded`;

/** A new Conv with the given weights, the old node's attributes, reading the old input. */
function rebuildConv(m: Match, b: RewriteBuilder, p: ConvParts, x: Value = m.value('x'), extra: Record<string, number[]> = {}): Value {
  const w = b.init(foldedWeightName(m.value('w').name), Tensor.float(p.dims, p.w));
  const bias = b.init(`${m.node('conv').name}_bias`, Tensor.float([p.channels], p.bias));
  return b.op('Conv', [x, w, bias], { ...attrsOf(m.node('conv')), ...extra });
}

/**
 * The per-channel values of a constant that broadcasts against a Conv output [N, C, spatial…]: shape [C,1,…]
 * or [1,C,1,…] or a single value. Undefined when it does not broadcast that way.
 */
export function perChannel(t: Tensor, channels: number, outRank: number): Float32Array | undefined {
  if (t.dtype !== DataType.FLOAT) return undefined;
  const v = t.toFloat32();
  if (t.size === 1) return new Float32Array(channels).fill(v[0]!);
  if (t.rank > outRank || t.size !== channels) return undefined;
  const padded = [...new Array(outRank - t.rank).fill(1), ...t.dims];
  return padded[1] === channels && padded.every((d, i) => i === 1 || d === 1) ? v : undefined;
}

const convBatchNorm: RewriteRule = {
  name: 'fold-conv-batchnorm',
  doc: 'BatchNormalization(Conv(x, W, b)) → Conv(x, W·s, (b − mean)·s + β), s = γ/√(var + ε)',
  patterns: [P.op('BatchNormalization', [conv(), P.c('scale'), P.c('beta'), P.c('mean'), P.c('var')])],
  check(m) {
    const bn = m.root;
    if (bn.outputs.slice(1).some((o) => o.uses.length > 0)) return 'running statistics outputs are used (training mode)';
    if (bn.attrInt('training_mode', 0) !== 0) return 'training_mode is set';
    const c = m.tensor('w').dims[0]!;
    for (const k of ['scale', 'beta', 'mean', 'var']) if (m.tensor(k).size !== c || m.tensor(k).dtype !== DataType.FLOAT) return `${k} is not float32[${c}]`;
    return undefined;
  },
  replace(m, b) {
    const p = convParts(m);
    const eps = m.root.attrFloat('epsilon', 1e-5);
    const [gamma, beta, mean, variance] = ['scale', 'beta', 'mean', 'var'].map((k) => m.tensor(k).toFloat32());
    for (let c = 0; c < p.channels; c++) {
      const s = gamma![c]! / Math.sqrt(variance![c]! + eps);
      for (let k = 0; k < p.perChannel; k++) p.w[c * p.perChannel + k]! *= s;
      p.bias[c] = (p.bias[c]! - mean![c]!) * s + beta![c]!;
    }
    return [rebuildConv(m, b, p), ...m.root.outputs.slice(1).map(() => null)];
  },
};

/**
 * BatchNormalization after ConvTranspose: the weight is [C_in, C_out/group, k…], so output channel
 * o = (i / (C_in/group))·(C_out/group) + j for weight slice [i, j].
 */
const convTransposeBatchNorm: RewriteRule = {
  name: 'fold-convtranspose-batchnorm',
  doc: 'BatchNormalization(ConvTranspose(x, W, b)) → ConvTranspose(x, W·s, (b − mean)·s + β)',
  patterns: [P.op('BatchNormalization', [P.op('ConvTranspose', [P.v('x'), P.c('w', (t) => t.dtype === DataType.FLOAT)], { as: 'conv' }), P.c('scale'), P.c('beta'), P.c('mean'), P.c('var')])],
  check(m) {
    const conv = m.node('conv');
    if (conv.input(2) && !conv.input(2)!.constTensor()) return 'the bias is not a constant';
    if (m.root.outputs.slice(1).some((o) => o.uses.length > 0) || m.root.attrInt('training_mode', 0) !== 0) return 'training mode';
    const w = m.tensor('w');
    const channels = w.dims[1]! * conv.attrInt('group', 1);
    for (const k of ['scale', 'beta', 'mean', 'var']) if (m.tensor(k).size !== channels || m.tensor(k).dtype !== DataType.FLOAT) return `${k} is not float32[${channels}]`;
    return undefined;
  },
  replace(m, b) {
    const conv = m.node('conv');
    const wt = m.tensor('w');
    const group = conv.attrInt('group', 1);
    const [cin, coutPerGroup] = wt.dims as [number, number];
    const channels = coutPerGroup * group;
    const spatial = wt.size / (cin * coutPerGroup);
    const eps = m.root.attrFloat('epsilon', 1e-5);
    const [gamma, beta, mean, variance] = ['scale', 'beta', 'mean', 'var'].map((k) => m.tensor(k).toFloat32());
    const s = Float32Array.from({ length: channels }, (_, c) => gamma![c]! / Math.sqrt(variance![c]! + eps));
    const w = new Float32Array(wt.toFloat32());
    for (let i = 0; i < cin; i++) {
      for (let j = 0; j < coutPerGroup; j++) {
        const o = Math.floor(i / (cin / group)) * coutPerGroup + j;
        for (let k = 0; k < spatial; k++) w[(i * coutPerGroup + j) * spatial + k]! *= s[o]!;
      }
    }
    const oldBias = conv.input(2)?.constTensor()?.toFloat32();
    const bias = Float32Array.from({ length: channels }, (_, c) => ((oldBias?.[c] ?? 0) - mean![c]!) * s[c]! + beta![c]!);
    const inputs = [m.value('x'), b.init(`${m.value('w').name}_folded`, Tensor.float([...wt.dims], w)), b.init(`${conv.name}_bias`, Tensor.float([channels], bias))];
    return [b.op('ConvTranspose', inputs, attrsOf(conv)), ...m.root.outputs.slice(1).map(() => null)];
  },
};

const convTransposeAdd: RewriteRule = {
  name: 'fold-convtranspose-add',
  doc: 'ConvTranspose(x, W, b) + c → ConvTranspose(x, W, b + c) for a per-channel constant c',
  patterns: [P.op('Add', [P.op('ConvTranspose', [P.v('x'), P.c('w')], { as: 'conv' }), P.c('c')])],
  check(m) {
    const conv = m.node('conv');
    if (conv.input(2) && !conv.input(2)!.constTensor()) return 'the bias is not a constant';
    const w = m.tensor('w');
    return perChannel(m.tensor('c'), w.dims[1]! * conv.attrInt('group', 1), w.rank) ? undefined : 'the addend is not per-channel';
  },
  replace(m, b) {
    const conv = m.node('conv');
    const w = m.tensor('w');
    const channels = w.dims[1]! * conv.attrInt('group', 1);
    const c = perChannel(m.tensor('c'), channels, w.rank)!;
    const old = conv.input(2)?.constTensor()?.toFloat32();
    const bias = b.init(`${conv.name}_bias`, Tensor.float([channels], c.map((v, k) => v + (old?.[k] ?? 0))));
    return b.op('ConvTranspose', [m.value('x'), m.value('w'), bias], attrsOf(conv));
  },
};

const convAdd: RewriteRule = {
  name: 'fold-conv-add',
  doc: 'Conv(x, W, b) + c → Conv(x, W, b + c) for a per-channel constant c',
  patterns: [P.op('Add', [conv(), P.c('c')])],
  check: (m) => (perChannel(m.tensor('c'), m.tensor('w').dims[0]!, m.tensor('w').rank) ? undefined : 'the addend is not per-channel'),
  replace(m, b) {
    const p = convParts(m);
    const c = perChannel(m.tensor('c'), p.channels, p.dims.length)!;
    for (let k = 0; k < p.channels; k++) p.bias[k]! += c[k]!;
    return rebuildConv(m, b, p);
  },
};

const convMul: RewriteRule = {
  name: 'fold-conv-mul',
  doc: 'Conv(x, W, b) · s → Conv(x, W·s, b·s) for a per-channel constant s',
  patterns: [P.op('Mul', [conv(), P.c('s')])],
  check: (m) => (perChannel(m.tensor('s'), m.tensor('w').dims[0]!, m.tensor('w').rank) ? undefined : 'the factor is not per-channel'),
  replace(m, b) {
    const p = convParts(m);
    const s = perChannel(m.tensor('s'), p.channels, p.dims.length)!;
    for (let c = 0; c < p.channels; c++) {
      for (let k = 0; k < p.perChannel; k++) p.w[c * p.perChannel + k]! *= s[c]!;
      p.bias[c]! *= s[c]!;
    }
    return rebuildConv(m, b, p);
  },
};

/** Pads of a zero-constant Pad node (attribute before opset 11, input after), or the reason it is not one. */
function zeroPads(pad: Node, opset: number): number[] | string {
  const mode = pad.attrString('mode', 'constant');
  if (mode !== 'constant') return `Pad mode is ${mode}`;
  if (opset < 11) {
    if (pad.attrFloat('value', 0) !== 0) return 'Pad value is not 0';
    return pad.attrInts('pads') ?? 'Pad has no pads';
  }
  if (pad.input(3)) return 'Pad has axes';
  const value = pad.input(2);
  if (value && scalarConst(value) !== 0) return 'Pad constant_value is not 0';
  return intConst(pad.input(1)) ?? 'Pad pads are not constant';
}

const padConv: RewriteRule = {
  name: 'fold-pad-conv',
  doc: 'Conv(Pad(x, zeros on spatial axes)) → Conv(x, pads += …)',
  patterns: [P.op('Conv', [P.op('Pad', [P.v('x')], { as: 'pad' }), P.c('w', (t) => t.dtype === DataType.FLOAT)], { as: 'conv' })],
  check(m, ctx) {
    const pads = zeroPads(m.node('pad'), opsetOf(ctx.model));
    if (typeof pads === 'string') return pads;
    const r = m.tensor('w').rank;
    if (pads.length !== 2 * r) return `pads has ${pads.length} entries, want ${2 * r}`;
    if (pads[0] || pads[1] || pads[r] || pads[r + 1]) return 'Pad pads batch or channel axes';
    if (pads.some((p) => p < 0)) return 'Pad crops (negative pads)';
    const auto = m.root.attrString('auto_pad', 'NOTSET');
    if (auto !== 'NOTSET') return `Conv uses auto_pad ${auto}`;
    if (m.root.inputs.length > 2 && m.root.input(2) && !m.root.input(2)!.constTensor()) return 'the bias is not a constant';
    return undefined;
  },
  replace(m, b, ctx) {
    const pads = zeroPads(m.node('pad'), opsetOf(ctx.model)) as number[];
    const r = m.tensor('w').rank;
    const spatial = r - 2;
    const old = m.root.attrInts('pads') ?? new Array(2 * spatial).fill(0);
    const merged = old.map((p, i) => p + (i < spatial ? pads[2 + i]! : pads[r + 2 + i - spatial]!));
    const inputs = [m.value('x'), m.value('w'), ...(m.root.input(2) ? [m.root.input(2)] : [])];
    return b.op('Conv', inputs, { ...attrsOf(m.root), pads: merged });
  },
};

export const convRules: readonly RewriteRule[] = [convBatchNorm, convTransposeBatchNorm, convTransposeAdd, convAdd, convMul, padConv];

export const foldIntoConv = rulePass('fold-into-conv', 'fold BatchNormalization, per-channel Add/Mul and zero Pad into Conv', convRules);
