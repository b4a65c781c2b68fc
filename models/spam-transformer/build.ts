/** Writes the untrained spam transformer: `npx tsx models/spam-transformer/build.ts <out.onnx> [seed]`. */
import { saveModel } from '../../src/ir/io.js';
import { buildSpamTransformer } from './arch.js';

const [out, seed] = process.argv.slice(2);
if (!out) {
  process.stderr.write('usage: tsx models/spam-transformer/build.ts <out.onnx> [seed]\n');
  process.exit(2);
}
saveModel(buildSpamTransformer(Number(seed ?? 0)), out);
