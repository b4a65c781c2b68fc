/** Writes the untrained Fashion-MNIST ResNet: `npx tsx models/fashion-mnist/build.ts <out.onnx> [seed]`. */
import { saveModel } from '../../src/ir/io.js';
import { buildFashionResNet } from './arch.js';

const [out, seed] = process.argv.slice(2);
if (!out) {
  process.stderr.write('usage: tsx models/fashion-mnist/build.ts <out.onnx> [seed]\n');
  process.exit(2);
}
saveModel(buildFashionResNet(Number(seed ?? 0)), out);
