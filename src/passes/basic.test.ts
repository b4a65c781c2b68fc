import { describe, expect, it } from 'vitest';
import { DataType, Graph, GraphBuilder, Tensor, attr } from '../ir/index.js';
import { constantToInitializer } from './constant-to-initializer.js';
import { cse } from './cse.js';
import { deadCode } from './dead-code.js';
import { foldConstants } from './fold-constants.js';
import { inferShapesPass } from './infer-shapes.js';
import { eliminateNoops } from './rules/noop.js';
import { expectEquivalent, opTypes, runOnCopy } from './testing.js';

const seq = (n: number, scale = 0.1) => Array.from({ length: n }, (_, i) => ((i * 7) % 11) * scale - 0.5);

describe('simplification passes', () => {
  it('constant-to-initializer turns Constant nodes into initializers', async () => {
    const b = new GraphBuilder();
    const x = b.input('x', DataType.FLOAT, [2, 3]);
    const c = b.op('Constant', [], { value: Tensor.float([3], [1, 2, 3]) });
    const k = b.op('Constant', [], { value_float: attr.float(0.5) });
    b.output(b.op('Mul', [b.op('Add', [x, c]), k]), 'y');
    const r = await runOnCopy(b.model(), [constantToInitializer]);
    expect(opTypes(r.after)).toEqual(['Add', 'Mul']);
    expect(r.after.graph.initializers.size).toBe(2);
    await expectEquivalent(r.before, r.after);
  });

  it('dead-code removes unused nodes and initializers, keeps graph outputs', async () => {
    const b = new GraphBuilder();
    const x = b.input('x', DataType.FLOAT, [2, 3]);
    const unusedW = b.floats('unused', [3], [1, 2, 3]);
    b.op('Relu', [b.op('Add', [x, unusedW])]); // nothing reads this chain
    b.output(b.op('Sigmoid', [x]), 'y');
    const r = await runOnCopy(b.model(), [deadCode]);
    expect(opTypes(r.after)).toEqual(['Sigmoid']);
    expect(r.after.graph.initializers.size).toBe(0);
    expect(r.stats).toMatchObject({ nodesRemoved: 2, initializersRemoved: 1 });
    await expectEquivalent(r.before, r.after);
  });

  it('cse merges identical nodes and initializers', async () => {
    const b = new GraphBuilder();
    const x = b.input('x', DataType.FLOAT, [2, 3]);
    const w1 = b.floats('w1', [3], [1, 2, 3]);
    const w2 = b.floats('w2', [3], [1, 2, 3]);
    const a1 = b.op('Exp', [b.op('Mul', [x, w1])]);
    const a2 = b.op('Exp', [b.op('Mul', [x, w2])]);
    b.output(b.op('Sub', [a1, a2]), 'y');
    b.output(b.op('Exp', [b.op('Mul', [x, w1])]), 'z');
    const r = await runOnCopy(b.model(), [cse, deadCode]);
    expect(opTypes(r.after).sort()).toEqual(['Exp', 'Mul', 'Sub']);
    expect(r.after.graph.outputs.map((v) => v.name)).toEqual(['y', 'z']);
    await expectEquivalent(r.before, r.after);
  });

  it('fold-constants evaluates constant subgraphs and known shapes, refuses to inflate', async () => {
    const b = new GraphBuilder();
    const x = b.input('x', DataType.FLOAT, [2, 3]);
    const w = b.floats('w', [3, 2], seq(6));
    const wt = b.op('Transpose', [w], { perm: [1, 0] }); // [2,3], same size: folded
    const shape = b.op('Shape', [x]); // static: folded to [2,3]
    const big = b.op('ConstantOfShape', [b.ints('s', [1000, 100])], { value: Tensor.float([1], [0.25]) }); // 400 kB from 16 B
    const red = b.op('ReduceSum', [big], { keepdims: 0 }); // a scalar from the big tensor: folded
    const y = b.op('Add', [b.op('Reshape', [b.op('Mul', [x, wt]), shape]), red]);
    b.output(y, 'y');
    b.output(b.op('Add', [big, b.op('ReduceSum', [x], { keepdims: 0 })]), 'z'); // big itself is needed: kept
    const r = await runOnCopy(b.model(), [inferShapesPass, foldConstants, deadCode]);
    expect(opTypes(r.after)).toEqual(['ConstantOfShape', 'Mul', 'Reshape', 'Add', 'ReduceSum', 'Add']);
    const explained = r.explain.filter((e) => !e.fired).map((e) => e.reason).join('\n');
    expect(explained).toMatch(/over the limit/);
    await expectEquivalent(r.before, r.after);
  });

  it('fold-constants never evaluates an inflating op whose output is unknown or huge', async () => {
    const b = new GraphBuilder();
    const x = b.input('x', DataType.FLOAT, [2]);
    const huge = b.op('ConstantOfShape', [b.ints('s', [100000, 100000])], { value: Tensor.float([1], [1]) }); // 40 GB if run
    b.output(b.op('Add', [x, b.op('ReduceSum', [huge], { keepdims: 0 })]), 'y');
    for (const passes of [[foldConstants], [inferShapesPass, foldConstants]]) {
      const r = await runOnCopy(b.model(), passes); // size unknown, then known to be huge
      expect(opTypes(r.after)).toEqual(['ConstantOfShape', 'ReduceSum', 'Add']);
    }
  });

  it('eliminate-noops removes Identity, Dropout, same-type Cast, same-shape Reshape and cancelling Transposes', async () => {
    const b = new GraphBuilder();
    const x = b.input('x', DataType.FLOAT, [2, 3, 4]);
    let h = b.op('Identity', [x]);
    h = b.op('Dropout', [h]);
    h = b.op('Cast', [h], { to: DataType.FLOAT });
    h.type = { kind: 'tensor', elemType: DataType.FLOAT, shape: [2, 3, 4] };
    h = b.op('Reshape', [h, b.ints('same', [2, -1, 4])]);
    h = b.op('Transpose', [b.op('Transpose', [h], { perm: [0, 2, 1] })], { perm: [0, 2, 1] });
    h = b.op('Relu', [h]);
    h = b.op('Transpose', [b.op('Transpose', [h], { perm: [1, 0, 2] })], { perm: [0, 2, 1] }); // merge into one
    b.output(b.op('Identity', [h]), 'y');
    const r = await runOnCopy(b.model(), [eliminateNoops, deadCode]);
    expect(opTypes(r.after)).toEqual(['Relu', 'Transpose']);
    expect(r.after.graph.nodes[1]!.attrInts('perm')).toEqual([1, 2, 0]);
    expect(r.after.graph.outputs[0]!.name).toBe('y');
    await expectEquivalent(r.before, r.after);
  });

  it('keeps an Identity that connects a graph input straight to a graph output', async () => {
    const b = new GraphBuilder();
    const x = b.input('x', DataType.FLOAT, [2]);
    b.output(b.op('Identity', [x]), 'y');
    const r = await runOnCopy(b.model(), [eliminateNoops]);
    expect(opTypes(r.after)).toEqual(['Identity']);
    expect(r.explain.some((e) => !e.fired && /cannot be renamed/.test(e.reason ?? ''))).toBe(true);
  });
});

