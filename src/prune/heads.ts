import type { Model, Node, Value } from '../ir/graph.js';
import { Tensor } from '../ir/tensor.js';
import type { FixContext } from '../ops/prune-rule.js';
import { headsOf, RAW_ATTENTION_PATTERNS } from '../passes/fusions/attention.js';
import { intConst } from '../passes/util.js';
import { matchPattern } from '../rewrite/match.js';
import { staticShape, type Analysis } from './channels.js';
import { repeatIds } from '../ops/prune/common.js';

/**
 * Attention heads as removable groups. A head couples d = H/N columns of the Q, K and V projections (weights
 * and biases), the number of heads in the split Reshapes (or the fused Attention's `num_heads`), and d rows of
 * the output projection (with the merge Reshape's width). Both forms are found:
 *
 * - raw, as exporters emit it: the attention subgraph the `fuse-attention` rewrite rule matches (its patterns
 *   are reused), with constant or Shape → Concat reshape targets;
 * - fused: com.microsoft Attention with packed [H, 3H] weights and [3H] bias.
 *
 * The output projection must be a MatMul with a constant weight reading the attention output alone; where it
 * is not, or a target cannot be rewritten, the heads are blocked with the reason.
 */
export function analyzeHeads(model: Model, a: Analysis): void {
  for (const node of [...model.graph.nodes]) {
    if (node.opType === 'Attention' && node.domain === 'com.microsoft') fusedHeads(node, a);
    else if (node.opType === 'Reshape') rawHeads(node, a);
  }
}

/** The MatMul with a constant weight that reads `v` (the attention output) and nothing else does. */
function outputProjection(v: Value, model: Model): Node | string {
  if (model.graph.outputs.includes(v)) return 'the attention output is a graph output';
  const uses = v.uses;
  if (uses.length !== 1) return 'the attention output has more than one reader';
  const n = uses[0]!.node;
  if (n.opType !== 'MatMul' || uses[0]!.index !== 0 || !n.inputs[1]?.constTensor() || n.inputs[1].constTensor()!.dims.length !== 2) {
    return `the attention output is read by ${n.opType} '${n.name}', not by a MatMul with a constant weight`;
  }
  return n;
}

/** The constant input of a bias Add (and its index), if `add` is one. */
function biasOf(add: Node): { input: number; t: Tensor } | undefined {
  for (let i = 0; i < 2; i++) {
    const t = add.inputs[i]?.constTensor();
    if (t && add.inputs[1 - i]?.producer?.opType === 'MatMul') return { input: i, t };
  }
  return undefined;
}

/**
 * A fix that sets entry `axis` of a Reshape target to `value(kept)`: a constant target, or a Concat of
 * one-element pieces whose piece at `axis` is a constant. Entries ≤ 0 (copy, infer) need no fix.
 */
function targetFix(a: Analysis, reshape: Node, axis: number): ((value: number) => (fx: FixContext) => void) | string {
  const target = reshape.inputs[1]!;
  const c = intConst(target);
  if (c) {
    if (!(c[axis]! > 0)) return () => () => {};
    return (value) => (fx) => fx.setConst(reshape, 1, Tensor.int64([c.length], c.map((x, i) => (i === axis ? value : x))));
  }
  const concat = target.producer;
  const piece = concat?.opType === 'Concat' ? concat.inputs[axis] : undefined;
  const pc = piece ? intConst(piece) : undefined;
  if (concat && pc?.length === 1 && concat.inputs.slice(0, axis).every((p) => p && staticShape(a.shapes, p)?.join() === '1')) {
    if (!(pc[0]! > 0)) return () => () => {};
    return (value) => (fx) => fx.setConst(concat, axis, Tensor.int64([1], [value]));
  }
  return `the target of Reshape '${reshape.name}' is computed`;
}


