import type { Model, Node } from '../ir/graph.js';
import { GraphBuilder } from '../ir/builder.js';
import { Tensor } from '../ir/tensor.js';
import type { Pass, PassContext, PassResult } from './pass.js';
import { allGraphs, opsetOf } from './util.js';

/**
 * For `--target std`: raises the default-domain opset from 17–19 to 20 so that the Erf GELU can become the
 * standard Gelu op — only when that is safe. Between 17 and 20 the one change that breaks existing nodes is
 * the Reduce* family taking `axes` as an input instead of an attribute (opset 18); those nodes are
 * rewritten. Any op whose schema changed in a way we do not rewrite blocks the upgrade. (Opset 19/20 changes
 * to Cast, Pad, Resize, Split, Scatter*, AveragePool… add types, inputs or attributes whose defaults keep the
 * old behaviour; DFT and GridSample changed signature or mode names and block the upgrade.)
 */

const REDUCE_AXES_TO_INPUT = new Set(['ReduceMean', 'ReduceMax', 'ReduceMin', 'ReduceProd', 'ReduceL1', 'ReduceL2', 'ReduceLogSum', 'ReduceLogSumExp', 'ReduceSumSquare']);
/** Ops whose meaning or signature changes from 17 to 20 in ways not rewritten here. */
const BLOCKING = new Set(['DFT', 'GridSample']);

const TARGET_OPSET = 20;

function blocker(model: Model): string | undefined {
  for (const g of allGraphs(model.graph)) {
    for (const n of g.nodes) {
      if (n.domain !== '' && n.domain !== 'ai.onnx') continue;
      if (BLOCKING.has(n.opType)) return `${n.opType} changes between opset ${opsetOf(model)} and ${TARGET_OPSET}`;
      if (n.opType === 'ReduceSum') continue; // axes is an input since 13
      if (REDUCE_AXES_TO_INPUT.has(n.opType) && n.inputs.length > 1) return `${n.name} already has an axes input`;
    }
  }
  return undefined;
}

function axesToInput(n: Node, b: GraphBuilder): void {
  const axes = n.attrInts('axes');
  n.attrs.delete('axes');
  if (axes) n.setInput(1, b.init(`${n.name}_axes`, Tensor.int64([axes.length], axes)));
}

export const upgradeOpsetForGelu: Pass = {
  id: 'upgrade-opset',
  doc: 'target std: raise opset 17–19 to 20 (rewriting Reduce* axes) so that GELU can be the standard Gelu op',
  params: {},
  run(model: Model, ctx: PassContext): PassResult {
    const opset = opsetOf(model);
    if (ctx.target !== 'std' || opset < 17 || opset >= TARGET_OPSET) return { model, modified: false };
    // only worth it when there is an Erf GELU to turn into Gelu
    const hasErf = [...model.graph.allNodes()].some((n) => n.opType === 'Erf');
    if (!hasErf) return { model, modified: false };
    const why = blocker(model);
    if (why) {
      ctx.explain?.({ pass: 'upgrade-opset', fired: false, reason: why });
      return { model, modified: false };
    }
    let rewritten = 0;
    for (const g of allGraphs(model.graph)) {
      const b = new GraphBuilder(g);
      for (const n of g.nodes) {
        if ((n.domain === '' || n.domain === 'ai.onnx') && REDUCE_AXES_TO_INPUT.has(n.opType)) {
          axesToInput(n, b);
          rewritten++;
        }
      }
    }
    model.opsetImports = model.opsetImports.map((o) => (o.domain === '' || o.domain === 'ai.onnx' ? { ...o, version: TARGET_OPSET } : o));
    model.irVersion = Math.max(model.irVersion, 9); // opset 20 needs IR 9
    ctx.explain?.({ pass: 'upgrade-opset', fired: true });
    return { model, modified: true, stats: { opsetRaised: TARGET_OPSET - opset, reduceNodesRewritten: rewritten } };
  },
};
