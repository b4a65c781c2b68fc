// Bundled by esbuild in browser.test.ts and run in Chromium: the library as a web page would use it.
import { buildZooModel, loadModel, modelFromBytes, modelToBytes, quantizeModel, randomInputs, Session, simplifyModel, verifyModels, type Model } from 'inferopt';

const w = globalThis as unknown as { inferoptResult?: unknown; inferoptDone?: boolean };

async function main(): Promise<void> {
  const model = buildZooModel('cnn-small', { seed: 3 });
  const feeds = randomInputs(model, { seed: 1 });
  const simple = (await simplifyModel(model)).model; // constant folding runs on onnxruntime-web here
  const int8 = (await quantizeModel(simple, { mode: 'dynamic' })).model;
  const verify = await verifyModels(model, simple);
  const run = async (m: Model): Promise<number[]> => {
    const s = await Session.create(modelFromBytes(modelToBytes(m)));
    try {
      return Array.from((await s.run(feeds))['logits']!.toFloat32());
    } finally {
      await s.release();
    }
  };
  let loadModelError = '';
  try {
    loadModel('model.onnx');
  } catch (e) {
    loadModelError = (e as Error).message;
  }
  w.inferoptResult = {
    isolated: crossOriginIsolated,
    nodesBefore: model.graph.nodes.length,
    nodesAfter: simple.graph.nodes.length,
    quantizedOps: [...new Set(int8.graph.nodes.map((n) => n.opType))],
    verifyOk: verify.ok,
    verifyFailures: verify.failures,
    simpleBytes: Array.from(modelToBytes(simple)),
    logits: await run(model),
    int8Logits: await run(int8),
    loadModelError,
  };
}

// onnxruntime-web's threads run this same bundle as their worker script: the page's work runs in the page only
if (typeof document !== 'undefined')
  main()
  .catch((e: unknown) => {
    w.inferoptResult = { error: String((e as Error)?.stack ?? e) };
  })
  .finally(() => {
    w.inferoptDone = true;
  });
