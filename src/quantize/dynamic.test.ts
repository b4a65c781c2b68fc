import { describe, expect, it } from 'vitest';
import { randomInputs } from '../runtime/inputs.js';
import { resolveParams } from '../passes/pass.js';
import { dynamicQuantizePass } from './dynamic.js';
import { compareModels } from './fidelity.js';
import { mlpModel } from './fixtures.js';
import { loadModel, modelToBytes } from '../ir/io.js';
import { GraphBuilder } from '../ir/builder.js';
import { checkModel } from '../ir/check.js';
import { DataType } from '../ir/dtype.js';
import { Graph, type Model } from '../ir/graph.js';
import { rng } from '../util/random.js';
import { quantizeModel } from './quantize.js';

const feeds = (m: ReturnType<typeof mlpModel>) => [0, 1, 2].map((seed) => randomInputs(m, { dims: { N: 8 }, seed }));
const ops = (m: ReturnType<typeof mlpModel>) => m.graph.nodes.map((n) => n.opType);

describe('dynamic quantization', () => {
  for (const target of ['cpu', 'std'] as const) {
    for (const perChannel of [false, true]) {
      it(`target ${target}, per-channel ${perChannel}: int8 weights, outputs close to fp32`, async () => {
        const ref = mlpModel();
        const m = loadModel(modelToBytes(ref));
        const r = await dynamicQuantizePass.run(m, { target }, resolveParams(dynamicQuantizePass, { perChannel }));
        expect(r.stats?.quantized).toBe(3);
        const types = ops(r.model);
        if (target === 'cpu') expect(types.filter((t) => t === 'DynamicQuantizeMatMul')).toHaveLength(3);
        else {
          expect(types.filter((t) => t === 'MatMulInteger')).toHaveLength(3);
          expect(types.filter((t) => t === 'DynamicQuantizeLinear')).toHaveLength(3);
          expect(types).not.toContain('MatMul');
        }
        expect(types).not.toContain('Gemm');
        // the float weights are gone
        expect([...r.model.graph.initializers.keys()].filter((k) => /^w\d$/.test(k))).toEqual([]);
        const [f] = await compareModels(ref, loadModel(modelToBytes(r.model)), feeds(ref));
        expect(f!.sqnr).toBeGreaterThan(25);
        expect(f!.top1).toBeGreaterThan(0.9);
      });
    }
  }

  it('honours include and exclude lists', async () => {
    const m = mlpModel();
    const r = await dynamicQuantizePass.run(m, { target: 'cpu' }, resolveParams(dynamicQuantizePass, { exclude: ['fc2'], include: ['MatMul', 'Gemm'] }));
    expect(r.stats?.quantized).toBe(2);
    expect(ops(r.model)).toContain('Gemm');
  });
});

