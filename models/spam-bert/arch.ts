/**
 * A BERT-style teacher for SpamAssassin: the spam transformer's architecture (../spam-transformer/arch.ts)
 * at 4 post-LN layers, hidden 256, 4 heads, feed-forward 512. To keep the committed file under 16 MB the
 * embedding table holds only the `vocab` word pieces most frequent in the training split: the model still
 * takes BERT-uncased ids, and a Gather through a fixed id → row table (every other id → [UNK]'s row) comes
 * first. Inputs `input_ids`, `attention_mask` int64 [N, 128], output `logits` [N, 2] (ham 0, spam 1).
 */
import { DataType } from '../../src/ir/dtype.js';
import { Node, type Model } from '../../src/ir/graph.js';
import { Tensor } from '../../src/ir/tensor.js';
import { buildSpamTransformer, type SpamTransformerConfig } from '../spam-transformer/arch.js';

export const BERT_CONFIG: SpamTransformerConfig = { vocab: 30522, seq: 128, dim: 256, heads: 4, ffn: 512, layers: 4, dropout: 0.1 };
export const UNK_ID = 100;

/** `kept`: the BERT ids that get their own embedding row, in row order (must include [UNK]). */
export function buildSpamBert(seed: number, kept: readonly number[], cfg: SpamTransformerConfig = BERT_CONFIG): Model {
  const model = buildSpamTransformer(seed, { ...cfg, vocab: kept.length });
  const g = model.graph;
  const row = new Int32Array(cfg.vocab).fill(kept.indexOf(UNK_ID));
  if (row[0]! < 0) throw new Error('the kept ids must include [UNK]');
  kept.forEach((id, i) => (row[id] = i));
  const ids = g.inputs.find((v) => v.name === 'input_ids')!;
  const gather = ids.uses.find((u) => u.node.opType === 'Gather')!.node;
  const table = g.addInitializer(Tensor.fromArray(DataType.INT64, [cfg.vocab], Array.from(row)), 'embed.id_to_row');
  const rows = g.newValue('embed.rows');
  const remap = new Node('Gather', [table, ids], [rows], { name: 'embed.id_to_row' });
  g.addNode(remap, gather);
  gather.setInput(1, rows);
  g.topologicalSort();
  return model;
}
