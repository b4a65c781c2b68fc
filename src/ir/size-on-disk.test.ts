import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { modelSizeOnDisk } from './io.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'inferopt-size-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** An external_data { key: "location", value: name } entry as the protobuf encodes it. */
const entry = (name: string) => Buffer.concat([Buffer.from('\x0a\x08location\x12', 'latin1'), Buffer.from([name.length]), Buffer.from(name, 'latin1')]);

describe('modelSizeOnDisk', () => {
  it('adds each external data file once, wherever its entry sits (across the 16 MiB scan chunks)', () => {
    fs.writeFileSync(path.join(dir, 'a.bin'), Buffer.alloc(1000));
    fs.writeFileSync(path.join(dir, 'b.bin'), Buffer.alloc(300));
    fs.writeFileSync(path.join(dir, 'c.bin'), Buffer.alloc(7));
    const chunk = 16 << 20;
    const parts = [entry('c.bin'), Buffer.alloc(chunk - 5 - entry('c.bin').length), entry('a.bin'), Buffer.alloc(3 << 20), entry('b.bin'), entry('a.bin'), entry('missing.bin')];
    const file = path.join(dir, 'model.onnx');
    fs.writeFileSync(file, Buffer.concat(parts));
    const size = fs.statSync(file).size;
    expect(modelSizeOnDisk(file)).toBe(size + 1000 + 300 + 7);
    // an entry cut off by the end of the file counts nothing
    const cut = path.join(dir, 'cut.onnx');
    fs.writeFileSync(cut, entry('b.bin').subarray(0, 14));
    expect(modelSizeOnDisk(cut)).toBe(14);
  });
});
