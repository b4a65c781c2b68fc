import { InputError } from '../errors.js';
import type { Model } from '../ir/graph.js';
import { elemTypes, opsetUpgradeBlocker, upgradeModelOpset, type OpsetUpgradeOptions } from '../ops/index.js';

/**
 * Raises the default-domain opset of old models (PaddleOCR's exports are opset 9) to what quantized ops
 * need: 10 for QuantizeLinear/QLinearConv, 11 for DynamicQuantizeLinear. Ops whose signature changed on the
 * way are rewritten as the op registry declares (`signatureChanges`: attributes that became inputs, a new
 * name), by its one interpreter (src/ops/signature.ts); this file names no op. A model using an op whose
 * meaning changed in a way not handled there is refused rather than silently altered: the registry's
 * `breaksAt` trait, an attribute that cannot become an input of the declared type (Pad's value beside data of
 * unknown element type), and any node holding subgraphs (If, Loop, Scan: their bodies are not upgraded).
 */

const OPTIONS: OpsetUpgradeOptions = { subgraphs: 'refuse' };

export function upgradeOpset(model: Model, target: 10 | 11): boolean {
  const from = model.opset('') ?? 1;
  if (from >= target) return false;
  if (from < 9) throw new InputError(`opset ${from} is too old to quantize (inferopt upgrades from 9 onward)`);
  const elemType = elemTypes(model);
  const why = opsetUpgradeBlocker(model, target, OPTIONS, elemType);
  if (why) throw new InputError(`cannot raise opset ${from} → ${target} for quantization: ${why}`);
  upgradeModelOpset(model, target, OPTIONS, elemType);
  return true;
}

/** Whether `upgradeOpset(model, target)` would succeed (no node it refuses on the way, under the name it has then). */
export function wouldUpgrade(model: Model, target: 10 | 11): boolean {
  const from = model.opset('') ?? 1;
  if (from < 9) return false;
  return opsetUpgradeBlocker(model, target, OPTIONS) === undefined;
}
