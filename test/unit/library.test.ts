import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import * as api from '../../src/index.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'inferopt-library-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('the public API', () => {
  it('names what users build on and keeps internals out', () => {
    const names = Object.keys(api);
    for (const internal of ['rng', 'gaussian', 'quantileSorted', 'medianInPlace', 'decodeModel', 'encodeModel', 'ortModule', 'toOrt', 'fromOrt', 'writeAtomic']) {
      expect(names, internal).not.toContain(internal);
    }
    for (const name of ['loadModel', 'saveModel', 'modelFromBytes', 'cloneModel', 'simplifyModel', 'quantizeModel', 'verifyModels', 'compare', 'benchmark', 'Session', 'optimize', 'evaluate', 'train', 'buildZooModel']) {
      expect(typeof (api as Record<string, unknown>)[name], name).toBe('function');
    }
  });
});

describe('functions leave their input model alone', () => {
  const bytesOf = (m: api.Model) => Buffer.from(api.modelToBytes(m));

  it('simplifyModel works without a context and returns a new model', async () => {
    const model = api.buildZooModel('cnn-small');
    const before = bytesOf(model);
    const r = await api.simplifyModel(model);
    expect(r.model).not.toBe(model);
    expect(r.modified).toBe(true);
    expect(r.model.graph.nodes.length).toBeLessThan(model.graph.nodes.length); // BN folded into Conv
    expect(bytesOf(model).equals(before)).toBe(true);
    const inPlace = await api.simplifyModel(model, undefined, { inPlace: true });
    expect(inPlace.model).toBe(model);
    expect(bytesOf(model).equals(bytesOf(r.model))).toBe(true);
  });

  it('quantizeModel quantizes a copy unless inPlace', async () => {
    const model = api.buildZooModel('mlp');
    const before = bytesOf(model);
    const r = await api.quantizeModel(model, { mode: 'dynamic' });
    expect(r.model).not.toBe(model);
    expect(r.model.graph.nodes.some((n) => n.opType === 'DynamicQuantizeMatMul' || n.opType === 'MatMulInteger')).toBe(true);
    expect(bytesOf(model).equals(before)).toBe(true);
    const copy = api.cloneModel(model);
    expect(copy).not.toBe(model);
    expect(bytesOf(copy).equals(before)).toBe(true);
  });
});

describe("the README's Library example", () => {
  it('runs as written', async () => {
    const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## Library'));
    const code = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
    expect(code).toBeDefined();
    expect(code).toContain("from 'inferopt'");
    const dir = fs.mkdtempSync(path.join(tmp, 'example-'));
    api.saveModel(api.buildZooModel('bert-tiny'), path.join(dir, 'model.onnx'));
    const entry = path.join(ROOT, 'src/index.ts');
    fs.writeFileSync(path.join(dir, 'example.mts'), code!.replace("from 'inferopt'", `from ${JSON.stringify(entry)}`));
    const { stdout } = await promisify(execFile)(path.join(ROOT, 'node_modules/.bin/tsx'), ['example.mts'], { cwd: dir });
    expect(stdout).toMatch(/logits: cosine 0\.9\d+, top-1 agreement 1/);
    expect(stdout).toMatch(/int8 runs in \d+\.\d\d× the time \[\d+\.\d\d–\d+\.\d\d\]/); // ratios pass 10× on a busy machine
    const saved = api.loadModel(path.join(dir, 'model.int8.onnx'));
    expect(saved.graph.nodes.some((n) => n.opType === 'DynamicQuantizeMatMul' || n.opType === 'QAttention')).toBe(true);
  });
});