describe('simplification inside If branches', () => {
  // Silero VAD: a branch that returns an outer value through Identity. Removing that Identity made the branch
  // return the outer value directly, which ONNX Runtime refuses ("an outer scope value being returned directly").
  it('keeps an Identity that returns an outer value from a branch, removes one over a branch value', async () => {
    const b = new GraphBuilder();
    const x = b.input('x', DataType.FLOAT, [2, 3]);
    const cond = b.input('c', DataType.BOOL, []);
    const outer = b.op('Relu', [x]);
    const then = new Graph('then');
    const tb = new GraphBuilder(then);
    tb.output(tb.op('Identity', [outer]), 'then_out');
    const els = new Graph('else');
    const eb = new GraphBuilder(els);
    eb.output(eb.op('Identity', [eb.op('Neg', [outer])]), 'else_out');
    b.output(b.op('If', [cond], { then_branch: then, else_branch: els }), 'y');
    const r = await runOnCopy(b.model(), [eliminateNoops]);
    const [thenAfter, elseAfter] = r.after.graph.nodes.find((n) => n.opType === 'If')!.subgraphs();
    expect(thenAfter!.nodes.map((n) => n.opType)).toEqual(['Identity']);
    expect(elseAfter!.nodes.map((n) => n.opType)).toEqual(['Neg']);
    for (const c of [0, 1]) await expectEquivalent(r.before, r.after, { values: { c: c as number } });
  });
});

describe('folding and CSE inside If branches', () => {
  it('folds constant work and merges duplicate nodes inside a branch; equivalent on both branches', async () => {
    const b = new GraphBuilder();
    const x = b.input('x', DataType.FLOAT, [2, 3]);
    const cond = b.input('c', DataType.BOOL, []);
    const w = b.floats('w', [3], [1, 2, 3]);
    const then = new Graph('then');
    const tb = new GraphBuilder(then);
    const k = tb.op('Mul', [w, tb.floats('two', [3], [2, 2, 2])]); // constant: folded
    const a1 = tb.op('Exp', [tb.op('Add', [x, k])]);
    const a2 = tb.op('Exp', [tb.op('Add', [x, k])]); // duplicate: merged
    tb.output(tb.op('Sub', [a1, a2]), 'then_out');
    const els = new Graph('else');
    const eb = new GraphBuilder(els);
    eb.output(eb.op('Neg', [x]), 'else_out');
    b.output(b.op('If', [cond], { then_branch: then, else_branch: els }), 'y');
    const r = await runOnCopy(b.model(), [foldConstants, cse, deadCode]);
    const [thenAfter] = r.after.graph.nodes.find((n) => n.opType === 'If')!.subgraphs();
    expect(thenAfter!.nodes.map((n) => n.opType)).toEqual(['Add', 'Exp', 'Sub']);
    expect(r.stats).toMatchObject({ folded: 1, nodesMerged: 2 });
    for (const c of [0, 1]) await expectEquivalent(r.before, r.after, { values: { c } });
  });
});
