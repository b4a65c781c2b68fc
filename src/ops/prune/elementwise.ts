import type { ChannelMap, PruneContext } from '../prune-rule.js';
import { definePrune } from '../registry.js';
import { passThrough, trackedInputs } from './common.js';

/**
 * Elementwise ops. Unary ops carry their input's channels. Broadcasting ops couple the channels of every
 * operand that has them (a residual Add joins channel i of both branches into one group) and cut constant
 * operands that vary along the channel axis (a per-channel bias or scale); an activation operand without
 * tracked channels that varies along that axis makes the channels unremovable.
 */

const UNARY = [
  'Relu', 'Sigmoid', 'Tanh', 'Erf', 'Exp', 'Log', 'Neg', 'Abs', 'Sqrt', 'Reciprocal', 'Floor', 'Ceil', 'Round',
  'Sign', 'Softplus', 'Softsign', 'Elu', 'Selu', 'Celu', 'LeakyRelu', 'ThresholdedRelu', 'HardSigmoid',
  'HardSwish', 'Mish', 'Gelu', 'Identity', 'Cast', 'Sin', 'Cos', 'Not', 'Shrink',
];
definePrune('', UNARY, (c) => passThrough(c));
// Clip's min/max are scalars; Dropout's mask has the same channels as its output
definePrune('', 'Clip', (c) => passThrough(c));
definePrune('', 'Dropout', (c) => passThrough(c, c.node.outputs.length));

export function broadcastRule(c: PruneContext): (ChannelMap | undefined)[] {
  const tracked = trackedInputs(c);
  if (tracked.length === 0) return [];
  const out = c.outShape(0);
  const where = `${c.node.opType} '${c.node.name}'`;
  const rankOf = (i: number) => c.inShape(i)?.length;
  if (!out || tracked.some((t) => rankOf(t.i) === undefined)) {
    for (const t of tracked) c.block(t.map.ids, `${where}: shapes unknown`);
    return [];
  }
  const r = out.length;
  const axes = tracked.map((t) => t.map.axis + r - rankOf(t.i)!);
  const a = axes[0]!;
  const ids = tracked[0]!.map.ids;
  if (axes.some((x) => x !== a) || tracked.some((t) => t.map.ids.length !== out[a])) {
    for (const t of tracked) c.block(t.map.ids, `${where} combines channels along different axes`);
    return [];
  }
  for (const t of tracked.slice(1)) c.union(ids, t.map.ids);
  c.node.inputs.forEach((v, i) => {
    if (!v || tracked.some((t) => t.i === i)) return;
    const s = c.inShape(i);
    const k = s ? a - (r - s.length) : undefined;
    const d = s && k !== undefined && k >= 0 ? s[k] : 1;
    if (d === 1 && s) return;
    if (s && c.isConst(i)) return c.cut(i, k!, ids, 'other');
    c.block(ids, `${where} combines them with '${v.name}', whose channels are not tracked`);
  });
  return [{ axis: a, ids }];
}

definePrune('', ['Add', 'Sub', 'Mul', 'Div', 'Pow', 'Max', 'Min', 'Mean', 'Sum', 'PRelu', 'Where', 'Equal', 'Less', 'Greater', 'And', 'Or', 'Mod'], broadcastRule);
// com.microsoft activations: BiasGelu / FastGelu add a per-feature bias (input 1)
definePrune('com.microsoft', ['Gelu', 'QuickGelu'], (c) => passThrough(c));
definePrune('com.microsoft', ['BiasGelu', 'FastGelu'], broadcastRule);
