/**
 * Writes the untrained spam BERT teacher: `npx tsx models/spam-bert/build.ts <out.onnx> [seed] [vocab]`.
 * The kept word pieces are the `vocab` (default 6000) most frequent in the training split (train.json).
 */
import { openDataset } from '../../src/data/dataset.js';
import { saveModel } from '../../src/ir/io.js';
import { buildSpamBert, UNK_ID } from './arch.js';

const [out, seed, vocab] = process.argv.slice(2);
if (!out) {
  process.stderr.write('usage: tsx models/spam-bert/build.ts <out.onnx> [seed] [vocab]\n');
  process.exit(2);
}
const counts = new Map<number, number>();
let total = 0;
for await (const s of await openDataset(new URL('./train.json', import.meta.url).pathname)) {
  for (const id of s.inputs.input_ids!.toNumbers()) {
    counts.set(id, (counts.get(id) ?? 0) + 1);
    total++;
  }
}
const ranked = [...counts].sort((a, b) => b[1] - a[1] || a[0] - b[0]).map(([id]) => id);
const kept = ranked.slice(0, Number(vocab ?? 6000));
if (!kept.includes(UNK_ID)) kept.push(UNK_ID);
kept.sort((a, b) => a - b);
const covered = kept.reduce((n, id) => n + (counts.get(id) ?? 0), 0);
process.stderr.write(`${counts.size} distinct word pieces in the training split; ${kept.length} kept cover ${((100 * covered) / total).toFixed(2)}% of ${total} tokens\n`);
saveModel(buildSpamBert(Number(seed ?? 0), kept), out);
