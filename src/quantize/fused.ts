import { DataType } from '../ir/dtype.js';
import { Node, type Graph, type Model, type Value } from '../ir/graph.js';
import { inferShapes, opsWith } from '../ops/index.js';
import { rankOf } from '../passes/util.js';
import { dropIfUnused, nodeSelected, replaceNode, type NodeFilter } from './select.js';
import { quantizeTensor } from './weights.js';

/**
 * What every quantization mode does to the two kinds of weights that are not a MatMul's right operand:
 *
 * - the merged QKV projection inside a fused com.microsoft Attention (BERT's 12 × 3·768² weights): the
 *   Attention is split back into its projection and the attention proper,
 *
 *     Attention(x, W, b, mask) → MatMul(x, W) ─ Split(3) ─ MultiHeadAttention(q, k, v, b, mask)
 *
 *   so the projection is a plain weight MatMul that each mode quantizes its own way (dynamic, static QDQ,
 *   4/8-bit MatMulNBits) while MultiHeadAttention keeps the fused softmax kernel;
 * - the tables a Gather reads (word, position and segment embeddings: bert-base's largest single weight,
 *   30,522 × 768): stored as int8 with one scale per column, and dequantized after the Gather, so only
 *   the gathered rows are ever expanded to float:
 *
 *     Gather(table, ids) → Gather(table_q, ids) ─ DequantizeLinear(scale[H], zero_point[H], axis −1)
 */

const MS = 'com.microsoft';

/** Why an Attention cannot be split (its inputs or attributes have no MultiHeadAttention equivalent), or undefined. */
export function attentionSplitRefusal(n: Node): string | undefined {
  const w = n.input(1)?.constTensor();
  if (!w || w.dtype !== DataType.FLOAT || w.rank !== 2 || w.dims[1]! % 3 !== 0) return 'Attention weight is not a constant 2-D float tensor of three equal parts';
  if (n.inputs.slice(4).some((v) => v)) return 'Attention with past, attention bias or past length inputs';
  const allowed = new Set(['num_heads', 'mask_filter_value', 'scale']);
  const extra = [...n.attrs.keys()].find((k) => !allowed.has(k) && !(k === 'unidirectional' && n.attrInt(k, 0) === 0));
  if (extra) return `Attention attribute '${extra}' has no MultiHeadAttention equivalent here`;
  const bias = n.input(2)?.constTensor();
  if (n.input(2) && (!bias || bias.dtype !== DataType.FLOAT)) return 'Attention bias is not a float constant';
  const mask = n.input(3);
  const rank = rankOf(mask);
  // Attention's [B] / [B,S] mask_index means what MultiHeadAttention's key_padding_mask means; [2B] does not
  if (mask && rank !== 2) return `Attention mask_index of rank ${rank ?? 'unknown'} (only a raw [batch, seq] mask is split)`;
  return undefined;
}

/**
 * Splits one com.microsoft Attention into MatMul → Split → MultiHeadAttention (see above). Names are
 * derived from the Attention's name, so calibrating a split copy and splitting the model give the same
 * tensor names. Returns the projection MatMul.
 */
export function splitAttention(g: Graph, n: Node): Node {
  const name = n.name || g.uniqueName('Attention');
  const x = n.input(0)!;
  const qkv = g.newValue(`${name}_qkv`);
  // the projection keeps the Attention's name: include/exclude lists and sensitivity rankings that name the
  // Attention then mean its quantized part
  const matmul = new Node('MatMul', [x, n.input(1)!], [qkv], { name });
  const parts = ['q', 'k', 'v'].map((p) => g.newValue(`${name}_${p}`));
  const split = new Node('Split', [qkv], parts, { name: `${name}_qkv_Split`, attrs: [{ name: 'axis', value: { type: 'int', value: 2 } }] });
  // Split with three equal parts needs no 'split' input at any opset
  const attrs = [...n.attrs.values()].filter((a) => a.name !== 'unidirectional');
  const mha = new Node('MultiHeadAttention', [...parts, n.input(2), n.input(3)], [n.outputs[0]!], { name: `${name}_MultiHeadAttention`, domain: MS, attrs });
  replaceNode(g, n, [matmul, split, mha]);
  return matmul;
}

