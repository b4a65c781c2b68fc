import type { ChannelMap, PruneContext } from '../prune-rule.js';
import { definePrune } from '../registry.js';
import { blockAll } from './common.js';

/**
 * Ops with weights make channels: a Conv's filters, a Gemm/MatMul's output features are fresh ids, cut from
 * the weight's output axis and the bias. An input channel is cut from the weight's input axis (the next
 * layer's input channels). A depthwise Conv (group = channels) carries its input's channels through and its
 * `group` follows the kept count. Weights that are not constants, other grouped Convs and attention-style
 * products of two activations make the channels unremovable.
 */

function conv(c: PruneContext): (ChannelMap | undefined)[] {
  const x = c.chan(0);
  const w = c.inShape(1);
  if (!w || !c.isConst(1)) return blockAll(c, 'has a weight that is not a constant');
  if (x && x.axis !== 1) return blockAll(c, 'reads them on a non-channel axis');
  const [co, ciPerGroup] = [w[0]!, w[1]!];
  const group = c.node.attrInt('group', 1);
  const bias = (ids: Int32Array) => {
    if (c.node.inputs[2]) {
      if (!c.isConst(2)) c.block(ids, `Conv '${c.node.name}' has a non-constant bias`);
      else c.cut(2, 0, ids, 'other');
    }
  };
  if (group === 1) {
    if (x) c.cut(1, 1, x.ids, 'in');
    const out = c.fresh(co);
    c.cut(1, 0, out, 'out');
    bias(out);
    return [{ axis: 1, ids: out }];
  }
  const ci = c.inShape(0)?.[1];
  if (ciPerGroup === 1 && group === ci && co === ci) {
    // depthwise, one filter per channel: the output channels are the input's
    let ids = x?.ids;
    if (!ids) {
      ids = c.fresh(co);
      c.block(ids, `depthwise Conv '${c.node.name}': its channels are its input's, which cannot be removed`);
    }
    c.cut(1, 0, ids, 'out');
    bias(ids);
    const node = c.node;
    const own = ids;
    c.fix((fx) => node.setAttr('group', { type: 'int', value: fx.kept(own) }));
    return [{ axis: 1, ids }];
  }
  blockAll(c, `is a grouped convolution (group=${group}) that is not depthwise`);
  const out = c.fresh(co);
  c.block(out, `Conv '${c.node.name}' is a grouped convolution (group=${group}) that is not depthwise`);
  return [{ axis: 1, ids: out }];
}
definePrune('', 'Conv', conv);

function convTranspose(c: PruneContext): (ChannelMap | undefined)[] {
  const x = c.chan(0);
  const w = c.inShape(1);
  if (!w || !c.isConst(1)) return blockAll(c, 'has a weight that is not a constant');
  if (x && x.axis !== 1) return blockAll(c, 'reads them on a non-channel axis');
  const group = c.node.attrInt('group', 1);
  if (group !== 1) {
    blockAll(c, `is a grouped transposed convolution (group=${group})`);
    return [];
  }
  if (x) c.cut(1, 0, x.ids, 'in');
  const out = c.fresh(w[1]!);
  c.cut(1, 1, out, 'out');
  if (c.node.inputs[2]) {
    if (c.isConst(2)) c.cut(2, 0, out, 'other');
    else c.block(out, `ConvTranspose '${c.node.name}' has a non-constant bias`);
  }
  return [{ axis: 1, ids: out }];
}
definePrune('', 'ConvTranspose', convTranspose);

/** Cuts a bias/addend operand that runs along the output features (its last axis), if it does. */
function cutBias(c: PruneContext, i: number, out: Int32Array, n: number): void {
  if (!c.node.inputs[i]) return;
  const s = c.inShape(i);
  const last = s && s.length > 0 ? s[s.length - 1]! : 1;
  if (last === 1) return;
  if (!c.isConst(i) || last !== n) c.block(out, `${c.node.opType} '${c.node.name}' adds an operand that is not a per-feature constant`);
  else c.cut(i, s!.length - 1, out, 'other');
}

function gemm(c: PruneContext): (ChannelMap | undefined)[] {
  const a = c.chan(0);
  const b = c.inShape(1);
  if (!b || !c.isConst(1) || c.chan(1) || c.chan(2)) return blockAll(c, 'has a weight that is not a constant');
  const transA = c.node.attrInt('transA', 0) === 1;
  const transB = c.node.attrInt('transB', 0) === 1;
  if (a && a.axis !== (transA ? 0 : 1)) return blockAll(c, 'reads them on a non-reduction axis');
  if (a) c.cut(1, transB ? 1 : 0, a.ids, 'in');
  const n = b[transB ? 0 : 1]!;
  const out = c.fresh(n);
  c.cut(1, transB ? 0 : 1, out, 'out');
  cutBias(c, 2, out, n);
  return [{ axis: 1, ids: out }];
}
definePrune('', 'Gemm', gemm);

function matmul(c: PruneContext): (ChannelMap | undefined)[] {
  const a = c.chan(0);
  const as = c.inShape(0);
  const b = c.inShape(1);
  if (!b || b.length !== 2 || !c.isConst(1) || !as) return blockAll(c, 'multiplies two activations (or a weight of rank ≠ 2)');
  if (a && a.axis !== as.length - 1) return blockAll(c, 'reads them on a non-reduction axis');
  if (a) c.cut(1, 0, a.ids, 'in');
  const out = c.fresh(b[1]!);
  c.cut(1, 1, out, 'out');
  return [{ axis: as.length - 1, ids: out }];
}
definePrune('', 'MatMul', matmul);
