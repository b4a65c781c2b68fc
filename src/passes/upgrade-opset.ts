import type { Model } from '../ir/graph.js';
import { elemTypes, opsetUpgradeBlocker, upgradeModelOpset, type OpsetUpgradeOptions } from '../ops/index.js';
import type { Pass, PassContext, PassResult } from './pass.js';
import { opsetOf } from './util.js';

/**
 * For `--target std`: raises the default-domain opset from 17–19 to 20 so that the Erf GELU can become the
 * standard Gelu op — only when that is safe. Between 17 and 20 the one change that breaks existing nodes is
 * the Reduce* family taking `axes` as an input instead of an attribute (opset 18); those nodes are rewritten,
 * in If/Loop/Scan bodies too. Any op whose schema changed in a way we do not rewrite blocks the upgrade.
 * (Opset 19/20 changes to Cast, Pad, Resize, Split, Scatter*, AveragePool… add types, inputs or attributes
 * whose defaults keep the old behaviour; DFT and GridSample changed signature or mode names and block the
 * upgrade.) Both facts are op registry traits, `signatureChanges` and `breaksAt`, read by the registry's one
 * interpreter (src/ops/signature.ts, as the quantizer's upgrade to opset 10/11); this file names no op.
 */

const TARGET_OPSET = 20;

const OPTIONS: OpsetUpgradeOptions = { subgraphs: 'rewrite' };

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
    const elemType = elemTypes(model);
    const why = opsetUpgradeBlocker(model, TARGET_OPSET, OPTIONS, elemType);
    if (why) {
      ctx.explain?.({ pass: 'upgrade-opset', fired: false, reason: why });
      return { model, modified: false };
    }
    const rewritten = upgradeModelOpset(model, TARGET_OPSET, OPTIONS, elemType);
    model.irVersion = Math.max(model.irVersion, 9); // opset 20 needs IR 9
    ctx.explain?.({ pass: 'upgrade-opset', fired: true });
    return { model, modified: true, stats: { opsetRaised: TARGET_OPSET - opset, nodesRewritten: rewritten } };
  },
};
