import type { Model, Node } from '../ir/graph.js';
import { GraphBuilder } from '../ir/builder.js';
import { Tensor } from '../ir/tensor.js';
import { opTraits } from '../ops/index.js';
import type { Pass, PassContext, PassResult } from './pass.js';
import { allGraphs, opsetOf } from './util.js';

/**
 * For `--target std`: raises the default-domain opset from 17–19 to 20 so that the Erf GELU can become the
 * standard Gelu op — only when that is safe. Between 17 and 20 the one change that breaks existing nodes is
 * the Reduce* family taking `axes` as an input instead of an attribute (opset 18); those nodes are
 * rewritten. Any op whose schema changed in a way we do not rewrite blocks the upgrade. (Opset 19/20 changes
 * to Cast, Pad, Resize, Split, Scatter*, AveragePool… add types, inputs or attributes whose defaults keep the
 * old behaviour; DFT and GridSample changed signature or mode names and block the upgrade.) Both facts are
 * op registry traits: `axesInputSince` and `breaksAt`.
 */

const TARGET_OPSET = 20;

/** Whether `n` (default domain) takes `axes` as an input at the target but as an attribute at `opset`. */
function axesMoveToInput(n: Node, opset: number): boolean {
  const since = opTraits(n.domain, n.opType).axesInputSince;
  return since !== undefined && since > opset && since <= TARGET_OPSET;
}

function blocker(model: Model): string | undefined {
  for (const g of allGraphs(model.graph)) {
    for (const n of g.nodes) {
      if (n.domain !== '' && n.domain !== 'ai.onnx') continue;
      const opset = opsetOf(model);
      if (opTraits(n.domain, n.opType).breaksAt?.some((v) => v > opset && v <= TARGET_OPSET)) return `${n.opType} changes between opset ${opset} and ${TARGET_OPSET}`;
      if (axesMoveToInput(n, opset) && n.inputs.length > 1) return `${n.name} already has an axes input`;
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
        if ((n.domain === '' || n.domain === 'ai.onnx') && axesMoveToInput(n, opset)) {
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