/** Splits every selected com.microsoft Attention that can be split; returns the projections made. */
export function splitAttentions(model: Model, filter: NodeFilter, explain?: (node: Node, reason: string) => void): Node[] {
  const out: Node[] = [];
  const attentions = model.graph.nodes.filter((n) => n.opType === 'Attention' && n.domain === MS && nodeSelected(n, filter));
  // the mask's rank decides; a model loaded without value_info needs it inferred
  if (attentions.some((n) => n.input(3) && rankOf(n.input(3)) === undefined)) inferShapes(model);
  for (const n of attentions) {
    const why = attentionSplitRefusal(n);
    if (why) explain?.(n, why);
    else out.push(splitAttention(model.graph, n));
  }
  return out;
}

/** A Gather of a constant float table [rows, H] along axis 0 by run-time indices. */
export function isTableGather(n: Node): boolean {
  if (n.opType !== 'Gather' || (n.domain !== '' && n.domain !== 'ai.onnx')) return false;
  const t = n.input(0)?.constTensor();
  const ids = n.input(1);
  if (!t || t.dtype !== DataType.FLOAT || t.rank !== 2 || !ids || ids.constTensor()) return false;
  const axis = n.attrInt('axis', 0);
  return axis === 0 || axis === -2;
}

/**
 * Stores every selected Gather table as int8 (symmetric, one scale per column; per tensor below opset 13,
 * where DequantizeLinear has no axis). Tables read by other ops too are left alone. Returns how many.
 */
export function quantizeGatherTables(model: Model, filter: NodeFilter): number {
  const g = model.graph;
  if ((model.opset('') ?? 0) < 10) return 0; // no DequantizeLinear before opset 10
  const perColumn = (model.opset('') ?? 0) >= 13;
  let count = 0;
  const done = new Map<Value, { data: Value; scale: Value; zeroPoint: Value }>();
  for (const n of [...g.nodes]) {
    if (!isTableGather(n) || !nodeSelected(n, filter)) continue;
    const tv = n.input(0)!;
    if (tv.uses.some((u) => !isTableGather(u.node)) || g.isOutput(tv)) continue;
    let q = done.get(tv);
    if (!q) {
      const t = tv.constTensor()!;
      const qt = quantizeTensor(t, { qtype: 'int8', symmetric: true }, perColumn ? 1 : undefined);
      q = {
        data: g.addInitializer(qt.data, g.uniqueName(`${tv.name}_quantized`)),
        scale: g.addInitializer(qt.scale, g.uniqueName(`${tv.name}_scale`)),
        zeroPoint: g.addInitializer(qt.zeroPoint, g.uniqueName(`${tv.name}_zero_point`)),
      };
      done.set(tv, q);
    }
    const name = n.name || g.uniqueName('Gather');
    const rows = g.newValue(`${n.outputs[0]!.name}_quantized`);
    const gather = new Node('Gather', [q.data, n.input(1)!], [rows], { name, attrs: n.attrs.values() });
    const attrs = perColumn ? [{ name: 'axis', value: { type: 'int' as const, value: -1 } }] : [];
    const dq = new Node('DequantizeLinear', [rows, q.scale, q.zeroPoint], [n.outputs[0]!], { name: g.uniqueName(`${name}_DequantizeLinear`), attrs });
    replaceNode(g, n, [gather, dq]);
    dropIfUnused(g, tv);
    count++;
  }
  return count;
}

/**
 * com.microsoft EmbedLayerNormalization → QEmbedLayerNormalization: the embedding tables (BERT-base's
 * largest weights), gamma and beta stored as uint8 with a per-tensor scale and zero point, as ORT's own
 * quantizer does. Returns why it refused, or undefined.
 */
