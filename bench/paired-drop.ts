/**
 * Two classifiers on the same labelled samples, the top-1 drop with a paired bootstrap 95% interval (the same
 * samples resampled for both; the per-model intervals `optimize` and `eval` print are wider and do not say
 * whether the difference is real). The samples are the evaluation part of `--data` as `optimize` scores it
 * (hashed split, 20% calibration, seed 0), or all of them with `--all`.
 *
 *   cpu-run npx tsx bench/paired-drop.ts models/spam-bert/model.onnx tmp/sb8/model.optimized.onnx --data models/spam-bert/test.json
 */
import { openDataset, split } from '../src/data/dataset.js';
import { evaluate } from '../src/eval/evaluate.js';
import { accuracyEstimate, dropEstimate } from '../src/prune/evaluate.js';

const args = process.argv.slice(2);
const flag = (name: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const [a, b] = args.filter((x, i) => !x.startsWith('--') && !args[i - 1]?.startsWith('--data'));
const spec = flag('data');
if (!a || !b || !spec) {
  process.stderr.write('usage: npx tsx bench/paired-drop.ts <a.onnx> <b.onnx> --data <spec> [--all]\n');
  process.exit(2);
}
const ds = await openDataset(spec);
const data = args.includes('--all') ? ds : split(ds, { calibrationFraction: 0.2, seed: 0 }).evaluation;
const hitsOf = async (file: string) => {
  const r = await evaluate(file, data, { batch: 8, records: true });
  if (r.task !== 'classification') throw new Error(`${file}: a classification task is needed, not ${r.task}`);
  return { ids: r.records!.samples.map((s) => s.id), hits: Uint8Array.from(r.records!.samples, (s) => {
      const [label, predicted] = s.s as [number, number];
      return predicted === label ? 1 : 0;
    }) };
};
const [ra, rb] = [await hitsOf(a), await hitsOf(b)];
if (ra.ids.join('\n') !== rb.ids.join('\n')) throw new Error('the two runs scored different samples');
const pct = (e: { value: number; low: number; high: number }) => `${e.value.toFixed(2)}% [${e.low.toFixed(2)}–${e.high.toFixed(2)}]`;
const d = dropEstimate(ra.hits, rb.hits);
const changed = ra.hits.reduce((n, h, i) => n + (h !== rb.hits[i] ? 1 : 0), 0);
process.stdout.write(`${ra.hits.length} samples${args.includes('--all') ? '' : ' (the evaluation part optimize scores)'}: top-1 A ${pct(accuracyEstimate(ra.hits))}, B ${pct(accuracyEstimate(rb.hits))}; drop A − B ${d.value.toFixed(2)} points, paired bootstrap 95% [${d.low.toFixed(2)}, ${d.high.toFixed(2)}]; ${changed} samples scored differently\n`);
