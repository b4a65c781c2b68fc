import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DataType } from '../dtype.js';
import { GraphBuilder } from '../builder.js';
import { loadModel, modelToBytes, saveModel } from '../io.js';
import { buildZooModel } from '../../zoo/index.js';
import { decodeModel } from './decode.js';
import { readSkeleton, SELF_LOCATION } from './skeleton.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'inferopt-skeleton-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function readRange(fd: number, offset: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  expect(fs.readSync(fd, out, 0, length, offset)).toBe(length);
  return out;
}

describe('model skeleton (big files read one tensor at a time)', () => {
  it('decodes to the same model as the whole file, each large initializer in its own buffer', () => {
    const file = path.join(dir, 'bert-tiny.onnx');
    const bytes = modelToBytes(buildZooModel('bert-tiny', { seed: 0 }));
    fs.writeFileSync(file, bytes);
    const fd = fs.openSync(file, 'r');
    try {
      const skeleton = readSkeleton(fd, bytes.length, 1024)!;
      expect(skeleton.length).toBeLessThan(bytes.length / 50);
      const reads: number[] = [];
      const m = decodeModel(skeleton, {
        externalData: (ref) => {
          expect(ref.location).toBe(SELF_LOCATION);
          reads.push(ref.length!);
          return readRange(fd, ref.offset, ref.length!);
        },
      });
      expect(Buffer.compare(Buffer.from(modelToBytes(m)), Buffer.from(bytes))).toBe(0);
      expect(reads.length).toBeGreaterThanOrEqual(20);
      // a truncated file is no skeleton: the whole-file decoder then says what is wrong
      expect(readSkeleton(fd, bytes.length - 100, 1024)).toBeUndefined();
    } finally {
      fs.closeSync(fd);
    }
  });

  it('loadModel reads a file over 64 MiB this way: a weight owns its buffer, the model round-trips', () => {
    const b = new GraphBuilder();
    const x = b.input('x', DataType.FLOAT, [1, 4096]);
    const w = new Float32Array(4096 * 4200).map((_, i) => (i % 97) / 97);
    b.output(b.op('MatMul', [x, b.floats('w', [4096, 4200], w)]), 'y');
    const file = path.join(dir, 'big.onnx');
    saveModel(b.model({ opset: 17 }), file);
    expect(fs.statSync(file).size).toBeGreaterThan(64 << 20);
    const m = loadModel(file);
    const t = m.graph.initializers.get('w')!.initializer!;
    expect(t.bytes.buffer.byteLength).toBe(t.bytes.byteLength);
    expect(Buffer.compare(Buffer.from(modelToBytes(m)), fs.readFileSync(file))).toBe(0);
  });
});
