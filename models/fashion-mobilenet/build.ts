/** Writes the untrained MobileNetV2-style CNN: `npx tsx models/fashion-mobilenet/build.ts <out.onnx> [seed]`. */
import { saveModel } from '../../src/ir/io.js';
import { buildFashionMobileNet } from './arch.js';

const [out, seed] = process.argv.slice(2);
if (!out) {
  process.stderr.write('usage: tsx models/fashion-mobilenet/build.ts <out.onnx> [seed]\n');
  process.exit(2);
}
saveModel(buildFashionMobileNet(Number(seed ?? 0)), out);
