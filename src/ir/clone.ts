import type { Model } from './graph.js';
import { modelFromBytes, modelToBytes } from './bytes.js';

/** A deep copy of a model (through the encoder; the copy shares no object with the original). */
export function cloneModel(model: Model): Model {
  return modelFromBytes(modelToBytes(model), undefined, { check: false }); // the original was checked when it was made
}
