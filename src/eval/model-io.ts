import { InputError } from '../errors.js';
import { dtypeName } from '../ir/dtype.js';
import type { Model } from '../ir/graph.js';
import type { Tensor } from '../ir/tensor.js';
import { formatShape } from '../ir/types.js';
import type { ImagePreprocess } from '../data/image.js';
import { runtimeInputs } from '../runtime/inputs.js';

/**
 * Image preprocessing guessed from the model's only image-like input ([N, C, H, W] with C of 1 or 3, or
 * NHWC): resize to its static H×W, v/255. Used when the dataset spec declares none.
 */
export function defaultImagePreprocess(model: Model): ImagePreprocess {
  const inputs = runtimeInputs(model);
  const t = inputs.length === 1 && inputs[0]!.type?.kind === 'tensor' ? inputs[0]!.type : undefined;
  const shape = t?.shape;
  const p: ImagePreprocess = { normalize: 'unit' };
  if (!shape || shape.length !== 4) return p;
  const nhwc = (shape[3] === 1 || shape[3] === 3) && shape[1] !== 1 && shape[1] !== 3;
  const [c, h, w] = nhwc ? [shape[3], shape[1], shape[2]] : [shape[1], shape[2], shape[3]];
  if (nhwc) p.layout = 'nhwc';
  if (c === 1) p.color = 'gray';
  if (typeof h === 'number' && typeof w === 'number' && h > 0 && w > 0) p.size = [h, w];
  return p;
}

/** Checks feeds against the model's declared input types: same dtype, rank and fixed dims. */
export function checkFeeds(model: Model, feeds: Record<string, Tensor>): void {
  for (const v of runtimeInputs(model)) {
    const t = feeds[v.name];
    if (!t || v.type?.kind !== 'tensor') continue;
    const want = v.type;
    const shapeMsg = () => `model input '${v.name}' is ${dtypeName(want.elemType)}${formatShape(want.shape)}, the data gives ${dtypeName(t.dtype)}[${t.dims.join(',')}]`;
    if (t.dtype !== want.elemType) throw new InputError(`${shapeMsg()} (element type differs)`);
    if (!want.shape) continue;
    if (want.shape.length !== t.dims.length) throw new InputError(`${shapeMsg()} (rank differs)`);
    want.shape.forEach((d, i) => {
      if (typeof d === 'number' && d > 0 && d !== t.dims[i] && i > 0) throw new InputError(`${shapeMsg()} (dimension ${i} differs)`);
    });
  }
}

/** Rows of a batched output: sample i's values (a copy-free view when possible). */
export function sampleRows(t: Tensor, samples: number): { values: Float32Array; rowSize: number } {
  const values = t.toFloat32();
  if (t.dims[0] !== samples || values.length % samples !== 0) {
    throw new InputError(`output '${t.name}' has shape [${t.dims.join(',')}]; expected ${samples} samples along its first axis`);
  }
  return { values, rowSize: values.length / samples };
}
