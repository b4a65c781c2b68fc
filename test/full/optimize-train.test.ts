import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../unit/run-cli.js';
import { requireAvailable } from './debian-data.js';

/**
 * `optimize --train-data` on the committed Fashion-MNIST ResNet with real training images (Debian
 * dataset-fashion-mnist), kept small: prune candidates fine-tune a few steps, distilled from the unpruned
 * model; the report draws accuracy and latency against sparsity per granularity; and a recipe with a
 * fine-tuned prune step under static int8 rebuilds the same bytes from the same data.
 */
const hasFashion = requireAvailable(fs.existsSync('/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz'), 'Debian dataset-fashion-mnist', 'apt-get install -y dataset-fashion-mnist');
const MODEL = 'models/fashion-mnist/model.onnx';
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'inferopt-optimize-train-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const data = ['--data', 'data/fashion-mnist-1k', '--limit', '300', '--train-data', 'models/fashion-mnist/train.json', '--train-limit', '1200', '--runs', '20'];

describe.runIf(hasFashion)('optimize with --train-data on the Fashion-MNIST ResNet', () => {
  it('prunes every granularity the model has (fine-tuned, distilled) and plots accuracy and latency against sparsity', async () => {
    const out = path.join(dir, 'search');
    const r = await runCli('optimize', MODEL, '-o', out, ...data, '--prune-steps', '10', '--budget', '14', '--max-accuracy-drop', '5');
    expect(r.code, r.stderr).toBe(0);
    const res = JSON.parse(fs.readFileSync(path.join(out, 'results.json'), 'utf8'));
    // prune-stage candidates of the prune pass (a student from the teacher, pass 'student', is of that stage too)
    const pruned = res.candidates.filter((c: { stage: string; recipe: { steps: { pass: string }[] } }) => c.stage === 'prune' && c.recipe.steps[0]!.pass === 'prune');
    const granularities = new Set(pruned.map((c: { recipe: { steps: { params: { granularity: string } }[] } }) => c.recipe.steps[0]!.params.granularity));
    expect([...granularities].sort()).toEqual(['channel', 'n:m', 'unstructured']);
    for (const c of pruned) {
      expect(c.recipe.steps[0].params).toMatchObject({ steps: 10, distill: 0.5 });
      expect(c.measurement.stepStats.prune.finetuneSteps).toBe(10);
      expect(c.measurement.stepStats.prune.sparsity).toBeGreaterThan(0.1);
    }
    // a CNN has no attention heads or FFN blocks: said, not tried
    expect(res.skipped.map((s: { what: string }) => s.what)).toEqual(expect.arrayContaining(['prune (head)', 'prune (ffn)']));
    const html = fs.readFileSync(path.join(out, 'report.html'), 'utf8');
    const section = html.slice(html.indexOf('<h2>Pruning: accuracy and latency against sparsity</h2>'));
    expect(section.length).toBeGreaterThan(100);
    expect(section.slice(0, section.indexOf('<h2>', 10))).toMatch(/<svg[\s\S]*parameters removed or zero \(%\)[\s\S]*latency p50 \(ms\)[\s\S]*<\/svg>/);
    expect(fs.readFileSync(path.join(out, 'report.md'), 'utf8')).toMatch(/## Pruning: accuracy and latency against sparsity/);
  }, 600_000);

  it('prune (fine-tuned) → simplify → static int8 as one recipe rebuilds byte for byte; without --train-data it is refused in one line', async () => {
    const recipe = path.join(dir, 'recipe.json');
    const steps = [{ pass: 'prune', params: { granularity: 'channel', sparsity: 0.25, steps: 10 } }, { pass: 'simplify', params: {} }, { pass: 'quantize-static', params: {} }];
    fs.writeFileSync(recipe, JSON.stringify({ format: 'inferopt-recipe', version: 1, recipe: { target: 'cpu', steps, session: { threads: 2, optLevel: 'all', executionMode: 'sequential' } } }));
    const [a, b] = [path.join(dir, 'a'), path.join(dir, 'b')];
    // (ten steps on 1,200 images: accuracy is not what this checks)
    for (const o of [a, b]) expect((await runCli('optimize', MODEL, '--recipe', recipe, '-o', o, ...data, '--max-accuracy-drop', '50')).code).toBe(0);
    expect(fs.readFileSync(path.join(b, 'model.optimized.onnx'))).toEqual(fs.readFileSync(path.join(a, 'model.optimized.onnx')));
    expect(JSON.parse(fs.readFileSync(path.join(a, 'recipe.json'), 'utf8')).note).toMatch(/--train-data <the same training data>/);
    const r = await runCli('optimize', MODEL, '--recipe', recipe, '-o', path.join(dir, 'c'), '--data', 'data/fashion-mnist-1k', '--limit', '300');
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n').at(-1)).toMatch(/^inferopt: the recipe could not be applied: the prune step fine-tunes \(10 steps\): it needs training data \(--train-data\)$/);
    expect(fs.existsSync(path.join(dir, 'c'))).toBe(false);
  }, 600_000);
});
