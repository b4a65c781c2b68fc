import { describe, expect, it } from 'vitest';
import { DataType, GraphBuilder, Tensor, loadModel, modelToBytes } from '../ir/index.js';
import { initializerToConstant } from '../passes/constant-to-initializer.js';
import { expectEquivalent, opTypes, runOnCopy } from '../passes/testing.js';
import { rulePass } from './apply.js';
import { matchPattern } from './match.js';
import { P } from './pattern.js';
import type { RewriteRule } from './rule.js';

/** x·2 + x → x·3 (a toy rule exercising commutative matching, repeated vars and constants). */
const toy: RewriteRule = {
  name: 'toy-mul-add',
  doc: 'Add(Mul(x, 2), x) → Mul(x, 3)',
  patterns: [P.op('Add', [P.op('Mul', [P.v('x'), P.scalar(2)], { as: 'mul' }), P.v('x')])],
  check: (m) => (m.value('x').name === 'forbidden' ? 'x is forbidden' : undefined),
  replace: (m, b) => b.op('Mul', [m.value('x'), b.init('three', Tensor.scalar(DataType.FLOAT, 3))]),
};

describe('rewrite engine', () => {
  it('matches commutative operands in either order and binds repeated variables to one value', () => {
    const b = new GraphBuilder();
    const x = b.input('x', DataType.FLOAT, [2]);
    const y = b.input('y', DataType.FLOAT, [2]);
    const swapped = b.op('Add', [x, b.op('Mul', [b.scalar('two', 2), x])]);
    const other = b.op('Add', [y, b.op('Mul', [x, b.scalar('two2', 2)])]);
    expect(matchPattern(toy.patterns[0]!, swapped.producer!)?.value('x')).toBe(x);
    const fail = { depth: -1, reason: '' };
    expect(matchPattern(toy.patterns[0]!, other.producer!, fail)).toBeNull();
    expect(fail.reason).toMatch(/bound to two different values/);
  });

  it('applies a rule, keeps graph output names, refuses shared intermediates and explains refusals', async () => {
    const b = new GraphBuilder();
    const x = b.input('x', DataType.FLOAT, [3]);
    b.output(b.op('Add', [b.op('Mul', [x, b.scalar('two', 2)]), x]), 'y');
    const shared = b.op('Mul', [x, b.scalar('two_b', 2)]);
    b.output(b.op('Add', [shared, x]), 'z');
    b.output(shared, 'w'); // the Mul is a graph output: the rule must not fire on z
    const r = await runOnCopy(b.model(), [rulePass('toy', 'toy', [toy])]);
    expect(r.stats).toEqual({ 'toy-mul-add': 1 });
    expect(r.after.graph.outputs.map((o) => o.name)).toEqual(['y', 'z', 'w']);
    expect(r.explain.find((e) => !e.fired)?.reason).toMatch(/is a graph output/);
    await expectEquivalent(r.before, r.after);
  });

  it('--skip by rule name turns a rule off', async () => {
    const b = new GraphBuilder();
    const x = b.input('x', DataType.FLOAT, [3]);
    b.output(b.op('Add', [b.op('Mul', [x, b.scalar('two', 2)]), x]), 'y');
    const r = await runOnCopy(b.model(), [rulePass('toy', 'toy', [toy])], 'cpu', ['toy-mul-add']);
    expect(opTypes(r.after)).toEqual(['Mul', 'Add']);
  });

  it('initializer-to-constant turns weights back into Constant nodes', async () => {
    const b = new GraphBuilder();
    const x = b.input('x', DataType.FLOAT, [3]);
    b.output(b.op('Add', [x, b.floats('c', [3], [1, 2, 3])]), 'y');
    const m = b.model();
    const before = modelToBytes(m);
    initializerToConstant.run(m, { target: 'std' }, {});
    const after = loadModel(modelToBytes(m));
    expect(opTypes(after)).toEqual(['Constant', 'Add']);
    expect(after.graph.initializers.size).toBe(0);
    await expectEquivalent(before, after);
  });
});
