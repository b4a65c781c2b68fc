import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../../../test/unit/run-cli.js';
import { GraphBuilder } from '../../ir/builder.js';
import { DataType } from '../../ir/dtype.js';
import { saveModel } from '../../ir/io.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'inferopt-bench-cli-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function tinyModel(file: string, depth: number): string {
  const b = new GraphBuilder();
  let h = b.input('x', DataType.FLOAT, ['batch', 32]);
  for (let i = 0; i < depth; i++) h = b.op('Relu', [b.op('MatMul', [h, b.floats('w', [32, 32], new Array(1024).fill(0.01))])]);
  b.output(h, 'y');
  saveModel(b.model({ opset: 17 }), file);
  return file;
}

const modelA = tinyModel(path.join(dir, 'a.onnx'), 1);
const modelB = tinyModel(path.join(dir, 'b.onnx'), 3);
const notOnnx = path.join(dir, 'notes.onnx');
fs.writeFileSync(notOnnx, 'this is not a protobuf\n');

const cli = (...args: string[]) => runCli('bench', ...args);

describe('inferopt bench', () => {
  it('prints JSON stats without a progress bar', async () => {
    const r = await cli(modelA, '--runs', '3', '--warmup', '1', '--threads', '1', '--dim', 'batch=2', '--json');
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    const json = JSON.parse(r.stdout);
    expect(json.latencyMs.n).toBe(3);
    expect(json.inputs).toEqual([{ name: 'x', type: 'float32', shape: [2, 32] }]);
    expect(json.batch).toBe(2);
  });

  it('prints a table, and with --compare the B/A ratio and its interval', async () => {
    const one = await cli(modelA, '--runs', '3', '--warmup', '0', '--threads', '1');
    expect(one.code).toBe(0);
    for (const row of ['session creation', 'p50', 'p90', 'p99', 'stdev', 'inferences/s', 'samples/s', 'RSS']) expect(one.stdout).toContain(row);
    const two = await cli(modelA, '--compare', modelB, '--runs', '4', '--warmup', '1', '--threads', '1');
    expect(two.code).toBe(0);
    expect(two.stdout).toMatch(/B\/A median latency: [\d.]+ \(95% CI [\d.]+–[\d.]+/);
  });

  // optimize's side-by-side figure gives the chosen model its own thread count (rec: 2 → 1 thread); bench
  // --compare could only time both at one, so that figure could not be reproduced
  it('--compare-threads/--compare-opt-level give B its own session settings, and the header says so', async () => {
    const r = await cli(modelA, '--compare', modelB, '--runs', '3', '--warmup', '0', '--threads', '2', '--compare-threads', '1', '--compare-opt-level', 'basic', '--json');
    expect(r.code).toBe(0);
    const json = JSON.parse(r.stdout);
    expect([json.a.threads, json.a.optLevel, json.b.threads, json.b.optLevel]).toEqual([2, 'all', 1, 'basic']);
    const text = await cli(modelA, '--compare', modelB, '--runs', '3', '--warmup', '0', '--threads', '2', '--compare-threads', '1');
    expect(text.stdout).toMatch(/^A: node, 2 threads, opt level all, sequential; .*\nB: node, 1 thread, opt level all, sequential; /m);
    const bad = await cli(modelA, '--compare-threads', '1');
    expect([bad.code, bad.stderr.trim()]).toEqual([2, 'inferopt: --compare-threads, --compare-opt-level and --compare-execution-mode go with --compare']);
  });

  const bad: [string, string[], RegExp][] = [
    ['a missing model', [path.join(dir, 'missing.onnx')], /no such file/],
    ['a file that is not ONNX', [notOnnx], /not a valid ONNX file/],
    ['--runs with --seconds', [modelA, '--runs', '3', '--seconds', '1'], /--runs or --seconds, not both/],
    ['a bad --threads', [modelA, '--threads', 'two'], /--threads must be an integer/],
    ['a bad --opt-level', [modelA, '--opt-level', 'max'], /--opt-level must be one of/],
    ['a bad --shape', [modelA, '--shape', 'x=1xq'], /bad --shape/],
    ['a missing --compare model', [modelA, '--compare', path.join(dir, 'nope.onnx')], /nope.onnx: no such file/],
    ['an unknown flag', [modelA, '--fast'], /unknown option '--fast'/],
    ['a --shape for an input the model lacks', [modelA, '--shape', 'pixels=1x32'], /no input 'pixels' \(its inputs: x\)/],
    ['an --input file that is not a TensorProto', [modelA, '--input', `x=${notOnnx}`], /not an ONNX TensorProto/],
  ];
  for (const [what, args, message] of bad) {
    it(`exits 2 with one line for ${what}`, async () => {
      const r = await cli(...args);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(message);
      expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    });
  }

  it('as a real process: exit code 2 and one stderr line, no stack trace', () => {
    let status = 0;
    let stderr = '';
    try {
      execFileSync(process.execPath, ['bin/inferopt.js', 'bench', notOnnx], { encoding: 'utf8', stdio: 'pipe' });
    } catch (e) {
      const err = e as { status: number; stderr: string };
      status = err.status;
      stderr = err.stderr;
    }
    expect(status).toBe(2);
    expect(stderr.trimEnd().split('\n')).toEqual([expect.stringMatching(/^inferopt: .*not a valid ONNX file/)]);
  });
});
