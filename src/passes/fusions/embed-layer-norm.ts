import { attr } from '../../ir/builder.js';
import { DataType } from '../../ir/dtype.js';
import type { Value } from '../../ir/graph.js';
import { rulePass } from '../../rewrite/apply.js';
import { matchPattern, type Match } from '../../rewrite/match.js';
import { P, type OpPattern, type Pattern } from '../../rewrite/pattern.js';
import type { RewriteBuilder, RewriteRule } from '../../rewrite/rule.js';
import { elemTypeOf, intConst, rankOf } from '../util.js';

/**
 * com.microsoft EmbedLayerNormalization from BERT's embedding block:
 *
 *   input_ids ──── Gather(word) ─┐
 *   token_type_ids Gather(type) ─ Add ─┐
 *   position_ids ─ Gather(pos) ─────── Add ─ LayerNormalization → out
 *
 * Variants: the three Adds in either nesting (word+type then +pos, or word+pos then +type); position ids as
 * the exporter's `position_ids` buffer [1, max] sliced to the sequence length (= the default 0..S−1) or as
 * a graph input (passed through as EmbedLayerNormalization's position_ids).
 * Ids are cast to int32 (the contrib op's index type). Output 1 (mask_index) is left unused: Attention
 * takes the raw mask itself, which also covers masks that are not right-padded.
 */

const gather = (table: string, ids: string) => P.op('Gather', [P.c(table), P.v(ids)], { as: `g_${table}`, where: (n) => (n.attrInt('axis', 0) === 0 ? true : 'Gather axis is not 0') });
const ln = (sum: Pattern): OpPattern => P.op('LayerNormalization', [sum, P.c('gamma'), P.c('beta')]);

const PATTERNS: OpPattern[] = [
  ln(P.op('Add', [P.op('Add', [gather('word', 'ids'), gather('type', 'types')]), gather('pos', 'positions')])),
  ln(P.op('Add', [P.op('Add', [gather('word', 'ids'), gather('pos', 'positions')]), gather('type', 'types')])),
];

/** `x.size(1)` as exported: Unsqueeze(Gather(Shape(ids), 1)) (axes of the Unsqueeze not checked: 1-D result). */
const SEQ_LEN = P.op('Unsqueeze', [P.op('Gather', [P.op('Shape', [P.v('ids')]), P.scalar(1)])]);

/** How the positions are given: the default 0..S−1 (a sliced arange buffer), or a graph input. */
function positionSource(m: Match): { kind: 'default' } | { kind: 'input'; ids: Value } | string {
  const positions = m.value('positions');
  const slice = positions.producer;
  if (!slice) return elemTypeOf(positions) !== undefined && rankOf(positions) === 2 ? { kind: 'input', ids: positions } : 'position ids are unknown';
  if (slice.opType !== 'Slice') return `position ids come from ${slice.opType}, not a Slice of the position buffer`;
  const buffer = slice.input(0)?.constTensor();
  if (!buffer || buffer.rank !== 2 || buffer.dims[0] !== 1) return 'position ids are not a Slice of a [1, max] constant';
  if (!buffer.toNumbers().every((v, i) => v === i)) return 'the position buffer is not 0, 1, 2, …';
  const starts = intConst(slice.input(1));
  const axes = slice.input(3) ? intConst(slice.input(3)) : [0];
  const steps = slice.input(4) ? intConst(slice.input(4)) : [1];
  if (starts?.join() !== '0' || !(axes?.join() === '1' || axes?.join() === '-1') || steps?.join() !== '1') return 'the position Slice is not [:, 0:S]';
  const ends = slice.input(2)?.producer;
  const seq = ends && matchPattern(SEQ_LEN, ends);
  if (!seq || seq.value('ids') !== m.value('ids')) return "the position Slice does not end at input_ids' sequence length";
  return { kind: 'default' };
}

function check(m: Match): string | undefined {
  const axis = m.root.attrInt('axis', -1);
  if (axis !== -1 && axis !== 2) return `LayerNormalization axis ${axis}, want the last`;
  const hidden = m.tensor('word').dims[1];
  for (const k of ['word', 'pos', 'type']) {
    const t = m.tensor(k);
    if (t.dtype !== DataType.FLOAT || t.rank !== 2 || t.dims[1] !== hidden) return `${k} table is not float32 [*, ${hidden}]`;
  }
  if (rankOf(m.value('ids')) !== 2 || rankOf(m.value('types')) !== 2) return 'ids are not known to be 2-D [batch, seq]';
  const src = positionSource(m);
  return typeof src === 'string' ? src : undefined;
}

const int32 = (b: RewriteBuilder, v: Value) => (elemTypeOf(v) === DataType.INT32 ? v : b.op('Cast', [v], { to: DataType.INT32 }));

const embedLayerNorm: RewriteRule = {
  name: 'fuse-embed-layer-norm',
  doc: 'word + token-type + position Gathers, Adds and LayerNormalization → com.microsoft EmbedLayerNormalization',
  targets: ['cpu', 'wasm'], // both measured to run in onnxruntime-web's wasm build (1.30)
  patterns: PATTERNS,
  check,
  replace(m, b) {
    const src = positionSource(m) as { kind: 'default' } | { kind: 'input'; ids: Value };
    const inputs: (Value | null)[] = [int32(b, m.value('ids')), int32(b, m.value('types')), m.value('word'), m.value('pos'), m.value('type'), m.value('gamma'), m.value('beta')];
    if (src.kind === 'input') inputs.push(null, int32(b, src.ids)); // mask (none), position_ids
    const [out] = b.opN('EmbedLayerNormalization', inputs, { epsilon: attr.float(m.root.attrFloat('epsilon', 1e-5)) }, 2, 'com.microsoft');
    return out!;
  },
};

export const embedLayerNormRules: readonly RewriteRule[] = [embedLayerNorm];
export const fuseEmbedLayerNorm = rulePass('fuse-embed-layer-norm', 'fuse BERT embeddings + LayerNorm into EmbedLayerNormalization', embedLayerNormRules);
