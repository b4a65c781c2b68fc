import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../ir/builder.js';
import { DataType } from '../ir/dtype.js';
import { Graph, type Model } from '../ir/graph.js';
import { modelToBytes } from '../ir/io.js';
import { Tensor } from '../ir/tensor.js';
import { randomInputs } from '../runtime/inputs.js';
import { compareModels } from '../quantize/fidelity.js';
import { runOnCopy } from './testing.js';
import { upgradeOpsetForGelu } from './upgrade-opset.js';

/**
 * `--target std`'s upgrade 17 → 20 goes through the op registry's interpreter (src/ops/signature.ts): the
 * Reduce ops' axes attributes become inputs (at 18), in If bodies too, with ORT's outputs unchanged; an op that
 * changed meaning on the way (GridSample's mode names at 20) leaves the model as it was, and says so.
 */

/** x → ReduceMean(-1) → Erf, and an If whose branches reduce with ReduceMax(axes [0]) and ReduceL2 (no axes). */
function model17(extra?: (b: GraphBuilder, x: ReturnType<GraphBuilder['input']>) => void): Model {
  const b = new GraphBuilder();
  const x = b.input('x', DataType.FLOAT, [3, 4]);
  const c = b.input('c', DataType.BOOL, []);
  b.output(b.op('Erf', [b.op('ReduceMean', [x], { axes: [-1] })]), 'y');
  const then = new Graph('then');
  const tb = new GraphBuilder(then);
  tb.output(tb.op('ReduceMax', [x], { axes: [0], keepdims: 0 }), 'then_y');
  const els = new Graph('else');
  const eb = new GraphBuilder(els);
  eb.output(eb.op('Reshape', [eb.op('ReduceL2', [x], { keepdims: 0 }), eb.init('shape', Tensor.int64([1], [1]))]), 'else_y');
  b.output(b.op('If', [c], { then_branch: then, else_branch: els }), 'z');
  extra?.(b, x);
  return b.model({ opset: 17 });
}

describe('upgrade-opset (target std, 17 → 20) through the registry\'s signatureChanges', () => {
  it('moves every Reduce axes attribute to input 1, in the If body too; ORT gives the same outputs bit for bit', async () => {
    const ref = model17();
    const r = await runOnCopy(ref, [upgradeOpsetForGelu], 'std');
    expect(r.after.opset('')).toBe(20);
    expect(r.stats).toEqual({ opsetRaised: 3, nodesRewritten: 3 });
    const reduces = [...r.after.graph.allNodes()].filter((n) => n.opType.startsWith('Reduce'));
    expect(reduces.map((n) => [n.opType, n.attrs.has('axes'), n.input(1)?.constTensor()?.toNumbers()])).toEqual([
      ['ReduceMean', false, [-1]],
      ['ReduceMax', false, [0]],
      ['ReduceL2', false, undefined],
    ]);
    for (const c of [1, 0]) {
      const fs = await compareModels(ref, r.after, [randomInputs(ref, { seed: 5, values: { c } })]);
      expect(fs.map((f) => [f.name, f.problem])).toEqual([['y', undefined], ['z', undefined]]);
      for (const f of fs) expect(f.maxAbs, `${f.name} (c=${c})`).toBe(0);
    }
  });

  it('an op that changed meaning between 17 and 20 (GridSample at 20) blocks it: the model stays at 17, and the reason is given', async () => {
    const ref = model17((b, x) => {
      const img = b.op('Reshape', [x, b.init('img_shape', Tensor.int64([4], [1, 1, 3, 4]))]);
      b.output(b.op('GridSample', [img, b.floats('grid', [1, 2, 2, 2], [0, 0, 0.5, 0.5, -0.5, 0.5, 1, -1])], { mode: 'bilinear' }, { name: 'gs' }), 'g');
    });
    const r = await runOnCopy(ref, [upgradeOpsetForGelu], 'std');
    expect(r.after.opset('')).toBe(17);
    expect(modelToBytes(r.after)).toEqual(r.before);
    expect(r.explain).toEqual([{ pass: 'upgrade-opset', fired: false, reason: "GridSample 'gs' changed meaning at opset 20" }]);
  });
});
