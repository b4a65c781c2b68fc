/**
 * Fuzz classes for files and resources (issue 11): output paths (devices made with mknod, FIFOs, folders,
 * links to inputs, /proc…), external-data tricks (FIFO, device, oversize and overflowing ranges, a > 2 GiB
 * sparse file), hostile shapes, run counts and nesting. Every model is generated here (test/unit/model-bytes),
 * none is committed. Each case checks: no crash (exit 0 or 2, one stderr line, never "internal error"), no
 * hang, nothing invalid written (a file at the target loads and runs in ORT), no input changed (hashes of every
 * input file before/after), no staging folder left behind. The totals are printed and must all be 0.
 */
import { execFileSync, spawn } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.js';
import sharp from 'sharp';
import { GraphBuilder } from '../../src/ir/builder.js';
import { DataType } from '../../src/ir/dtype.js';
import { loadModel, modelToBytes, saveModel } from '../../src/ir/io.js';
import { openDataset } from '../../src/data/dataset.js';
import { parseRecipeFile } from '../../src/search/recipe.js';
import { Session } from '../../src/runtime/session.js';
import { addModel, nestedIfModel } from './model-bytes.js';
import { runCli } from './run-cli.js';

const counts = { cases: 0, crashes: 0, hangs: 0, invalidOutputsWritten: 0, inputsChanged: 0, leftovers: 0 };
const failures: string[] = [];
let dir: string;
const isRoot = process.getuid?.() === 0;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'inferopt-fuzz-files-'));
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
  process.stdout.write(
    `fuzz-files: ${counts.cases} cases — crashes ${counts.crashes}, hangs ${counts.hangs}, invalid outputs written ${counts.invalidOutputsWritten}, inputs changed ${counts.inputsChanged}, temp files left ${counts.leftovers}\n`,
  );
});

const W = Float32Array.of(1, 2, 3, 4);

/** What is at a path: kind and, for a regular file, its hash (links not followed). */
function snapshot(p: string): string {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(p);
  } catch {
    return 'missing';
  }
  if (st.isSymbolicLink()) return `link:${fs.readlinkSync(p)}`;
  if (!st.isFile()) return `kind:${st.mode & 0o170000}:${st.rdev}`;
  return `file:${crypto.createHash('sha256').update(fs.readFileSync(p)).digest('hex')}`;
}

function leftovers(folder: string): string[] {
  try {
    return fs.readdirSync(folder).filter((n) => /\.inferopt-\d+-/.test(n) || n.endsWith('.tmp'));
  } catch {
    return [];
  }
}

