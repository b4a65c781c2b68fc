import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataType, GraphBuilder, loadModel, saveModel } from '../ir/index.js';
import { rng } from '../runtime/inputs.js';
import { runCli } from '../../test/unit/run-cli.js';
import { npyBytes, zipBytes } from '../data/test-fixtures.js';
import { ms } from '../report/summary.js';
import { decodeTensor } from '../ir/proto/decode.js';
import { busyWarning } from './optimize.js';

/** A small classifier: x[1,64] → MatMul → Relu → MatMul → Softmax over 10 classes. */
function tinyClassifier(file: string): void {
  const r = rng(3);
  const w = (k: number, n: number) => Array.from({ length: k * n }, () => (r() - 0.5) * 0.5);
  const b = new GraphBuilder();
  const x = b.input('x', DataType.FLOAT, [1, 64]);
  const h = b.op('Relu', [b.op('MatMul', [x, b.floats('w1', [64, 64], w(64, 64))])]);
  const y = b.op('MatMul', [h, b.floats('w2', [64, 10], w(64, 10))]);
  b.output(b.op('Softmax', [y], { axis: -1 }), 'probs');
  saveModel(b.model({ opset: 17 }), file);
}

let dir: string;
let model: string;
const fast = ['--runs', '5', '--limit', '8'];

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'inferopt-optimize-'));
  model = path.join(dir, 'tiny.onnx');
  tinyClassifier(model);
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('inferopt optimize', () => {
  it('searches, writes every output, and --recipe rebuilds the same graph', async () => {
    const a = path.join(dir, 'a');
    const r1 = await runCli('optimize', model, '-o', a, '--budget', '6', ...fast);
    expect(r1.stderr).toMatch(/metric: fidelity\.top1Agreement/);
    expect(r1.code).toBe(0);
    expect(fs.readdirSync(a).sort()).toEqual(['.inferopt-manifest.json', 'recipe.json', 'report.html', 'report.md', 'results.json', 'tiny.optimized.onnx']);
    const results = JSON.parse(fs.readFileSync(path.join(a, 'results.json'), 'utf8'));
    expect(results.candidates.length).toBeGreaterThanOrEqual(5); // baseline + the 6-trial budget, or fewer if exhausted
    expect(results.candidates.length).toBeLessThanOrEqual(7);
    expect(results.metric.source).toBe('fidelity');
    expect(fs.readFileSync(path.join(a, 'report.md'), 'utf8')).toMatch(/fidelity to the baseline model on 8 seeded random inputs/);

    const b = path.join(dir, 'b');
    const r2 = await runCli('optimize', model, '--recipe', path.join(a, 'recipe.json'), '-o', b, ...fast);
    expect(r2.code).toBe(0);
    expect(fs.readFileSync(path.join(b, 'tiny.optimized.onnx'))).toEqual(fs.readFileSync(path.join(a, 'tiny.optimized.onnx')));
    expect(JSON.parse(fs.readFileSync(path.join(b, 'recipe.json'), 'utf8')).recipe).toEqual(JSON.parse(fs.readFileSync(path.join(a, 'recipe.json'), 'utf8')).recipe);
  });

  it('applies a hand-written recipe (dynamic int8) and reproduces it from its own recipe.json', async () => {
    const recipe = { format: 'inferopt-recipe', version: 1, recipe: { target: 'cpu', steps: [{ pass: 'simplify', params: {} }, { pass: 'quantize-dynamic', params: { perChannel: true } }], session: { threads: 1, optLevel: 'all', executionMode: 'sequential' } } };
    fs.writeFileSync(path.join(dir, 'r.json'), JSON.stringify(recipe));
    const c = path.join(dir, 'c');
    const d = path.join(dir, 'd');
    expect((await runCli('optimize', model, '--recipe', path.join(dir, 'r.json'), '-o', c, ...fast)).code).toBe(0);
    expect((await runCli('optimize', model, '--recipe', path.join(c, 'recipe.json'), '-o', d, ...fast)).code).toBe(0);
    const m = loadModel(path.join(c, 'tiny.optimized.onnx'));
    expect(m.graph.nodes.filter((n) => n.opType === 'DynamicQuantizeMatMul')).toHaveLength(2);
    // the headline speed-up was re-measured side by side against the input model as a user runs it (ORT's
    // defaults, 2 threads), as the search measured it, not at the recipe's thread count
    const results = JSON.parse(fs.readFileSync(path.join(c, 'results.json'), 'utf8'));
    expect(results.timing.threads).toEqual({ baseline: 2, chosen: 1 });
    const side = results.sideBySide;
    // what other processes took of the machine meanwhile is recorded with it (Linux: /proc/stat)
    if (fs.existsSync('/proc/stat')) expect(side.otherCpu.share).toBeGreaterThanOrEqual(0);
    expect(busyWarning({ share: 0.4, seconds: 1.6, ownSeconds: 1, wallSeconds: 2, cores: 2 }, 2, 1)).toMatch(/^while the headline speed-up was timed, other processes took 40% of this machine's 2 cores: .*different thread counts \(2 vs 1 here\).*run the reproduce command on a quiet machine/);
    expect(side.low).toBeLessThanOrEqual(side.speedup);
    expect(side.high).toBeGreaterThanOrEqual(side.speedup);
    // one truth per figure: the headline, the table and results.json show that same side-by-side run
    const speed = `${side.speedup.toFixed(2)}× faster`;
    const md = fs.readFileSync(path.join(c, 'report.md'), 'utf8');
    expect(md).toContain(`| latency p50 (side by side) | ${ms(side.baseline.p50)} | ${ms(side.chosen.p50)} | ${speed} [95% ${side.low.toFixed(2)}–${side.high.toFixed(2)}] |`); // brackets stay plain in report.md (only '](' is escaped)
    expect(md).toContain(`| latency p99 (side by side) | ${ms(side.baseline.p99)} | ${ms(side.chosen.p99)} |`);
    expect(md).toMatch(new RegExp(`^\\*\\*all goals met: ${speed.replace('.', '\\.')} side by side .*p50 ${ms(side.baseline.p50)} → ${ms(side.chosen.p50)}, ${side.runs} interleaved runs each`, 'm'));
    expect(side.baseline.samples).toHaveLength(side.runs);
    expect(side.chosen.p50 / side.baseline.p50).toBeCloseTo(1 / side.speedup, 6);
    expect(fs.readFileSync(path.join(d, 'tiny.optimized.onnx'))).toEqual(fs.readFileSync(path.join(c, 'tiny.optimized.onnx')));
    // the command that times the two as the side-by-side figure was timed, named in results.json and the report
    const reproduce = JSON.parse(fs.readFileSync(path.join(c, 'results.json'), 'utf8')).timing.reproduce;
    expect(reproduce).toBe(`inferopt bench ${model} --compare ${path.join(c, 'tiny.optimized.onnx')} --shape x=1x64 --threads 2 --compare-threads 1 --runs ${side.runs}`);
    expect(md).toContain(reproduce);
    const again = await runCli(...reproduce.split(' ').slice(1), '--json');
    expect(again.code).toBe(0);
    const json = JSON.parse(again.stdout);
    expect([json.a.threads, json.b.threads, json.a.latencyMs.n]).toEqual([2, 1, side.runs]);
  });

  it('exits 3 with an explanation when a goal cannot be met, and still writes the report', async () => {
    const e = path.join(dir, 'e');
    const r = await runCli('optimize', model, '-o', e, '--max-latency', '0.00001', '--budget', '3', ...fast);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/inferopt: goals not met — max-latency not met .*closest: #\d+ .*latency p50 [\d.]+ ms > 0 ms .*Needed: another [\d.]+× speed-up/);
    const results = JSON.parse(fs.readFileSync(path.join(e, 'results.json'), 'utf8'));
    expect(results.met).toBe(false);
    expect(fs.readFileSync(path.join(e, 'report.html'), 'utf8')).toMatch(/Goal not met: max-latency not met/);
  });

  it('refuses bad goals and files in the output folder it did not write', async () => {
    const r = await runCli('optimize', model, '-o', path.join(dir, 'x'), '--max-accuracy-drop', '2%');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/ambiguous/);
    const mine = path.join(dir, 'mine');
    fs.mkdirSync(mine);
    fs.writeFileSync(path.join(mine, 'notes.txt'), 'keep me');
    fs.writeFileSync(path.join(mine, 'report.md'), 'my own report');
    const r2 = await runCli('optimize', model, '-o', mine, ...fast);
    expect(r2.code).toBe(2);
    expect(r2.stderr).toMatch(/will not replace files it does not own \(report\.md was not written by inferopt\)/);
    expect(fs.readFileSync(path.join(mine, 'notes.txt'), 'utf8')).toBe('keep me');
    expect(fs.readFileSync(path.join(mine, 'report.md'), 'utf8')).toBe('my own report');
    expect(fs.readdirSync(mine).sort()).toEqual(['notes.txt', 'report.md']); // nothing staged is left behind
  });
});