function rawHeads(root: Node, a: Analysis): void {
  let m = null;
  for (const p of RAW_ATTENTION_PATTERNS) if ((m = matchPattern(p, root))) break;
  if (!m) return;
  const wq = m.tensor('wq');
  if (wq.dims.length !== 2) return;
  const hidden = wq.dims[1]!;
  const heads = headsOf(m.node('rq'), wq.dims[0]!);
  if (!heads || hidden % heads !== 0) return;
  const d = hidden / heads;
  const space = a.space;
  const ids = space.fresh(heads, root, 'head', 3);
  const cols = repeatIds(ids, d);
  const block = (why: string) => space.block(ids, `attention '${root.name}': ${why}`);
  for (const k of ['q', 'k', 'v'] as const) {
    if (headsOf(m.node(`r${k}`), wq.dims[0]!) !== heads || m.tensor(`w${k}`).dims[1] !== hidden) return block(`${k.toUpperCase()} has a different head split`);
    const add = m.node(`a${k}`);
    const bias = biasOf(add);
    const mm = add.inputs.map((v) => v?.producer).find((n) => n?.opType === 'MatMul');
    if (!bias || !mm || mm.inputs[1] !== m.value(`w${k}`) || bias.t.size !== hidden) return block(`the ${k.toUpperCase()} projection is not MatMul + bias`);
    if (m.value(`w${k}`).uses.length !== 1 || add.inputs[bias.input]!.uses.length !== 1) return block(`the ${k.toUpperCase()} weights are shared`);
    space.cut(mm, 1, 1, cols, 'out');
    space.cut(add, bias.input, bias.t.dims.length - 1, cols, 'other');
    const fix = targetFix(a, m.node(`r${k}`), 2);
    if (typeof fix === 'string') return block(fix);
    space.fixes.push((fx) => fix(fx.kept(ids))(fx));
  }
  const proj = outputProjection(root.outputs[0]!, a.model);
  if (typeof proj === 'string') return block(proj);
  if (proj.inputs[1]!.uses.length !== 1) return block('the output projection weight is shared');
  space.cut(proj, 1, 0, cols, 'in');
  const merge = targetFix(a, root, 2);
  if (typeof merge === 'string') return block(merge);
  space.fixes.push((fx) => merge(fx.kept(ids) * d)(fx));
}

function fusedHeads(node: Node, a: Analysis): void {
  const space = a.space;
  const heads = node.attrInt('num_heads', 0);
  const w = node.inputs[1]?.constTensor();
  const b = node.inputs[2]?.constTensor();
  if (!(heads > 0) || !w || w.dims.length !== 2) return;
  const ids = space.fresh(heads, node, 'head', 3);
  const block = (why: string) => space.block(ids, `Attention '${node.name}': ${why}`);
  if (node.attrInts('qkv_hidden_sizes')) return block('it has qkv_hidden_sizes');
  if (node.inputs.length > 4 && node.inputs.slice(4).some(Boolean)) return block('it has a past state, bias or extra inputs');
  const hidden = w.dims[1]! / 3;
  if (!Number.isInteger(hidden) || hidden % heads !== 0 || (b && b.size !== 3 * hidden)) return block('its weights are not [H, 3H] with a [3H] bias');
  const d = hidden / heads;
  const cols = repeatIds(ids, d);
  const packed = new Int32Array(3 * hidden);
  for (let k = 0; k < 3; k++) packed.set(cols, k * hidden);
  if (node.inputs[1]!.uses.length !== 1) return block('the packed weights are shared');
  space.cut(node, 1, 1, packed, 'out');
  if (b) space.cut(node, 2, 0, packed, 'other');
  const proj = outputProjection(node.outputs[0]!, a.model);
  if (typeof proj === 'string') return block(proj);
  if (proj.inputs[1]!.uses.length !== 1) return block('the output projection weight is shared');
  space.cut(proj, 1, 0, cols, 'in');
  space.fixes.push((fx) => node.setAttr('num_heads', { type: 'int', value: fx.kept(ids) }));
}