async function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | 'hang'> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<'hang'>((r) => (timer = setTimeout(() => r('hang'), ms)));
  try {
    return await Promise.race([p, t]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Runs the CLI and scores it. `inputs`: files that must not change; `target`: the output path, which must
 * hold a model ORT loads and runs if the command succeeded, or be as it was if it failed.
 */
async function score(name: string, args: string[], o: { inputs: string[]; target?: string; expect?: 0 | 2; stderr?: RegExp }): Promise<number | 'hang'> {
  counts.cases++;
  const before = o.inputs.map(snapshot);
  const targetBefore = o.target !== undefined ? snapshot(o.target) : undefined;
  process.exitCode = undefined;
  const r = await withTimeout(runCli(...args), 20_000);
  process.exitCode = undefined;
  if (r === 'hang') {
    counts.hangs++;
    failures.push(`hang: ${name}`);
    return 'hang';
  }
  const lines = r.stderr.trim().split('\n').filter(Boolean);
  if ((r.code !== 0 && r.code !== 2) || /internal error/.test(r.stderr) || (r.code === 2 && lines.length !== 1)) {
    counts.crashes++;
    failures.push(`crash: ${name}: exit ${r.code} ${r.stderr.slice(0, 200)}`);
  }
  if (o.expect !== undefined && r.code !== o.expect) failures.push(`${name}: expected exit ${o.expect}, got ${r.code}: ${r.stderr.slice(0, 200)}`);
  if (o.stderr && !o.stderr.test(r.stderr)) failures.push(`${name}: stderr does not match ${o.stderr}: ${r.stderr.slice(0, 200)}`);
  const after = o.inputs.map(snapshot);
  o.inputs.forEach((f, i) => {
    if (after[i] !== before[i]) {
      counts.inputsChanged++;
      failures.push(`input changed: ${name}: ${f}`);
    }
  });
  if (o.target !== undefined) {
    const now = snapshot(o.target);
    if (r.code !== 0 && now !== targetBefore) {
      counts.invalidOutputsWritten++;
      failures.push(`${name}: failed (exit ${r.code}) but changed ${o.target}`);
    }
    if (r.code === 0) {
      try {
        const s = await Session.create(o.target, { threads: 1 });
        await s.run({ x: new (await import('../../src/ir/tensor.js')).Tensor(1, [4], new Uint8Array(W.buffer.slice(0)), 'x') });
        await s.release();
      } catch (e) {
        counts.invalidOutputsWritten++;
        failures.push(`${name}: wrote ${o.target}, which ORT refuses: ${(e as Error).message.slice(0, 120)}`);
      }
    }
    const left = leftovers(path.dirname(path.resolve(o.target)));
    if (left.length) {
      counts.leftovers += left.length;
      failures.push(`${name}: left ${left.join(', ')}`);
    }
  }
  return r.code;
}

describe('fuzz-files: output paths', () => {
  it('simplify -o: devices (mknod), FIFOs, folders, inputs through links, external data, /proc, odd names', async () => {
    const d = path.join(dir, 'out');
    fs.mkdirSync(d);
    const model = path.join(d, 'model.onnx');
    const data = path.join(d, 'w.bin');
    fs.writeFileSync(data, Buffer.from(W.buffer));
    fs.writeFileSync(model, addModel(4, { location: 'w.bin', offset: 0, length: 16 }));
    fs.symlinkSync(model, path.join(d, 'link-to-input.onnx'));
    fs.linkSync(model, path.join(d, 'hard-link.onnx'));
    fs.symlinkSync(path.join(d, 'nowhere.onnx'), path.join(d, 'dangling.onnx'));
    fs.symlinkSync(data, path.join(d, 'link-to-data.bin'));
    execFileSync('mkfifo', [path.join(d, 'fifo.onnx')]);
    fs.mkdirSync(path.join(d, 'folder.onnx'));
    fs.writeFileSync(path.join(d, 'file'), 'a file');
    let dev: string | undefined;
    if (isRoot) {
      dev = path.join(d, 'null-device');
      execFileSync('mknod', [dev, 'c', '1', '3']);
    }
    const inputs = [model, data];
    const refused: [string, string][] = [
      ['the input', model],
      ['a symlink to the input', path.join(d, 'link-to-input.onnx')],
      ['a hard link to the input', path.join(d, 'hard-link.onnx')],
      ["the input's external data", data],
      ['a symlink to the external data', path.join(d, 'link-to-data.bin')],
      ['a dangling symlink', path.join(d, 'dangling.onnx')],
      ['a FIFO', path.join(d, 'fifo.onnx')],
      ['a folder', path.join(d, 'folder.onnx')],
      ['a name ending in /', d + '/'],
      ['under a file', path.join(d, 'file', 'm.onnx')],
      ['empty', ''],
      ['-', '-'],
      ['/dev/null', '/dev/null'],
      ['/dev/stdout', '/dev/stdout'],
      ['/proc', '/proc/self/m.onnx'],
      ['/proc/sys (read-only)', '/proc/sys/m.onnx'],
      ['/sys', '/sys/m.onnx'],
      ...(dev ? ([['a device made with mknod', dev]] as [string, string][]) : []),
    ];
    for (const [what, target] of refused) {
      const code = await score(`simplify -o ${what}`, ['simplify', model, '-o', target], { inputs, ...(target && target !== '-' && !target.startsWith('/dev/') ? { target } : {}), expect: 2 });
      if (code === 'hang') continue;
    }
    if (dev) expect(fs.statSync(dev).isCharacterDevice()).toBe(true);
    expect(fs.statSync('/dev/null').isCharacterDevice()).toBe(true);
    // accepted: a new nested path, an unrelated regular file (replaced), the same folder as the input
    await score('simplify -o a new nested path', ['simplify', model, '-o', path.join(d, 'new', 'deeper', 'm.onnx')], { inputs, target: path.join(d, 'new', 'deeper', 'm.onnx'), expect: 0 });
    fs.writeFileSync(path.join(d, 'old.onnx'), 'an old unrelated file');
    await score('simplify -o an existing unrelated file', ['simplify', model, '-o', path.join(d, 'old.onnx')], { inputs, target: path.join(d, 'old.onnx'), expect: 0 });
    expect(failures).toEqual([]);
  });

  it('a read-only folder → one line, nothing written (as root: the CLI runs as user nobody)', async () => {
    // Root ignores permission bits (CAP_DAC_OVERRIDE), so a 0555 folder does not stop root, and a read-only
    // mount or `chattr +i` needs privileges this container may not have. What does work as root is to drop
    // them: the CLI runs as a separate process under uid/gid 65534 (nobody), for which the kernel refuses the
    // write with EACCES, exactly as for any user. Non-root runs it as itself.
    const ro = path.join(dir, 'ro');
    fs.mkdirSync(ro, { mode: 0o755 });
    fs.chmodSync(dir, 0o755); // mkdtemp makes 0700: nobody must reach the files
    const model = path.join(dir, 'ro-in.onnx');
    fs.writeFileSync(model, addModel(4, W));
    fs.chmodSync(model, 0o644);
    fs.writeFileSync(path.join(ro, 'old.onnx'), 'an older file in the read-only folder');
    fs.chmodSync(ro, 0o555);
    const run = (args: string[]) =>
      new Promise<{ code: number | null; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, [path.resolve('bin/inferopt.js'), ...args], {
          stdio: ['ignore', 'ignore', 'pipe'],
          ...(isRoot ? { uid: 65534, gid: 65534 } : {}),
          env: { ...process.env, HOME: dir },
        });
        let stderr = '';
        child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
        child.on('exit', (code) => resolve({ code, stderr }));
      });
    const before = [model, path.join(ro, 'old.onnx')].map(snapshot);
    const listing = fs.readdirSync(ro).sort();
    for (const [what, args, re] of [
      ['simplify -o a new file', ['simplify', model, '-o', path.join(ro, 'm.onnx')], /^inferopt: -o \S+\/ro\/m\.onnx: cannot write in \S+\/ro \(permission denied or read-only\)$/],
      ['simplify -o an existing file', ['simplify', model, '-o', path.join(ro, 'old.onnx')], /cannot write in \S+\/ro \(permission denied or read-only\)$/],
      ['simplify -o under a new folder', ['simplify', model, '-o', path.join(ro, 'sub', 'm.onnx')], /ro\/sub\/m\.onnx: cannot write in \S+\/ro \(permission denied or read-only\)$/],
      ['optimize -o the folder', ['optimize', model, '-o', ro, '--budget', '1', '--runs', '3'], /cannot write in this folder \(permission denied or read-only\)$/],
    ] as const) {
      counts.cases++;
      const r = await withTimeout(run([...args]), 60_000);
      if (r === 'hang') {
        counts.hangs++;
        failures.push(`hang: read-only ${what}`);
        continue;
      }
      const lines = r.stderr.trim().split('\n');
      if (r.code !== 2 || lines.length !== 1 || /internal error/.test(r.stderr)) {
        counts.crashes++;
        failures.push(`read-only ${what}: exit ${r.code}: ${r.stderr.slice(0, 300)}`);
      } else if (!re.test(lines[0]!)) failures.push(`read-only ${what}: ${lines[0]} does not match ${re}`);
    }
    const after = [model, path.join(ro, 'old.onnx')].map(snapshot);
    if (after.some((a, i) => a !== before[i])) counts.inputsChanged++;
    expect(after).toEqual(before);
    expect(fs.readdirSync(ro).sort()).toEqual(listing);
    fs.chmodSync(ro, 0o755);
    expect(failures).toEqual([]);
  });

  it('train: -o, --log and --checkpoint never touch the input (checked before any data is read)', async () => {
    const model = path.join(dir, 'train-in.onnx');
    fs.writeFileSync(model, addModel(4, W));
    fs.linkSync(model, path.join(dir, 'train-hard.onnx'));
    for (const [what, extra] of [
      ['-o the input', ['-o', model]],
      ['-o a hard link to the input', ['-o', path.join(dir, 'train-hard.onnx')]],
      ['--log the input', ['-o', path.join(dir, 't-out.onnx'), '--log', model]],
      ['--checkpoint the input', ['-o', path.join(dir, 't-out.onnx'), '--checkpoint', model]],
      ['--log a FIFO', ['-o', path.join(dir, 't-out.onnx'), '--log', path.join(dir, 'train-fifo')]],
      ['--log a folder', ['-o', path.join(dir, 't-out.onnx'), '--log', dir]],
    ] as const) {
      if (what === '--log a FIFO') execFileSync('mkfifo', [path.join(dir, 'train-fifo')]);
      await score(`train ${what}`, ['train', model, '--data', path.join(dir, 'no-such-data'), ...extra], { inputs: [model], expect: 2 });
    }
    expect(fs.existsSync(path.join(dir, 't-out.onnx'))).toBe(false);
    expect(failures).toEqual([]);
  });

  it('every file a dataset names is an input: images (folder and list), the spec, labels, test-set tensors', async () => {
    // x[1,1,4,4] → Relu → Conv: a model that takes the images below
    const b = new GraphBuilder();
    const x = b.input('x', DataType.FLOAT, [1, 1, 4, 4]);
    b.output(b.op('Conv', [b.op('Relu', [x]), b.floats('w', [2, 1, 1, 1], [0.5, -1])]), 'y');
    const d = path.join(dir, 'data-inputs');
    fs.mkdirSync(path.join(d, 'imgs', 'a'), { recursive: true });
    fs.mkdirSync(path.join(d, 'imgs', 'b'), { recursive: true });
    const model = path.join(d, 'm.onnx');
    fs.writeFileSync(model, modelToBytes(b.model({ opset: 17 })));
    const png = async (file: string, v: number) => fs.writeFileSync(file, await sharp(Buffer.alloc(16, v), { raw: { width: 4, height: 4, channels: 1 } }).png().toBuffer());
    const images: string[] = [];
    for (const [k, cls] of ['a', 'a', 'b', 'b'].entries()) {
      images.push(path.join(d, 'imgs', cls, `${k}.png`));
      await png(images.at(-1)!, 40 * k);
    }
    const image = { size: [4, 4], color: 'gray', normalize: 'unit' };
    const folderSpec = path.join(d, 'folder.json');
    fs.writeFileSync(folderSpec, JSON.stringify({ source: { type: 'image-folder', path: 'imgs' }, image }));
    // an image list naming images outside any class folder
    fs.mkdirSync(path.join(d, 'listed'));
    const listed = [path.join(d, 'listed', 'p.png'), path.join(d, 'listed', 'q.png')];
    for (const f of listed) await png(f, 99);
    const list = path.join(d, 'list.jsonl');
    fs.writeFileSync(list, listed.map((f, i) => JSON.stringify({ image: path.relative(d, f), label: i })).join('\n') + '\n');
    const listSpec = path.join(d, 'list.json');
    fs.writeFileSync(listSpec, JSON.stringify({ source: { type: 'image-list', path: 'list.jsonl' }, image }));
    const inputs = [model, ...images, ...listed, folderSpec, list, listSpec];
    const cases: [string, string, string][] = [
      ['an image of the folder read first', folderSpec, images[0]!],
      ['an image of the folder read last', folderSpec, images[3]!],
      ['an image the --calib-limit leaves unread', folderSpec, images[2]!],
      ['an image named by a list', listSpec, listed[1]!],
      ['the list file', listSpec, list],
      ['the spec file', folderSpec, folderSpec],
    ];
    for (const [what, spec, target] of cases) {
      const args = ['quantize', model, '--mode', 'static', '--calib', spec, '--calib-limit', what.includes('unread') ? '1' : '4', '--no-cache', '-o', target];
      await score(`quantize --calib … -o ${what}`, args, { inputs, target, expect: 2, stderr: /is an input of this run/ });
    }
    // control: the same command writes a new file next to the images
    await score('quantize --calib folder -o a new file beside the images (control)', ['quantize', model, '--mode', 'static', '--calib', folderSpec, '--no-cache', '-o', path.join(d, 'imgs', 'a', 'q.onnx')], { inputs, expect: 0 });
    expect(fs.existsSync(path.join(d, 'imgs', 'a', 'q.onnx'))).toBe(true);
    // the library: a dataset opened marks its files, so saveModel refuses them too
    const other = path.join(d, 'other.png');
    await png(other, 7);
    const spec2 = path.join(d, 'one.jsonl');
    fs.writeFileSync(spec2, JSON.stringify({ image: 'other.png', label: 0 }) + '\n');
    await openDataset({ source: { type: 'image-list', path: spec2 } });
    counts.cases++;
    expect(() => saveModel(loadModel(model), other)).toThrow(/is an input of this run/);
    expect(failures).toEqual([]);
  });

  it('saveModel (library) never overwrites the file a model was loaded from', () => {
    const model = path.join(dir, 'lib-in.onnx');
    fs.writeFileSync(model, addModel(4, W));
    const before = snapshot(model);
    const m = loadModel(model);
    counts.cases++;
    expect(() => saveModel(m, model)).toThrow(InputError);
    if (snapshot(model) !== before) counts.inputsChanged++;
    expect(snapshot(model)).toBe(before);
  });

  it('SIGTERM during a staged write removes the staging folder; orphans of dead processes are swept', async () => {
    counts.cases++;
    const d = path.join(dir, 'signal');
    fs.mkdirSync(d);
    const script = `
      import { Staging } from ${JSON.stringify(path.resolve('src/util/files.ts'))};
      const s = new Staging(${JSON.stringify(d)}, 'big.onnx');
      s.write('big.onnx', [new Uint8Array(1 << 20)]);
      process.stdout.write('staged\\n');
      setTimeout(() => {}, 60000);`;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    await withTimeout(new Promise<void>((r) => child.stdout.on('data', (b: Buffer) => b.toString().includes('staged') && r())), 30_000);
    expect(leftovers(d)).toHaveLength(1);
    const exit = new Promise<NodeJS.Signals | null>((r) => child.on('exit', (_c, sig) => r(sig)));
    child.kill('SIGTERM');
    expect(await withTimeout(exit, 10_000)).toBe('SIGTERM');
    const left = leftovers(d);
    counts.leftovers += left.length;
    expect(left).toEqual([]);
    // a staging folder whose process is gone (kill -9) is removed by the next write into that folder
    fs.mkdirSync(path.join(d, '.old.onnx.inferopt-999999-AbCdEf'));
    const fresh = path.join(d, 'fresh.onnx');
    saveModel(loadModel(addModel(4, W)), fresh);
    expect(leftovers(d)).toEqual([]);
  });
});

