import { attr } from '../../ir/builder.js';
import { DataType } from '../../ir/dtype.js';
import type { Node, Value } from '../../ir/graph.js';
import { Tensor } from '../../ir/tensor.js';
import { rulePass } from '../../rewrite/apply.js';
import { matchPattern, type Match } from '../../rewrite/match.js';
import { P, where, type OpPattern, type Pattern } from '../../rewrite/pattern.js';
import type { RewriteRule } from '../../rewrite/rule.js';
import { elemTypeOf, intConst, rankOf, scalarConst, shapeOf } from '../util.js';

/**
 * com.microsoft Attention from BERT-style self-attention as exporters emit it:
 *
 *   x ─┬─ MatMul(Wq) ─ Add(bq) ─ Reshape[B,S,N,d] ─ Transpose(0,2,1,3) ─ q ─┐
 *      ├─ MatMul(Wk) ─ Add(bk) ─ Reshape[B,S,N,d] ─ Transpose(0,2,3,1) ─ kᵀ ─ MatMul ─ Div(√d) ─ Add(mask) ─ Softmax ─┐
 *      └─ MatMul(Wv) ─ Add(bv) ─ Reshape[B,S,N,d] ─ Transpose(0,2,1,3) ─ v ────────────────────────────────────── MatMul ─┘
 *                                                                      ─ Transpose(0,2,1,3) ─ Reshape[B,S,H] → out
 *
 * Variants: Mul(1/√d) (or any scale) for Div(√d); no mask Add; K as Transpose(0,2,1,3) followed by
 * Transpose(0,1,3,2). The reshape targets may be constants or Shape→Gather→Concat subgraphs (not checked:
 * the head count comes from shape inference or the Concat's constant tail).
 *
 * The mask must be the extended mask of a raw [B,S] 0/1 attention mask:
 *
 *   mask ─ Unsqueeze(1) ─ Unsqueeze(2) ─ Cast(float) ─ Sub(1, ·) ─ Mul(filter)   (filter: −10000 or float min)
 *   (or one Unsqueeze(1,2), before the Cast or after the Mul)
 *
 * It becomes Attention's mask_index (the raw mask as int32, [B,S]) with mask_filter_value = filter; like
 * ORT's own fusion this assumes a 0/1 mask (ORT attends where mask > 0).
 * Replacement: Attention(x, [Wq|Wk|Wv], [bq|bk|bv], mask_index) with num_heads and scale.
 */

const proj = (k: 'q' | 'k' | 'v'): Pattern =>
  P.op('Reshape', [P.op('Add', [P.op('MatMul', [P.v('x'), P.c(`w${k}`)]), P.c(`b${k}`)], { as: `a${k}` }), P.any()], { as: `r${k}` });

const Q = P.op('Transpose', [proj('q')], { where: where.perm([0, 2, 1, 3]) });
const Kt: Pattern[] = [
  P.op('Transpose', [proj('k')], { where: where.perm([0, 2, 3, 1]) }),
  P.op('Transpose', [P.op('Transpose', [proj('k')], { where: where.perm([0, 2, 1, 3]) })], { where: where.perm([0, 1, 3, 2]) }),
];
const V = P.op('Transpose', [proj('v')], { where: where.perm([0, 2, 1, 3]) });

function attentionPattern(k: Pattern, scale: 'Div' | 'Mul', masked: boolean): OpPattern {
  const scores = P.op(scale, [P.op('MatMul', [Q, k]), P.c('scale')], { commute: false });
  const probs = P.op('Softmax', [masked ? P.op('Add', [scores, P.v('mask')]) : scores], { as: 'softmax' });
  const context = P.op('Transpose', [P.op('MatMul', [probs, V])], { as: 'ctx', where: where.perm([0, 2, 1, 3]) });
  return P.op('Reshape', [context, P.any()]);
}

const unsqueezed = (inner: Pattern, as: string) => P.op('Unsqueeze', [inner], { as });
/** The extended mask (1 − m)·filter over m = Unsqueeze(Unsqueeze(raw, 1), 2) cast to float. */
const MASK_PATTERNS: OpPattern[] = [
  P.op('Mul', [P.op('Sub', [P.scalar(1), P.op('Cast', [unsqueezed(unsqueezed(P.v('raw'), 'u1'), 'u2')])], { commute: false }), P.c('filter')]),
  P.op('Mul', [P.op('Sub', [P.scalar(1), P.op('Cast', [unsqueezed(P.v('raw'), 'u12')])], { commute: false }), P.c('filter')]),
  // unsqueezed last: Unsqueeze((1 − Cast(raw))·filter, [1, 2]) (models/spam-transformer/arch.ts)
  unsqueezed(P.op('Mul', [P.op('Sub', [P.scalar(1), P.op('Cast', [P.v('raw')])], { commute: false }), P.c('filter')]), 'u12'),
];