export function quantizeEmbedLayerNorm(g: Graph, n: Node): string | undefined {
  if (n.input(8) || (n.outputs[2] && (n.outputs[2].uses.length || g.isOutput(n.outputs[2])))) return 'EmbedLayerNormalization with position_ids or embedding_sum';
  const tables = [2, 3, 4, 5, 6].map((i) => n.input(i));
  const consts = tables.map((v) => v?.constTensor());
  if ([0, 1, 3, 4].some((k) => !consts[k] || consts[k]!.dtype !== DataType.FLOAT)) return 'embedding tables or LayerNorm parameters are not float constants';
  if (tables[2] && consts[2]?.dtype !== DataType.FLOAT) return 'segment embedding is not a float constant';
  const quant: (Value | null)[][] = [[], [], []]; // data, scale, zero point per table (in QEmbedLayerNormalization order)
  tables.forEach((v, k) => {
    if (!v) {
      for (const list of quant) list.push(null);
      return;
    }
    const q = quantizeTensor(consts[k]!, { qtype: 'uint8', symmetric: false });
    quant[0]!.push(g.addInitializer(q.data, g.uniqueName(`${v.name}_quantized`)));
    quant[1]!.push(g.addInitializer(q.scale, g.uniqueName(`${v.name}_scale`)));
    quant[2]!.push(g.addInitializer(q.zeroPoint, g.uniqueName(`${v.name}_zero_point`)));
  });
  const [data, scales, zeros] = quant as [(Value | null)[], (Value | null)[], (Value | null)[]];
  // inputs: ids, segment ids, word, position, segment, gamma, beta, mask, then the five scales, then the five zero points
  const inputs = [n.input(0), n.input(1), ...data, n.input(7), ...scales, ...zeros];
  const attrs = [...n.attrs.values()].filter((a) => a.name === 'epsilon');
  const q = new Node('QEmbedLayerNormalization', inputs, n.outputs.slice(0, 2), { name: n.name, domain: 'com.microsoft', attrs });
  replaceNode(g, n, [q]);
  for (const v of tables) dropIfUnused(g, v);
  return undefined;
}

/** Whether a model has Attention nodes a mode would split (so calibration must see the split form). */
export function hasSplittableAttention(model: Model, filter: NodeFilter): boolean {
  return model.graph.nodes.some((n) => n.opType === 'Attention' && n.domain === MS && nodeSelected(n, filter) && !attentionSplitRefusal(n));
}

/** Op types, besides MatMul/Gemm, whose weights every mode quantizes through this module (registry trait `quant.tables`). */
export const TABLE_OPS: readonly string[] = opsWith((t) => t.quant?.tables === true);

/** Op types dynamic and weight-only quantization rewrite around an integer weight (registry trait `quant.weights`). */
export const WEIGHT_OPS: readonly string[] = opsWith((t) => t.quant?.weights === true);

/**
 * The tables of every mode: EmbedLayerNormalization → QEmbedLayerNormalization (com.microsoft: target cpu)
 * and int8 Gather tables, as `opTypes` and the filter allow. Returns how many nodes were rewritten.
 */
export function quantizeTables(model: Model, cfg: NodeFilter & { opTypes: readonly string[] }, ctx: { target: string }, explain?: (n: Node, reason: string) => void): number {
  let count = 0;
  if (cfg.opTypes.includes('EmbedLayerNormalization')) {
    for (const n of [...model.graph.nodes]) {
      if (n.opType !== 'EmbedLayerNormalization' || n.domain !== MS || !nodeSelected(n, cfg)) continue;
      const why = ctx.target === 'cpu' ? quantizeEmbedLayerNorm(model.graph, n) : 'QEmbedLayerNormalization is a com.microsoft op: needs --target cpu';
      if (why) explain?.(n, why);
      else count++;
    }
    if (count) model.requireOpset(MS, 1);
  }
  if (cfg.opTypes.includes('Gather')) count += quantizeGatherTables(model, cfg);
  return count;
}