describe('fuzz-files: external data', () => {
  const extCases: [string, (d: string) => Parameters<typeof addModel>[1]][] = [
    ['a FIFO', (d) => (execFileSync('mkfifo', [path.join(d, 'pipe.bin')]), { location: 'pipe.bin', offset: 0, length: 16 })],
    ['a folder', (d) => (fs.mkdirSync(path.join(d, 'sub')), { location: 'sub', offset: 0, length: 16 })],
    ['offset past the end', (d) => (fs.writeFileSync(path.join(d, 'w.bin'), new Uint8Array(16)), { location: 'w.bin', offset: 64, length: 16 })],
    ['length past the end', (d) => (fs.writeFileSync(path.join(d, 'w.bin'), new Uint8Array(16)), { location: 'w.bin', offset: 0, length: 1 << 30 })],
    ['offset + length overflowing 2^53', (d) => (fs.writeFileSync(path.join(d, 'w.bin'), new Uint8Array(16)), { location: 'w.bin', offset: '9007199254740990', length: 16 })],
    ['offset 2^64', (d) => (fs.writeFileSync(path.join(d, 'w.bin'), new Uint8Array(16)), { location: 'w.bin', offset: '18446744073709551616', length: 16 })],
    ['a negative offset', (d) => (fs.writeFileSync(path.join(d, 'w.bin'), new Uint8Array(16)), { location: 'w.bin', offset: '-16', length: 16 })],
    ['offset 1e30', (d) => (fs.writeFileSync(path.join(d, 'w.bin'), new Uint8Array(16)), { location: 'w.bin', offset: '1e30', length: 16 })],
    ['length "abc"', (d) => (fs.writeFileSync(path.join(d, 'w.bin'), new Uint8Array(16)), { location: 'w.bin', offset: 0, length: 'abc' })],
    ['a symlink to /dev/zero', (d) => (fs.symlinkSync('/dev/zero', path.join(d, 'zero.bin')), { location: 'zero.bin', offset: 0, length: 16 })],
    ['an absolute path', () => ({ location: '/etc/passwd', offset: 0, length: 16 })],
    ['a .. escape', () => ({ location: '../w.bin', offset: 0, length: 16 })],
    ['a missing file', () => ({ location: 'missing.bin', offset: 0, length: 16 })],
    ['an empty location', () => ({ location: '', offset: 0, length: 16 })],
  ];
  if (isRoot) extCases.push(['a device made with mknod', (d) => (execFileSync('mknod', [path.join(d, 'zero-dev'), 'c', '1', '5']), { location: 'zero-dev', offset: 0, length: 16 })]);

  it('hostile references are refused in one line by inspect and simplify (never a hang)', async () => {
    for (const [i, [what, make]] of extCases.entries()) {
      const d = path.join(dir, `ext-${i}`);
      fs.mkdirSync(d);
      const model = path.join(d, 'm.onnx');
      fs.writeFileSync(model, addModel(4, make(d)));
      const inputs = [model, ...fs.readdirSync(d).map((n) => path.join(d, n)).filter((p) => fs.lstatSync(p).isFile())];
      await score(`inspect, external data ${what}`, ['inspect', model], { inputs, expect: 2 });
      await score(`simplify, external data ${what}`, ['simplify', model, '-o', path.join(d, 'out.onnx')], { inputs, target: path.join(d, 'out.onnx'), expect: 2 });
      // the library refuses it in a bounded time too
      counts.cases++;
      expect(() => loadModel(model)).toThrow(InputError);
    }
    expect(failures).toEqual([]);
  });

  it('a tensor past 2 GiB in a sparse 2.2 GB file: inspect, simplify (proven in ORT) and the result, end to end', async () => {
    const d = path.join(dir, 'sparse');
    fs.mkdirSync(d);
    const big = path.join(d, 'big.bin');
    const offset = 2 ** 31 + 4096; // past what a signed 32-bit offset or one Buffer read could reach
    const fd = fs.openSync(big, 'w');
    fs.writeSync(fd, Buffer.from(W.buffer), 0, 16, offset);
    fs.ftruncateSync(fd, 2.2e9);
    fs.closeSync(fd);
    const model = path.join(d, 'm.onnx');
    fs.writeFileSync(model, addModel(4, { location: 'big.bin', offset, length: 16 }));
    expect(Array.from(loadModel(model).graph.initializers.get("w")!.initializer!.view() as Float32Array)).toEqual([1, 2, 3, 4]);
    counts.cases++;
    const inputs = [model];
    const bigBefore = fs.statSync(big);
    expect(await score('inspect, > 2 GiB external data', ['inspect', model], { inputs, expect: 0 })).toBe(0);
    const out = path.join(d, 'out.onnx');
    expect(await score('simplify, > 2 GiB external data', ['simplify', model, '-o', out], { inputs, target: out, expect: 0 })).toBe(0);
    const s = await Session.create(out, { threads: 1 });
    const { Tensor } = await import('../../src/ir/tensor.js');
    const y = await s.run({ x: Tensor.fromArray(1, [4], [10, 20, 30, 40], 'x') });
    await s.release();
    expect(Array.from(y.y!.view() as Float32Array)).toEqual([11, 22, 33, 44]);
    expect(fs.statSync(big).mtimeMs).toBe(bigBefore.mtimeMs);
    expect(failures).toEqual([]);
  });
});