describe('optimize into an earlier output folder', () => {
  const sha = (f: string) => crypto.createHash('sha256').update(fs.readFileSync(f)).digest('hex');

  it('`optimize out/m.optimized.onnx -o out`: the input and the user’s files stay; only inferopt’s own files are replaced', async () => {
    const recipe = { format: 'inferopt-recipe', version: 1, recipe: { target: 'cpu', steps: [{ pass: 'simplify', params: {} }, { pass: 'quantize-dynamic', params: {} }], session: { threads: 1, optLevel: 'all', executionMode: 'sequential' } } };
    const r = path.join(dir, 'again-recipe.json');
    fs.writeFileSync(r, JSON.stringify(recipe));
    const out = path.join(dir, 'again');
    expect((await runCli('optimize', model, '--recipe', r, '-o', out, ...fast)).code).toBe(0);
    // the user keeps notes and data in the output folder
    fs.writeFileSync(path.join(out, 'NOTES.md'), '# my notes\n');
    fs.mkdirSync(path.join(out, 'keep'));
    fs.writeFileSync(path.join(out, 'keep', 'calib.bin'), new Uint8Array([1, 2, 3, 4]));
    const input = path.join(out, 'tiny.optimized.onnx');
    const user = [input, path.join(out, 'NOTES.md'), path.join(out, 'keep', 'calib.bin'), r];
    const before = user.map(sha);
    const oldReport = sha(path.join(out, 'report.md'));

    // the optimized model, optimized again into its own folder: a new model name beside it, inferopt's
    // reports replaced (recorded in the manifest, unchanged since), everything else untouched
    const again = await runCli('optimize', input, '--recipe', r, '--other-model', '-o', out, ...fast);
    expect(again.stderr).not.toMatch(/internal error/);
    expect(again.code).toBe(0);
    expect(user.map(sha)).toEqual(before);
    expect(fs.readdirSync(out).sort()).toEqual(['.inferopt-manifest.json', 'NOTES.md', 'keep', 'recipe.json', 'report.html', 'report.md', 'results.json', 'tiny.optimized.onnx', 'tiny.optimized.optimized.onnx']);
    expect(sha(path.join(out, 'report.md'))).not.toBe(oldReport);
    expect(fs.readFileSync(path.join(out, 'report.md'), 'utf8')).toContain('tiny.optimized.onnx');
    const manifest = JSON.parse(fs.readFileSync(path.join(out, '.inferopt-manifest.json'), 'utf8'));
    expect(Object.keys(manifest.files).sort()).toEqual(['recipe.json', 'report.html', 'report.md', 'results.json', 'tiny.optimized.onnx', 'tiny.optimized.optimized.onnx']);

    // a report the user edited since: refused before any work, nothing written
    const snapshot = () => fs.readdirSync(out).sort().map((n) => (fs.statSync(path.join(out, n)).isFile() ? `${n}:${sha(path.join(out, n))}` : n));
    fs.appendFileSync(path.join(out, 'report.md'), '\nmy edit\n');
    const all2 = snapshot();
    const edited = await runCli('optimize', input, '--recipe', r, '--other-model', '-o', out, ...fast);
    expect(edited.code).toBe(2);
    expect(edited.stderr).toMatch(/will not replace files it does not own \(report\.md changed since inferopt wrote it\)/);
    expect(snapshot()).toEqual(all2);
    // the recipe.json of that folder given as --recipe is an input: refused, nothing changes
    const all = snapshot();
    const rec = await runCli('optimize', input, '--recipe', path.join(out, 'recipe.json'), '--other-model', '-o', out, ...fast);
    expect(rec.code).toBe(2);
    expect(rec.stderr.trim().split('\n')).toHaveLength(1);
    expect(rec.stderr).toMatch(/recipe\.json is an input of this run/);
    expect(rec.stderr).toMatch(/report\.md changed since inferopt wrote it/);
    expect(snapshot()).toEqual(all);
    expect(user.map(sha)).toEqual(before);
  });
});

