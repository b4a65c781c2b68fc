import { describe, expect, it } from 'vitest';
import { cnnModel } from '../quantize/fixtures.js';
import { quantizeModel } from '../quantize/quantize.js';
import { aggregateKernels } from '../report/profile/aggregate.js';
import { markdownReport } from '../report/markdown.js';
import type { OptimizeResults } from '../report/results.js';
import { randomInputs } from '../runtime/inputs.js';
import { ortKernels } from '../runtime/kernels.js';
import { profileModel } from '../runtime/profile.js';
import { explainSlower, explainSlowerCandidates } from './explain.js';
import { DEFAULT_SESSION, type Recipe } from './recipe.js';
import type { Candidate } from './search.js';

const session = DEFAULT_SESSION;
const recipe = (activationType: string, threads = session.threads): Recipe => ({ target: 'cpu', steps: [{ pass: 'quantize-static', params: { activationType } }], session: { ...session, threads } });
const candidate = (id: number, r: Recipe, speedup: number, high: number): Candidate => ({
  id,
  stage: 'refine',
  recipe: r,
  label: `quantize-static(activationType=${String(r.steps[0]?.params.activationType)})`,
  measurement: { latency: { p50: 1, p99: 1, mean: 1 }, sizeBytes: 1, metric: { name: 'top1', value: 1, higherIsBetter: true, scale: 'fraction' }, vsBaseline: { speedup, low: speedup * 0.9, high } },
  meetsAll: false,
  accurate: true,
  verdict: 'dropped',
  reason: '2.27× the latency of the best so far',
  evalMs: 1,
});

describe('why a quantized candidate is slower', () => {
  it('names the kernels ORT ran, the op types that added time, the conversions’ share and the session change', () => {
    const text = explainSlower({
      speedup: { speedup: 0.67, low: 0.61, high: 0.7 },
      kernels: { int8: {}, float: { Conv: 18, FusedConv: 2 }, int8Total: 0, floatTotal: 20, unfusedQdq: 20 },
      baseline: [
        { opType: 'Conv', ms: 10, share: 0.9, calls: 1, nodes: 20 },
        { opType: 'Add', ms: 1, share: 0.1, calls: 1, nodes: 1 },
      ],
      candidate: [
        { opType: 'Conv', ms: 11, share: 0.55, calls: 1, nodes: 20 },
        { opType: 'DequantizeLinear', ms: 6, share: 0.3, calls: 1, nodes: 20 },
        { opType: 'QuantizeLinear', ms: 2, share: 0.1, calls: 1, nodes: 20 },
        { opType: 'Add', ms: 1, share: 0.05, calls: 1, nodes: 1 },
      ],
      baseSession: session,
      session: { ...session, threads: 1 },
    });
    expect(text).toBe(
      "0.67× the baseline's speed [95% 0.61–0.70]; ONNX Runtime runs 0 of the 20 compute ops as int8 kernels (none); 20 stay float (18 Conv, 2 FusedConv, 20 of them reading a DequantizeLinear ORT did not fuse); " +
        'the most added time per op type (ORT profiler, ms per run, baseline → candidate): DequantizeLinear none → 6.00, QuantizeLinear none → 2.00, Conv 10.00 → 11.00; ' +
        'quantize/dequantize kernels take 40% of its kernel time; session: 1 thread (baseline 2)',
    );
  });

  // S8S8 QDQ Conv (int8 activations) is left as DequantizeLinear → float Conv by ORT on x86: optimize dropped
  // such candidates as "2.27× the latency of the best so far" and said nothing about why
  it('explains a significantly slower S8S8 candidate from ORT’s kernels and profile; not a faster one, not an unquantized one', async () => {
    const float = cnnModel();
    const feeds = randomInputs(float, { dims: { N: 1 } });
    const calibration = [feeds, randomInputs(float, { dims: { N: 1 }, seed: 2 })];
    const built = new Map<string, Awaited<ReturnType<typeof quantizeModel>>['model']>();
    for (const t of ['int8', 'uint8']) built.set(t, (await quantizeModel(cnnModel(), { mode: 'static', activationType: t as 'int8' | 'uint8', calibration })).model);
    const profile = async (m: typeof float) => {
      const p = await profileModel(m, feeds, { backend: 'node', threads: 1, dims: { N: 1 }, runs: 3, warmup: 1 });
      return aggregateKernels(p.kernels, p.runsUs, 'median').byOpType;
    };
    const base: Candidate = { ...candidate(0, { target: 'cpu', steps: [], session }, 1, 1), verdict: 'baseline' };
    const s8 = candidate(1, recipe('int8'), 0.6, 0.7);
    const u8 = candidate(2, recipe('uint8'), 1.5, 1.7);
    const unquantized: Candidate = { ...candidate(3, { target: 'cpu', steps: [{ pass: 'simplify', params: {} }], session: { ...session, threads: 1 } }, 0.5, 0.6), label: 'no passes | 1 thread' };
    const explained = await explainSlowerCandidates([base, s8, u8, unquantized], base, {
      quantizes: (r) => r.steps.some((s) => s.pass.startsWith('quantize')),
      build: async (r) => built.get(String(r.steps[0]!.params.activationType))!,
      kernels: (m) => ortKernels(m, { dims: { N: 1 } }),
      profile,
      baseline: await profile(float),
    });
    expect(explained).toEqual([s8]);
    const k = await ortKernels(built.get('int8')!, { dims: { N: 1 } });
    expect(k.unfusedQdq).toBeGreaterThan(0);
    expect(s8.explanation).toContain(`ONNX Runtime runs ${k.int8Total} of the ${k.int8Total + k.floatTotal} compute ops as int8 kernels`);
    expect(s8.explanation).toContain(`${k.unfusedQdq} of them reading a DequantizeLinear ORT did not fuse`);
    expect(s8.explanation).toMatch(/DequantizeLinear none → [\d.]+/);
    expect(s8.explanation).toMatch(/quantize\/dequantize kernels take \d+% of its kernel time/);
    expect(u8.explanation).toBeUndefined();
    expect(unquantized.explanation).toBeUndefined();

    // the report shows it (results.json carries it on the candidate)
    const results = { model: { file: 'cnn.onnx' }, baseline: base, chosen: base, candidates: [base, s8, u8], skipped: [], warnings: [], failures: [], goalsText: [], metric: { name: 'top1', source: 'data', note: '' }, timing: { source: 'data', shapes: [], note: 'x', threads: { baseline: 2, chosen: 2 }, backend: 'node' }, environment: { cpu: 'x', cores: 2, memoryGB: 1, platform: 'linux', node: '20', onnxruntime: {}, inferopt: '0' }, outputs: {}, stopped: 'done', target: 'cpu', budget: '1', met: true, pareto: [], searchWallMs: 1 } as unknown as OptimizeResults;
    const md = markdownReport(results);
    expect(md).toContain('## Why the slower quantized candidates were slower');
    expect(md).toContain(`- #1 quantize-static(activationType=int8): 0.60× the baseline's speed`);
  });
});
