import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addModel } from '../../test/unit/model-bytes.js';
import { InputError } from '../errors.js';
import { loadModel, saveModel } from '../ir/io.js';
import { checkOutputFile, markInput, withInputRoots, writeFileSafe } from './files.js';
import { openDataset } from '../data/dataset.js';
import { OutputDir } from './output-dir.js';

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'inferopt-files-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const refused = (f: () => unknown, re: RegExp) => {
  expect(f).toThrow(InputError);
  expect(f).toThrow(re);
};

describe('output files', () => {
  it('refuses devices, FIFOs, folders, empty names, /proc and paths under a file', () => {
    const fifo = path.join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    refused(() => checkOutputFile(fifo), /FIFO.*regular files only/);
    refused(() => checkOutputFile('/dev/null'), /under \/dev/);
    refused(() => checkOutputFile(dir), /is a folder/);
    refused(() => checkOutputFile(''), /give a file name/);
    refused(() => checkOutputFile('-'), /standard output/);
    refused(() => checkOutputFile('/proc/self/x.onnx'), /under \/proc/);
    fs.writeFileSync(path.join(dir, 'plain'), 'x');
    refused(() => checkOutputFile(path.join(dir, 'plain', 'm.onnx')), /is a file, not a folder|part of the path is a file/);
    expect(checkOutputFile(path.join(dir, 'new', 'deeper', 'm.onnx')).file).toBe(path.join(dir, 'new', 'deeper', 'm.onnx'));
  });

  it('refuses a device node made with mknod (when allowed to make one)', () => {
    const dev = path.join(dir, 'null-dev');
    try {
      execFileSync('mknod', [dev, 'c', '1', '3'], { stdio: 'ignore' });
    } catch {
      return; // not root: no device to test with
    }
    refused(() => saveModel(loadModel(addModel(4, Float32Array.of(1, 2, 3, 4))), dev), /is a device; inferopt writes regular files only/);
    expect(fs.statSync(dev).isCharacterDevice()).toBe(true);
  });

  it('never writes over a model it loaded, through a symlink, a hard link, or its external data', () => {
    const m = path.join(dir, 'in.onnx');
    fs.writeFileSync(path.join(dir, 'w.bin'), Buffer.from(Float32Array.of(1, 2, 3, 4).buffer));
    fs.writeFileSync(m, addModel(4, { location: 'w.bin', offset: 0, length: 16 }));
    fs.symlinkSync(m, path.join(dir, 'link.onnx'));
    fs.linkSync(m, path.join(dir, 'hard.onnx'));
    const before = fs.readFileSync(m);
    const model = loadModel(m);
    for (const target of [m, path.join(dir, 'link.onnx'), path.join(dir, 'hard.onnx'), path.join(dir, 'w.bin')]) {
      refused(() => saveModel(model, target), /is an input of this run/);
    }
    expect(fs.readFileSync(m)).toEqual(before);
    expect(fs.readFileSync(path.join(dir, 'w.bin')).length).toBe(16);
  });

  it('writes with ordinary permissions, keeps the mode of a replaced file, and leaves no temp files', () => {
    const old = process.umask(0o022);
    try {
      const f = path.join(dir, 'perm', 'a.txt');
      writeFileSafe(f, ['one']);
      expect(fs.statSync(f).mode & 0o777).toBe(0o644);
      expect(fs.statSync(path.dirname(f)).mode & 0o777).toBe(0o755);
      fs.chmodSync(f, 0o600);
      writeFileSafe(f, ['two']);
      expect(fs.readFileSync(f, 'utf8')).toBe('two');
      expect(fs.statSync(f).mode & 0o777).toBe(0o600);
      expect(fs.readdirSync(path.dirname(f))).toEqual(['a.txt']);
    } finally {
      process.umask(old);
    }
  });

  it('maps a read-only folder to one line', () => {
    const ro = path.join(dir, 'ro');
    fs.mkdirSync(ro, { mode: 0o555 });
    if (process.getuid?.() === 0) {
      // root writes anywhere; a read-only mount is the case to test, and /proc/sys is one
      refused(() => checkOutputFile('/proc/sys/x.onnx'), /under \/proc/);
      return;
    }
    refused(() => checkOutputFile(path.join(ro, 'x.onnx')), /cannot write in/);
  });
});