describe('fuzz-files: hostile shapes, runs and nesting', () => {
  it('bench refuses huge shapes, dims and run counts in one line before allocating', async () => {
    const d = path.join(dir, 'shapes');
    fs.mkdirSync(d);
    const model = path.join(d, 'm.onnx');
    fs.writeFileSync(model, addModel(4, W, ['n']));
    const declared = path.join(d, 'declared.onnx');
    fs.writeFileSync(declared, addModel(4, W, [2n ** 62n]));
    const inputs = [model, declared];
    for (const [what, args] of [
      ['--shape x=1000000000', ['bench', model, '--shape', 'x=1000000000', '--runs', '1']],
      ['--dim n=1e9', ['bench', model, '--dim', 'n=1000000000', '--runs', '1']],
      ['--dim n=2^62', ['bench', model, '--dim', 'n=4611686018427387904', '--runs', '1']],
      ['--shape x=2^70', ['bench', model, '--shape', 'x=1180591620717411303424', '--runs', '1']],
      ['a declared 2^62 dim', ['bench', declared, '--runs', '1']],
      ['--runs 1e12', ['bench', model, '--dim', 'n=4', '--runs', '1000000000000']],
      ['--runs 1e308', ['bench', model, '--dim', 'n=4', '--runs', '1e308']],
      ['--seconds 1e12', ['bench', model, '--dim', 'n=4', '--seconds', '1000000000000']],
      ['--seconds Infinity', ['bench', model, '--dim', 'n=4', '--seconds', 'Infinity']],
      ['--warmup 1e12', ['bench', model, '--dim', 'n=4', '--warmup', '1000000000000']],
      ['profile --runs 1e12', ['profile', model, '--dim', 'n=4', '--runs', '1000000000000']],
    ] as const) {
      await score(`bench ${what}`, [...args], { inputs, expect: 2 });
    }
    // the limit is a setting: raised, a 4M-element input runs
    process.env['INFEROPT_MAX_INPUT_BYTES'] = '1K';
    await score('bench over a lowered limit', ['bench', model, '--dim', 'n=4096', '--runs', '1'], { inputs, expect: 2 });
    delete process.env['INFEROPT_MAX_INPUT_BYTES'];
    await score('bench at a sane size (control)', ['bench', model, '--dim', 'n=4', '--runs', '2', '--warmup', '0'], { inputs, expect: 0 });
    expect(failures).toEqual([]);
  });

  it('dataset specs with huge image sizes are refused before allocating', async () => {
    for (const size of [[30000, 30000], [1e9, 1e9], [2 ** 40, 1]]) {
      counts.cases++;
      const spec = path.join(dir, `spec-${size[0]}.json`);
      fs.mkdirSync(path.join(dir, 'imgs'), { recursive: true });
      fs.writeFileSync(spec, JSON.stringify({ source: { type: 'folder', path: 'imgs' }, preprocess: { image: { size } } }));
      await expect(openDataset(spec)).rejects.toThrow(InputError);
    }
  });

  it('nesting: If 700 deep → exit 2 (no stack overflow); 20 deep loads; a 100k-deep recipe → one line', async () => {
    const deep = path.join(dir, 'deep.onnx');
    fs.writeFileSync(deep, nestedIfModel(700));
    await score('inspect, If nested 700 deep', ['inspect', deep], { inputs: [deep], expect: 2 });
    await score('simplify, If nested 700 deep', ['simplify', deep, '-o', path.join(dir, 'deep-out.onnx')], { inputs: [deep], target: path.join(dir, 'deep-out.onnx'), expect: 2 });
    const ok = path.join(dir, 'ok.onnx');
    fs.writeFileSync(ok, nestedIfModel(20));
    counts.cases++;
    expect(loadModel(ok).graph.nodes[0]!.opType).toBe('If');
    // JSON this deep cannot be built with JSON.stringify (it recurses): write it as text
    const depth = 100_000;
    const text = `{"format":"inferopt-recipe","version":1,"recipe":{"target":"cpu","steps":[{"pass":"simplify","params":{"x":${'['.repeat(depth)}${']'.repeat(depth)}}}],"session":{"threads":1,"optLevel":"all","executionMode":"sequential"}}}`;
    counts.cases++;
    expect(() => parseRecipeFile(JSON.parse(text), 'deep.json')).toThrow(/nested more than 100 levels/);
    const recipe = path.join(dir, 'deep-recipe.json');
    fs.writeFileSync(recipe, text);
    await score('optimize --recipe 100k-deep params', ['optimize', ok, '--recipe', recipe, '-o', path.join(dir, 'deep-opt')], { inputs: [ok, recipe], expect: 2 });
    expect(fs.existsSync(path.join(dir, 'deep-opt'))).toBe(false);
    expect(failures).toEqual([]);
  });
});

describe('fuzz-files totals', () => {
  it('crashes 0, hangs 0, invalid outputs written 0, inputs changed 0, temp files left 0', () => {
    expect(failures).toEqual([]);
    expect(counts).toMatchObject({ crashes: 0, hangs: 0, invalidOutputsWritten: 0, inputsChanged: 0, leftovers: 0 });
    expect(counts.cases).toBeGreaterThan(60);
  });
});
