// Cross-check of the zoo against PyTorch: the ONNX weights are loaded into torchvision's resnet18/50 and
// mobilenet_v2 (the state-dict names must match exactly) and into a plain-torch BERT, and ORT's outputs must
// equal torch's; onnx.checker accepts every model. Needs Debian python3-torch, python3-torchvision and python3-onnx; skipped without them.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { saveModel } from '../../src/ir/io.js';
import { Tensor } from '../../src/ir/tensor.js';
import { randomInputs } from '../../src/runtime/inputs.js';
import { Session } from '../../src/runtime/session.js';
import { buildZooModel } from '../../src/zoo/index.js';
import { requireAvailable } from './debian-data.js';

const PYTHON = '/usr/bin/python3';
const hasTorch = requireAvailable(spawnSync(PYTHON, ['-c', 'import torch, torchvision, onnx'], { stdio: 'ignore' }).status === 0, 'PyTorch with torchvision and onnx', 'apt-get install -y python3-torch python3-torchvision python3-onnx');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'inferopt-zoo-torch-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Token inputs with some padding (mask 0) and a second segment, written for the Python side as int64. */
function bertFeeds(feeds: Record<string, Tensor>, file: string): Record<string, Tensor> {
  const mask = feeds.attention_mask!.toNumbers();
  for (const j of [7, 8, 9, 19]) mask[j] = 0;
  const types = feeds.token_type_ids!.toNumbers();
  types[4] = types[5] = 1;
  const all = [...feeds.input_ids!.toNumbers(), ...mask, ...types];
  fs.writeFileSync(`${file}.ref.in`, new Uint8Array(BigInt64Array.from(all.map(BigInt)).buffer));
  return { ...feeds, attention_mask: Tensor.int64([2, 10], mask), token_type_ids: Tensor.int64([2, 10], types) };
}

const CHECK = `
import sys, onnx, onnx.checker, onnx.shape_inference
for f in sys.argv[1:]:
    m = onnx.load(f)
    onnx.checker.check_model(m, full_check=True)
    onnx.shape_inference.infer_shapes(m, strict_mode=True)
`;

describe.skipIf(!hasTorch)('zoo against PyTorch', () => {
  it('every model passes onnx.checker (full check, strict shape inference)', () => {
    const files = ['mlp', 'cnn-small', 'resnet18', 'mobilenetv2', 'bert-tiny'].flatMap((name) => {
      const forms = name === 'bert-tiny' ? [{}, { layerNorm: 'fused', reshape: 'constant' } as const] : [{}];
      return forms.map((opts, i) => {
        const file = path.join(dir, `check-${name}-${i}.onnx`);
        saveModel(buildZooModel(name, opts), file);
        return file;
      });
    });
    const r = spawnSync(PYTHON, ['-c', CHECK, ...files], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  for (const name of ['resnet18', 'mobilenetv2', 'resnet50', 'bert-tiny', 'bert-mini']) {
    it(`${name}: ORT output equals torch with the same weights`, async () => {
      const model = buildZooModel(name, { seed: 11 });
      const file = path.join(dir, `${name}.onnx`);
      saveModel(model, file);
      const bert = name.startsWith('bert');
      const dims: Record<string, number> = bert ? { batch: 2, seq: 10 } : { N: 2 };
      let feeds = randomInputs(model, { dims, seed: 3 }, 30522);
      if (bert) feeds = bertFeeds(feeds, file);
      else fs.writeFileSync(`${file}.ref.in`, feeds.input!.bytes);
      execFileSync(PYTHON, [path.join(import.meta.dirname, 'zoo_torch_ref.py'), name, file, `${file}.ref`], { stdio: 'ignore' });
      const ref = new Float32Array(new Uint8Array(fs.readFileSync(`${file}.ref`)).buffer);
      const session = await Session.create(file, { dims, optLevel: 'disabled' });
      const out = await session.run(feeds);
      await session.release();
      const got = bert ? Float32Array.from([...out.last_hidden_state!.toFloat32(), ...out.logits!.toFloat32()]) : out.logits!.toFloat32();
      expect(got.length).toBe(ref.length);
      let worst = 0;
      let scale = 0;
      for (let i = 0; i < ref.length; i++) {
        worst = Math.max(worst, Math.abs(ref[i]! - got[i]!));
        scale = Math.max(scale, Math.abs(ref[i]!));
      }
      expect(worst).toBeLessThan(1e-5 * Math.max(1, scale));
    });
  }
});
