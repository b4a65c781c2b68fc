import type { ChannelMap, PruneContext } from '../prune-rule.js';
import { definePrune } from '../registry.js';
import { blockAll, passThrough } from './common.js';

/**
 * Normalisation, pooling, softmax and reductions: per-channel parameters are cut with their channel; ops that
 * mix values across the channel axis (LayerNorm, Softmax over it, a reduction over it) make channels
 * unremovable, because removing even a zero channel changes the others.
 */

function perChannelParams(params: number[], scale: number | undefined) {
  return (c: PruneContext): (ChannelMap | undefined)[] => {
    const m = c.chan(0);
    if (!m) return blockAll(c, 'reads them as a parameter');
    if (m.axis !== 1) return blockAll(c, 'normalises along another axis than the channel axis');
    for (const i of params) {
      if (!c.node.inputs[i]) continue;
      if (!c.isConst(i)) return blockAll(c, `has a non-constant parameter (input ${i})`);
      c.cut(i, 0, m.ids, i === scale ? 'scale' : 'other');
    }
    return [m];
  };
}
definePrune('', 'BatchNormalization', perChannelParams([1, 2, 3, 4], 1));
definePrune('', 'InstanceNormalization', perChannelParams([1, 2], 1));

const mixes = (c: PruneContext) => blockAll(c, 'normalises over the channels (removing one changes the others)');
definePrune('', ['LayerNormalization', 'GroupNormalization', 'LpNormalization', 'MeanVarianceNormalization'], mixes);
definePrune('com.microsoft', ['SkipLayerNormalization', 'SimplifiedLayerNormalization', 'SkipSimplifiedLayerNormalization', 'EmbedLayerNormalization'], mixes);

/** Pools and resizes keep the channel axis (1) as long as its size does not change. */
function keepsAxis(c: PruneContext): (ChannelMap | undefined)[] {
  const m = c.chan(0);
  if (!m) return passThrough(c);
  const i = c.inShape(0);
  const o = c.outShape(0);
  if (!i || !o || i[m.axis] !== o[m.axis]) return blockAll(c, 'changes the size of the channel axis');
  if (c.node.outputs.length > 1 && c.node.outputs[1]!.uses.length > 0) return blockAll(c, 'returns indices that encode channel positions');
  return [m];
}
definePrune('', ['MaxPool', 'AveragePool', 'GlobalAveragePool', 'GlobalMaxPool', 'LpPool', 'GlobalLpPool', 'Resize', 'Upsample', 'Pad', 'Slice'], keepsAxis);

function softmaxRule(c: PruneContext): (ChannelMap | undefined)[] {
  const m = c.chan(0);
  const s = c.inShape(0);
  if (!m || !s) return blockAll(c, 'shapes unknown');
  const r = s.length;
  const ax = c.node.attrInt('axis', c.opset >= 13 ? -1 : 1);
  const axis = ax < 0 ? ax + r : ax;
  const hit = c.opset >= 13 ? m.axis === axis : m.axis >= axis;
  return hit ? blockAll(c, 'normalises over the channels') : [m];
}
definePrune('', ['Softmax', 'LogSoftmax', 'Hardmax'], softmaxRule);

/** Reductions: fine over other axes (the channel axis moves when dims are dropped), blocking over it. */
function reduceRule(c: PruneContext): (ChannelMap | undefined)[] {
  const m = c.chan(0);
  const s = c.inShape(0);
  if (!m || !s) return blockAll(c, 'shapes unknown');
  const r = s.length;
  const single = c.node.attrInt('axis');
  let axes = single !== undefined ? [single] : (c.node.attrInts('axes') ?? c.constInts(1));
  if (!axes || axes.length === 0) {
    if (c.node.attrInt('noop_with_empty_axes', 0) === 1) return [m];
    axes = s.map((_, i) => i);
  }
  const norm = axes.map((x) => (x < 0 ? x + r : x));
  if (norm.includes(m.axis)) return blockAll(c, 'reduces over the channels');
  const keep = c.node.attrInt('keepdims', 1) === 1;
  return [{ axis: keep ? m.axis : m.axis - norm.filter((x) => x < m.axis).length, ids: m.ids }];
}
definePrune('', ['ReduceMean', 'ReduceSum', 'ReduceMax', 'ReduceMin', 'ReduceProd', 'ReduceL1', 'ReduceL2', 'ReduceLogSumExp', 'ReduceSumSquare', 'ArgMax', 'ArgMin'], reduceRule);