describe('output folders', () => {
  it('replaces only files it recorded, never inputs or user files', () => {
    const out = path.join(dir, 'out');
    const a = new OutputDir(out, { names: ['r.txt'] });
    a.write('r.txt', 'first');
    a.commit();
    fs.writeFileSync(path.join(out, 'NOTES.md'), 'mine');
    const b = new OutputDir(out, { names: ['r.txt'] });
    b.write('r.txt', 'second');
    b.commit();
    expect(fs.readFileSync(path.join(out, 'r.txt'), 'utf8')).toBe('second');
    expect(fs.readFileSync(path.join(out, 'NOTES.md'), 'utf8')).toBe('mine');
    refused(() => new OutputDir(out, { names: ['NOTES.md'] }), /NOTES\.md was not written by inferopt/);
    fs.writeFileSync(path.join(out, 'r.txt'), 'edited by hand');
    refused(() => new OutputDir(out, { names: ['r.txt'] }), /r\.txt changed since inferopt wrote it/);
    expect(fs.readdirSync(out).sort()).toEqual(['.inferopt-manifest.json', 'NOTES.md', 'r.txt']);
    expect(fs.statSync(out).mode & 0o077).not.toBe(0); // not a private 0700 folder
  });

  it('an output folder writes files in one subfolder (onnx/…), and refuses a subfolder that is a link or a file', () => {
    const out = path.join(dir, 'out-sub');
    const a = new OutputDir(out, { names: ['onnx/model.onnx', 'r.txt'] });
    a.write('onnx/model.onnx', new Uint8Array([1, 2, 3]));
    a.write('r.txt', 'x');
    a.commit();
    expect([...fs.readFileSync(path.join(out, 'onnx/model.onnx'))]).toEqual([1, 2, 3]);
    const manifest = JSON.parse(fs.readFileSync(path.join(out, '.inferopt-manifest.json'), 'utf8')) as { files: Record<string, unknown> };
    expect(Object.keys(manifest.files).sort()).toEqual(['onnx/model.onnx', 'r.txt']);
    // written again over its own files: fine; an edited one is refused
    const b = new OutputDir(out, { names: ['onnx/model.onnx'] });
    b.write('onnx/model.onnx', new Uint8Array([4]));
    b.commit();
    expect([...fs.readFileSync(path.join(out, 'onnx/model.onnx'))]).toEqual([4]);
    fs.writeFileSync(path.join(out, 'onnx/model.onnx'), 'edited');
    refused(() => new OutputDir(out, { names: ['onnx/model.onnx'] }), /onnx\/model\.onnx changed since inferopt wrote it/);
    // a link where the subfolder would be: nothing is written through it
    const elsewhere = path.join(dir, 'elsewhere');
    fs.mkdirSync(elsewhere);
    const out2 = path.join(dir, 'out-link');
    fs.mkdirSync(out2);
    fs.symlinkSync(elsewhere, path.join(out2, 'onnx'));
    refused(() => new OutputDir(out2, { names: ['onnx/model.onnx'] }), /onnx is not a folder/);
    expect(fs.readdirSync(elsewhere)).toEqual([]);
  });
});

describe('inputs confined to folders (a worker\'s --data-root)', () => {
  it('refuses files outside the roots, through links and dataset specs, before reading them; nothing outside the scope is affected', async () => {
    const root = path.join(dir, 'root');
    const outside = path.join(dir, 'outside');
    fs.mkdirSync(root);
    fs.mkdirSync(outside);
    fs.writeFileSync(path.join(root, 'a.bin'), 'a');
    fs.writeFileSync(path.join(outside, 'b.bin'), 'b');
    fs.symlinkSync(path.join(outside, 'b.bin'), path.join(root, 'link.bin'));
    fs.mkdirSync(path.join(root, 'spec'));
    // a spec inside the root that names a data file outside it (by ../ and by an absolute path)
    fs.writeFileSync(path.join(root, 'spec', 'dataset.json'), JSON.stringify({ source: { type: 'idx', path: '../../outside/b.bin' } }));
    fs.mkdirSync(path.join(root, 'abs'));
    fs.writeFileSync(path.join(root, 'abs', 'dataset.json'), JSON.stringify({ source: { type: 'idx', path: path.join(outside, 'b.bin') } }));
    const why = 'the test root';
    await withInputRoots([root], why, async () => {
      markInput(path.join(root, 'a.bin'));
      await Promise.resolve(); // the scope holds across awaits
      expect(() => markInput(path.join(outside, 'b.bin'))).toThrow(/refused to read .*b\.bin.*lies outside the test root/);
      expect(() => markInput(path.join(root, 'link.bin'))).toThrow(InputError);
      expect(() => markInput(path.join(root, '..', 'outside', 'b.bin'))).toThrow(InputError);
      await expect(openDataset(path.join(root, 'spec'))).rejects.toThrow(/refused to read .*lies outside the test root/);
      await expect(openDataset(path.join(root, 'abs'))).rejects.toThrow(/refused to read .*lies outside the test root/);
    });
    // a second root is allowed too; and outside the scope any file may be read
    await withInputRoots([root, outside], why, async () => markInput(path.join(outside, 'b.bin')));
    markInput(path.join(outside, 'b.bin'));
  });
});
