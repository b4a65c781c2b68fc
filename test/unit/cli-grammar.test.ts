import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import type { Command } from 'commander';
import { afterAll, describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli/main.js';
import { COMMAND_NAMES } from '../../src/cli/commands/index.js';
import { commandsWithoutExamples } from '../../src/cli/examples.js';
import { loadDatasetSpec } from '../../src/data/dataset.js';
import { idxBytes } from '../../src/data/sources/idx.js';
import { runCli } from './run-cli.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'inferopt-grammar-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function allCommands(c: Command): Command[] {
  return [c, ...c.commands.flatMap(allCommands)];
}

const program = await buildProgram();

describe('one CLI grammar', () => {
  it('a command line loads the command it names alone; without one, every command', async () => {
    expect(program.commands.map((c) => c.name())).toEqual(COMMAND_NAMES);
    for (const name of COMMAND_NAMES) {
      const one = await buildProgram(['node', 'inferopt', '--verbose', name, 'x.onnx']);
      expect(one.commands.map((c) => c.name())).toEqual([name]);
    }
    expect((await buildProgram(['node', 'inferopt', 'simplfy'])).commands).toHaveLength(COMMAND_NAMES.length);
  });

  it('every command has examples in its --help', async () => {
    expect(commandsWithoutExamples(program)).toEqual([]);
    const r = await runCli('quantize', '--help');
    expect(r.stdout).toMatch(/Examples:\n {2}inferopt quantize /);
  });

  it('-o is --output on every command, and no command has --out or quantize --eval', () => {
    for (const c of allCommands(program)) {
      for (const o of c.options) {
        if (o.short === '-o') expect(o.long, c.name()).toBe('--output');
        expect(['--out', '--eval', '--eval-limit'], c.name()).not.toContain(o.long);
      }
    }
    // --output always names something written; eval names the scored model output --output-name
    const evalCmd = program.commands.find((c) => c.name() === 'eval')!;
    expect(evalCmd.options.map((o) => o.long)).toContain('--output-name');
    // data and its limit have the same names wherever a command reads data
    for (const name of ['eval', 'quantize', 'verify', 'optimize']) {
      const longs = program.commands.find((c) => c.name() === name)!.options.map((o) => o.long);
      expect(longs, name).toEqual(expect.arrayContaining(['--data', '--limit']));
    }
  });

  it('--max-accuracy-drop takes the same points or N%rel in quantize and optimize', async () => {
    const m = path.join(tmp, 'm.onnx');
    expect((await runCli('zoo', 'mlp', '-o', m)).code).toBe(0);
    const q = await runCli('quantize', m, '-o', path.join(tmp, 'q.onnx'), '--mode', 'dynamic', '--max-accuracy-drop', '2%', '--data', tmp);
    expect(q.code).toBe(2);
    expect(q.stderr).toMatch(/ambiguous: write 2 for absolute points or 2%rel/);
    const o = await runCli('optimize', m, '-o', path.join(tmp, 'o'), '--max-accuracy-drop', '2%');
    expect(o.stderr).toMatch(/ambiguous: write 2 for absolute points or 2%rel/);
  });

  it('--version, and "did you mean" for unknown commands and options', async () => {
    const version = JSON.parse(fs.readFileSync(path.resolve(import.meta.dirname, '../../package.json'), 'utf8')).version;
    expect((await runCli('--version')).stdout.trim()).toBe(version);
    const cmd = await runCli('simplfy');
    expect(cmd.code).toBe(2);
    expect(cmd.stderr).toBe("inferopt: unknown command 'simplfy' (did you mean simplify?) (see --help)\n");
    const opt = await runCli('simplify', 'x.onnx', '-o', 'y.onnx', '--ouput', 'z');
    expect(opt.stderr).toBe("inferopt: unknown option '--ouput' (did you mean --output?) (see --help)\n");
    const sub = await runCli('data', 'rendr-ocr');
    expect(sub.stderr).toMatch(/did you mean render-ocr\?/);
    const renamed = await runCli('quantize', 'x.onnx', '-o', 'y.onnx', '--mode', 'dynamic', '--eval', 'd');
    expect(renamed).toMatchObject({ code: 2, stderr: 'inferopt: quantize --eval is now --data\n' });
  });
});

describe('dataset folders', () => {
  it('a folder in the MNIST layout is a dataset: t10k to evaluate, train to train and calibrate', async () => {
    const dir = path.join(tmp, 'mnist');
    fs.mkdirSync(dir);
    for (const [split, n] of [['train', 6], ['t10k', 4]] as const) {
      fs.writeFileSync(path.join(dir, `${split}-images-idx3-ubyte.gz`), gzipSync(idxBytes([n, 2, 2], new Uint8Array(n * 4))));
      fs.writeFileSync(path.join(dir, `${split}-labels-idx1-ubyte.gz`), gzipSync(idxBytes([n], new Uint8Array(n))));
    }
    expect((await loadDatasetSpec(dir)).source).toEqual({ type: 'idx', path: path.join(dir, 't10k-images-idx3-ubyte.gz') });
    expect((await loadDatasetSpec(dir, 'training')).source).toEqual({ type: 'idx', path: path.join(dir, 'train-images-idx3-ubyte.gz') });
    const info = await runCli('data', 'info', dir);
    expect(info.stdout).toMatch(/t10k-images-idx3-ubyte\.gz \(4 × 2×2, labelled\)/);
  });

  it('a render-ocr folder given to --data points to its rec/cls/det specs', async () => {
    const dir = path.join(tmp, 'ocr');
    for (const sub of ['rec', 'cls', 'det']) fs.mkdirSync(path.join(dir, sub), { recursive: true });
    for (const f of ['rec.json', 'cls.json', 'det.json']) fs.writeFileSync(path.join(dir, f), '{}');
    const r = await runCli('data', 'info', dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/a 'data render-ocr' folder holds one dataset per model; give --data one of its specs: .*ocr\/rec\.json, .*ocr\/cls\.json, .*ocr\/det\.json/);
  });
});

describe('a reader that stops early', () => {
  it('`inferopt … | head` ends quietly: no EPIPE stack trace on stderr', async () => {
    const { spawn } = await import('node:child_process');
    const child = spawn(process.execPath, ['bin/inferopt.js', 'quantize', '--help'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.destroy(); // the reader is gone before the help is written
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(stderr).not.toMatch(/EPIPE|Unhandled|at /);
    expect(code).toBe(0);
  }, 30_000);
});