describe('optimize times what the workload runs', () => {
  /** A recogniser-shaped classifier: x[N, 3, 8, W] (W symbolic, like a text line's width) → 2 classes. */
  function lineClassifier(file: string): void {
    const r = rng(5);
    const b = new GraphBuilder();
    const x = b.input('x', DataType.FLOAT, ['N', 3, 8, 'W']);
    const pooled = b.op('Flatten', [b.op('GlobalAveragePool', [x])]);
    const logits = b.op('MatMul', [pooled, b.floats('w', [3, 2], Array.from({ length: 6 }, () => r() - 0.5))]);
    b.output(b.op('Softmax', [logits], { axis: -1 }), 'probs');
    saveModel(b.model({ opset: 17 }), file);
  }

  it('with --data, times real batches at the data’s size (never W=1) and says so in results.json and the reports', async () => {
    const m = path.join(dir, 'line.onnx');
    lineClassifier(m);
    const n = 24;
    const r = rng(9);
    const xs = new Float32Array(n * 3 * 8 * 40).map(() => r());
    const labels = new BigInt64Array(n).map((_, i) => BigInt(i % 2));
    const npz = path.join(dir, 'lines.npz');
    fs.writeFileSync(npz, zipBytes({ 'x.npy': npyBytes('<f4', [n, 3, 8, 40], xs), 'label.npy': npyBytes('<i8', [n], labels) }, false));
    const out = path.join(dir, 'line-opt');
    const res = await runCli('optimize', m, '--data', npz, '-o', out, '--budget', '2', '--runs', '5');
    expect(res.stderr).toMatch(/timed on x=1x3x8x40: 8 batches of 1 drawn from/);
    expect(res.code).toBe(0);
    const results = JSON.parse(fs.readFileSync(path.join(out, 'results.json'), 'utf8'));
    expect(results.timing.source).toBe('data');
    expect(results.timing.shapes).toEqual([{ shapes: 'x=1x3x8x40', count: 8 }]);
    expect(results.timing.threads.baseline).toBe(2);
    expect(fs.readFileSync(path.join(out, 'report.md'), 'utf8')).toMatch(/Timed on x=1x3x8x40: 8 batches of 1 drawn from .*lines\.npz \(real inputs\); .*thread/);
    expect(fs.readFileSync(path.join(out, 'report.html'), 'utf8')).toMatch(/Timed on x=1x3x8x40/);
    // the data's values change a float model's speed: the first timed input set is written for bench --input
    const timed = decodeTensor(fs.readFileSync(path.join(out, 'timed-input-0.pb')));
    expect([timed.name, [...timed.dims]]).toEqual(['x', [1, 3, 8, 40]]);
    const per = 3 * 8 * 40;
    const head = timed.toNumbers().slice(0, per);
    expect(Array.from({ length: n }, (_, k) => k).some((k) => head.every((v, j) => v === xs[k * per + j]))).toBe(true); // one of the data's samples
    // the reproduce command feeds every input set the search timed, in its order (not the first alone); a
    // recipe, so that the chosen model is not the baseline (only then is there a headline to reproduce)
    const recipe = path.join(dir, 'line-recipe.json');
    fs.writeFileSync(recipe, JSON.stringify({ format: 'inferopt-recipe', version: 1, recipe: { target: 'cpu', steps: [{ pass: 'simplify', params: {} }], session: { threads: 1, optLevel: 'all', executionMode: 'sequential' } } }));
    const out3 = path.join(dir, 'line-opt-recipe');
    const res3 = await runCli('optimize', m, '--data', npz, '-o', out3, '--recipe', recipe, '--other-model', '--runs', '5');
    expect(res3.code, res3.stderr).toBe(0);
    const cmd: string = JSON.parse(fs.readFileSync(path.join(out3, 'results.json'), 'utf8')).timing.reproduce;
    const files = [...cmd.matchAll(/--input x=(\S+)/g)].map((m) => m[1]!);
    expect(files).toEqual([path.join(out3, 'timed-input-0.pb'), ...Array.from({ length: 7 }, (_, k) => path.join(out3, `timed-input-0-${k + 1}.pb`))]);
    const sets = files.map((f) => decodeTensor(fs.readFileSync(f)).toNumbers().slice(0, per));
    expect(new Set(sets.map((x) => x.join())).size).toBe(8); // eight different samples
    const args = cmd.split(' ').slice(1);
    const again = await runCli(...args.slice(0, args.indexOf('--runs')), '--runs', '3', '--json');
    expect(again.code).toBe(0);
    const bench = JSON.parse(again.stdout);
    expect(bench.a.shapes).toEqual([{ shapes: 'x=1x3x8x40', count: 8 }]);

    // a declared batch takes real batches of that size from the data
    const out2 = path.join(dir, 'line-opt-4');
    const res2 = await runCli('optimize', m, '--data', npz, '-o', out2, '--budget', '1', '--runs', '5', '--dim', 'N=4');
    expect(res2.code).toBe(0);
    expect(JSON.parse(fs.readFileSync(path.join(out2, 'results.json'), 'utf8')).timing.shapes).toEqual([{ shapes: 'x=4x3x8x40', count: 4 }]);
  });

  it('without data, refuses an unsized width in one line, and times a declared one', async () => {
    const m = path.join(dir, 'line2.onnx');
    lineClassifier(m);
    const bad = await runCli('optimize', m, '-o', path.join(dir, 'no-w'), ...fast);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim()).toBe("inferopt: input 'x' [N, 3, 8, W]: dim 'W' (axis 3) has no size and would be timed at 1; give it with --dim W=N or --shape x=1x3x8xN, or --data to time the real inputs");
    expect(fs.existsSync(path.join(dir, 'no-w'))).toBe(false);
    for (const cmd of [['bench', m], ['profile', m, '--no-peak']]) {
      const r = await runCli(...cmd);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/dim 'W' \(axis 3\) has no size/);
    }
    const ok = await runCli('optimize', m, '-o', path.join(dir, 'w32'), '--dim', 'W=32', '--budget', '1', ...fast);
    expect(ok.code).toBe(0);
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'w32', 'results.json'), 'utf8')).timing).toMatchObject({ source: 'declared', shapes: [{ shapes: 'x=1x3x8x32', count: 1 }] });
    const prof = await runCli('profile', m, '--no-peak', '--dim', 'W=32', '--runs', '2', '--json');
    expect(JSON.parse(prof.stdout).inputs).toEqual([{ name: 'x', shape: [1, 3, 8, 32] }]);
  });
});
