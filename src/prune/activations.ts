import type { Model } from '../ir/graph.js';
import type { Tensor } from '../ir/tensor.js';
import { Session } from '../runtime/session.js';
import { cloneModel } from './structured.js';
import type { PrunableWeight } from './unstructured.js';

/**
 * Wanda's activation statistics: ‖x_j‖₂ over calibration data for every input feature j of each prunable
 * weight (the channel axis 1 of a Conv input, the last axis of a Gemm/MatMul input), computed by running the
 * model with those inputs as extra outputs. Weights whose reduction axis does not match their input's
 * features (depthwise, transposed operands) are left out and fall back to |w|.
 */
export async function activationNorms(model: Model, weights: readonly PrunableWeight[], feeds: AsyncIterable<Record<string, Tensor>> | Iterable<Record<string, Tensor>>, threads = 2): Promise<Map<string, Float32Array>> {
  const m = cloneModel(model);
  const wanted = new Map<string, { weight: PrunableWeight; value: string }[]>();
  for (const w of weights) {
    const node = m.graph.nodes.find((n) => n.name === w.node.name && n.opType === w.node.opType);
    const x = node?.inputs[0];
    if (!node || !x || x.constTensor()) continue;
    if (node.opType === 'Gemm' && node.attrInt('transA', 0) === 1) continue;
    wanted.set(x.name, [...(wanted.get(x.name) ?? []), { weight: w, value: x.name }]);
    if (!m.graph.outputs.includes(x) && !m.graph.inputs.includes(x)) m.graph.outputs.push(x);
  }
  const session = await Session.create(m, { threads });
  const sums = new Map<string, Float64Array>();
  try {
    for await (const f of feeds as AsyncIterable<Record<string, Tensor>>) {
      const out = await session.run(f, [...wanted.keys()].filter((k) => !(k in f)));
      for (const name of wanted.keys()) {
        const t = out[name] ?? f[name];
        if (!t) continue;
        const isConv = wanted.get(name)![0]!.weight.node.opType.startsWith('Conv');
        const axis = isConv ? 1 : t.dims.length - 1;
        const n = t.dims[axis]!;
        const inner = t.dims.slice(axis + 1).reduce((a, b) => a * b, 1);
        const d = t.toFloat32();
        const acc = sums.get(name) ?? new Float64Array(n);
        for (let i = 0; i < d.length; i++) {
          const k = Math.floor(i / inner) % n;
          acc[k] = acc[k]! + d[i]! * d[i]!;
        }
        sums.set(name, acc);
      }
    }
  } finally {
    await session.release();
  }
  const norms = new Map<string, Float32Array>();
  for (const [name, list] of wanted) {
    const acc = sums.get(name);
    if (!acc) continue;
    for (const { weight } of list) {
      if (weight.dims[weight.reductionAxis] !== acc.length) continue;
      norms.set(weight.name, Float32Array.from(acc, Math.sqrt));
    }
  }
  return norms;
}