function unsqueezeAxes(n: Node): number[] | undefined {
  return n.attrInts('axes') ?? intConst(n.input(1));
}

/** The raw [B,S] mask and filter value behind an extended mask, or the reason there is none. */
export function rawMask(mask: Value): { raw: Value; filter: number } | string {
  const p = mask.producer;
  if (!p) return 'the mask is not computed from a raw attention mask';
  for (const pattern of MASK_PATTERNS) {
    const m = matchPattern(pattern, p);
    if (!m) continue;
    const axes = m.has('u12') ? [unsqueezeAxes(m.node('u12'))] : [unsqueezeAxes(m.node('u1')), unsqueezeAxes(m.node('u2'))];
    const ok = m.has('u12') ? axes[0]?.join() === '1,2' : axes[0]?.join() === '1' && axes[1]?.join() === '2';
    if (!ok) return `mask Unsqueeze axes are ${JSON.stringify(axes)}, want [B,S] → [B,1,1,S]`;
    const filter = scalarConst(m.value('filter'));
    if (filter === undefined || !(filter < 0)) return 'the mask filter is not a negative scalar';
    if (rankOf(m.value('raw')) !== 2) return 'the raw mask is not 2-D';
    return { raw: m.value('raw'), filter };
  }
  return 'the mask is not (1 − Cast(Unsqueeze(Unsqueeze(mask)))) · filter or Unsqueeze((1 − Cast(mask)) · filter)';
}

/**
 * Heads from the Q reshape [B,S,N,d]: its inferred shape, or a constant / Concat target. Any split of H into
 * N consecutive chunks is what Attention's num_heads means, so N·d must be H (d may be -1 or unknown).
 */
export function headsOf(reshape: Node, hidden: number): number | undefined {
  const fits = (n: number | null | undefined, d: number | null | undefined) =>
    typeof n === 'number' && n > 0 && hidden % n === 0 && (d === -1 || d === null || d === undefined || n * d === hidden) ? n : undefined;
  const s = shapeOf(reshape.outputs[0]);
  if (s && s.length === 4 && typeof s[2] === 'number') return fits(s[2], typeof s[3] === 'number' ? s[3] : null);
  const target = reshape.input(1)!;
  const c = intConst(target);
  if (c && c.length === 4) return fits(c[2], c[3]);
  const concat = target.producer;
  if (concat?.opType === 'Concat' && concat.inputs.length === 4) return fits(intConst(concat.input(2))?.[0], intConst(concat.input(3))?.[0]);
  return undefined;
}

/**
 * The exporter reads the projections' and the context's shapes (Shape → Gather) to build the Reshape
 * targets. Those Shape nodes may stay outside the match: a projection [B,S,H] has x's shape, and the
 * context [B,S,N,d] has x's batch and sequence dims, so they can read x instead.
 */
const SHAPE_READ = ['aq', 'ak', 'av', 'ctx'] as const;

function shapeReadsOk(m: Match): string | undefined {
  const inside = new Set(m.nodes);
  for (const name of SHAPE_READ) {
    for (const u of m.node(name).outputs[0]!.uses) {
      if (inside.has(u.node)) continue;
      if (u.node.opType !== 'Shape' || u.node.attrs.size > 0) return `'${m.node(name).name}' is also used outside the pattern (by ${u.node.opType})`;
      if (name !== 'ctx') continue;
      // the context's shape: only its dims 0 and 1 (batch, seq) may be read
      for (const g of u.node.outputs[0]!.uses) {
        const idx = g.node.opType === 'Gather' && g.index === 0 && g.node.attrInt('axis', 0) === 0 ? intConst(g.node.input(1)) : undefined;
        if (!idx || !idx.every((i) => i === 0 || i === 1)) return "the context's shape is read beyond its batch and sequence dims";
      }
    }
  }
  return undefined;
}

function weightsOk(m: Match): string | undefined {
  const wq = m.tensor('wq');
  for (const k of ['wq', 'wk', 'wv']) {
    const t = m.tensor(k);
    if (t.dtype !== DataType.FLOAT || t.rank !== 2 || t.dims[0] !== wq.dims[0] || t.dims[1] !== wq.dims[1]) return `${k} is not float32 [${wq.dims[0]}, ${wq.dims[1]}]`;
  }
  for (const k of ['bq', 'bk', 'bv']) {
    const t = m.tensor(k);
    if (t.dtype !== DataType.FLOAT || t.rank !== 1 || t.dims[0] !== wq.dims[1]) return `${k} is not float32 [${wq.dims[1]}]`;
  }
  return undefined;
}