describe('quantization inside If branches (Silero VAD keeps its work there)', () => {
  /** Two Ifs on one condition: a MatMul per branch (outer and in-branch weights) and a Conv per branch. */
  function branchy(): Model {
    const r = rng(11);
    const rand = (n: number, s = 0.3) => Array.from({ length: n }, () => (r() - 0.5) * 2 * s);
    const b = new GraphBuilder();
    const x = b.input('x', DataType.FLOAT, [4, 32]);
    const img = b.input('img', DataType.FLOAT, [1, 2, 8, 8]);
    const cond = b.input('c', DataType.BOOL, []);
    const wOuter = b.floats('w_outer', [32, 16], rand(512)); // read inside a branch: an outer-scope weight
    const then = new Graph('then');
    const tb = new GraphBuilder(then);
    tb.output(tb.op('Relu', [tb.op('MatMul', [x, wOuter])]), 'then_mm');
    const els = new Graph('else');
    const eb = new GraphBuilder(els);
    eb.output(eb.op('MatMul', [x, eb.floats('w_else', [32, 16], rand(512))]), 'else_mm');
    b.output(b.op('If', [cond], { then_branch: then, else_branch: els }), 'mm');
    const then2 = new Graph('then2');
    const tb2 = new GraphBuilder(then2);
    tb2.output(tb2.op('Conv', [img, tb2.floats('k_then', [4, 2, 3, 3], rand(72)), tb2.floats('b_then', [4], rand(4))], { pads: [1, 1, 1, 1] }), 'then_conv');
    const els2 = new Graph('else2');
    const eb2 = new GraphBuilder(els2);
    eb2.output(eb2.op('Conv', [img, eb2.floats('k_else', [4, 2, 3, 3], rand(72))], { strides: [2, 2] }), 'else_conv');
    b.output(b.op('If', [cond], { then_branch: then2, else_branch: els2 }), 'conv');
    return b.model({ opset: 17 });
  }
  const branchOps = (m: Model) => m.graph.nodes.filter((n) => n.opType === 'If').flatMap((n) => n.subgraphs().map((g) => g.nodes.map((k) => k.opType).join(',')));
  /** SQNR (dB) of every output, on both branches. */
  async function sqnrs(ref: Model, q: Model): Promise<number[]> {
    const out: number[] = [];
    for (const c of [1, 0]) {
      const feeds = [0, 1].map((seed) => randomInputs(ref, { seed, values: { c } }));
      for (const d of await compareModels(ref, loadModel(modelToBytes(q)), feeds)) out.push(d.sqnr);
    }
    return out;
  }

  for (const target of ['cpu', 'std'] as const) {
    it(`target ${target}: MatMuls in both branches (outer and in-branch weights), Conv when included; ORT runs both branches, outputs close`, async () => {
      const ref = branchy();
      const plain = await quantizeModel(ref, { mode: 'dynamic', target });
      expect(plain.stats).toMatchObject({ quantized: 2, inSubgraphs: 2 });
      expect(plain.notes).toEqual([]);
      const mm = target === 'cpu' ? 'DynamicQuantizeMatMul' : 'DynamicQuantizeLinear,MatMulInteger,Cast,Mul,Mul';
      expect(branchOps(plain.model)).toEqual([`${mm}${target === 'cpu' ? ',Relu' : ',Relu'}`, mm, 'Conv', 'Conv']);
      const all = await quantizeModel(ref, { mode: 'dynamic', target, include: ['MatMul', 'Conv'] });
      expect(all.stats).toMatchObject({ quantized: 4, inSubgraphs: 4 });
      const conv = (bias: boolean) => `DynamicQuantizeLinear,ConvInteger,Cast,Mul,Mul${bias ? ',Add' : ''}`;
      expect(branchOps(all.model).slice(2)).toEqual([conv(true), conv(false)]);
      // the float weights are gone, the outer one included; the result is a valid graph (no shadowed names)
      expect(all.model.graph.initializers.has('w_outer')).toBe(false);
      expect(checkModel(all.model)).toEqual([]);
      for (const s of await sqnrs(ref, all.model)) expect(s).toBeGreaterThan(30);
    });
  }

  it('weight-only (MatMulNBits) inside branches; static names what it leaves float; nothing quantized says why', async () => {
    const ref = branchy();
    const w4 = await quantizeModel(ref, { mode: 'weight-only', bits: 4, blockSize: 32 });
    expect(w4.stats).toMatchObject({ quantized: 2, inSubgraphs: 2 });
    expect(branchOps(w4.model).slice(0, 2)).toEqual(['MatMulNBits,Relu', 'MatMulNBits']);
    for (const s of await sqnrs(ref, w4.model)) expect(s).toBeGreaterThan(12);
    const calibration = [0, 1, 2].map((seed) => randomInputs(ref, { seed, values: { c: seed % 2 } }));
    const st = await quantizeModel(ref, { mode: 'static', calibration });
    expect(st.stats.quantizedNodes).toBe(0);
    expect(st.notes).toEqual(['nothing quantized: static: its 2 Conv, 2 MatMul are all inside If/Loop/Scan bodies, where calibration cannot observe values; --mode dynamic --include Conv quantizes them']);
    // a model with only Conv: dynamic quantizes nothing by default, and says why and what would
    const convOnly = branchy();
    convOnly.graph.nodes.splice(0, 1); // drop the MatMul If
    convOnly.graph.outputs.splice(0, 1);
    const none = await quantizeModel(convOnly, { mode: 'dynamic' });
    expect(none.stats.quantized).toBe(0);
    expect(none.notes).toEqual([
      expect.stringMatching(/^nothing quantized: dynamic rewrites MatMul, Gemm, [^;]*, and the model's compute ops are 2 Conv \(all inside If\/Loop\/Scan bodies\); Conv is quantized with --include Conv \(ConvInteger, often slower than float Conv on CPU\)$/),
    ]);
  });
});