function check(m: Match): string | undefined {
  const bad = weightsOk(m) ?? shapeReadsOk(m);
  if (bad) return bad;
  // width: the Q/K/V projections' output size (the hidden size, or less once heads are pruned: qkv_hidden_sizes)
  const [hidden, width] = m.tensor('wq').dims as [number, number];
  const xs = shapeOf(m.value('x'));
  if (!xs || xs.length !== 3) return 'the input is not known to be 3-D [batch, seq, hidden] (run shape inference)';
  if (xs[2] !== hidden) return `the input's hidden size ${xs[2]} ≠ ${hidden}`;
  const softmax = m.node('softmax');
  const axis = softmax.attrInt('axis', -1);
  if (axis !== -1 && axis !== 3) return `Softmax over axis ${axis}, want the last`;
  const heads = headsOf(m.node('rq'), width);
  if (!heads) return `the head split of ${width} is unknown or inconsistent`;
  for (const r of ['rk', 'rv']) if (headsOf(m.node(r), width) !== heads) return `${r} splits into a different number of heads`;
  const out = shapeOf(m.root.outputs[0]);
  if (out && (out.length !== 3 || (typeof out[2] === 'number' && out[2] !== width))) return `the output reshape gives [${out}], want [B,S,${width}]`;
  if (scalarConst(m.value('scale')) === undefined) return 'the score scale is not a scalar constant';
  if (m.has('mask')) {
    const raw = rawMask(m.value('mask'));
    if (typeof raw === 'string') return raw;
  }
  return undefined;
}

function concatColumns(parts: Tensor[], rows: number): Float32Array {
  const cols = parts.map((t) => t.dims[1] ?? t.dims[0]!);
  const width = cols.reduce((a, b) => a + b, 0);
  const out = new Float32Array(rows * width);
  let offset = 0;
  parts.forEach((t, k) => {
    const v = t.toFloat32();
    const c = cols[k]!;
    for (let r = 0; r < rows; r++) out.set(v.subarray(r * c, (r + 1) * c), r * width + offset);
    offset += c;
  });
  return out;
}

const attention: RewriteRule = {
  name: 'fuse-attention',
  doc: 'BERT self-attention (Q/K/V projections, scaled dot product, mask, softmax) → com.microsoft Attention',
  targets: ['cpu', 'wasm'], // both measured to run in onnxruntime-web's wasm build (1.30)
  mayEscape: SHAPE_READ,
  patterns: Kt.flatMap((k) => [attentionPattern(k, 'Div', true), attentionPattern(k, 'Mul', true), attentionPattern(k, 'Div', false), attentionPattern(k, 'Mul', false)]),
  check,
  replace(m, b) {
    const [hidden, width] = m.tensor('wq').dims as [number, number];
    const heads = headsOf(m.node('rq'), width)!;
    const w = b.init(`${m.root.name}_qkv_weight`, Tensor.float([hidden, 3 * width], concatColumns(['wq', 'wk', 'wv'].map((k) => m.tensor(k)), hidden)));
    const bias = b.init(`${m.root.name}_qkv_bias`, Tensor.float([3 * width], concatColumns(['bq', 'bk', 'bv'].map((k) => m.tensor(k)), 1)));
    const s = scalarConst(m.value('scale'))!;
    // head-pruned attention (width < hidden): Attention takes weights [hidden, 3·width] as they are
    const attrs: Record<string, ReturnType<typeof attr.float> | number> = { num_heads: heads, scale: attr.float(scaleOf(m, s)) };
    let maskIndex: Value | null = null;
    if (m.has('mask')) {
      const { raw, filter } = rawMask(m.value('mask')) as { raw: Value; filter: number };
      maskIndex = elemTypeOf(raw) === DataType.INT32 ? raw : b.op('Cast', [raw], { to: DataType.INT32 });
      attrs.mask_filter_value = attr.float(filter);
    }
    redirectShapeReads(m);
    return b.op('Attention', [m.value('x'), w, bias, maskIndex], attrs, 'com.microsoft');
  },
};

function redirectShapeReads(m: Match): void {
  const inside = new Set(m.nodes);
  for (const name of SHAPE_READ) {
    for (const u of [...m.node(name).outputs[0]!.uses]) if (!inside.has(u.node)) u.node.setInput(u.index, m.value('x'));
  }
}

/** Attention's `scale` multiplies Q·Kᵀ: 1/c for a Div by c, c for a Mul. */
function scaleOf(m: Match, c: number): number {
  const scaleNode = m.value('scale').uses.map((u) => u.node).find((n) => m.nodes.includes(n));
  return scaleNode?.opType === 'Div' ? 1 / c : c;
}

export const attentionRules: readonly RewriteRule[] = [attention];
export const fuseAttention = rulePass('fuse-attention', 'fuse BERT self-attention into com.microsoft Attention', attentionRules);

/** The raw self-attention patterns (rooted at the context's merge Reshape), for head pruning (src/prune/heads.ts). */
export const RAW_ATTENTION_PATTERNS: readonly OpPattern[] = attention.patterns as OpPattern[];
