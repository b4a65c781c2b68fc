import { InputError } from '../errors.js';
import { opsWith } from '../ops/index.js';
import type { Pass, Target } from '../passes/pass.js';
import { simplifyModel } from '../passes/simplify.js';
import { dynamicQuantizePass } from '../quantize/dynamic.js';
import { halfPrecisionPass } from '../quantize/float16.js';
import { staticQuantizePass } from '../quantize/static.js';
import { weightOnlyQuantizePass } from '../quantize/weight-only.js';
import { qatPass } from '../train/qat.js';
import { prunePass } from './prune-step.js';
import { studentPass } from './student-step.js';
import type { SearchablePass } from './space.js';

/** What a pass needs at build time that a recipe does not carry (data, caches): the evaluator supplies it. */
export type BuildNeed = 'calibration' | 'training';

export interface CatalogEntry extends SearchablePass {
  needs?: readonly BuildNeed[];
  /** Supplied when the evaluator has it, else the step runs without it (a prune step fine-tunes only with training data). */
  uses?: readonly BuildNeed[];
}

/** `simplify` (cleanups and transformer fusions to a fixed point) as one recipe step. */
export const simplifyStep: Pass = {
  id: 'simplify',
  doc: 'constant folding, no-op/dead-code elimination, CSE, Conv/Gemm folding and transformer fusions, to a fixed point',
  params: {},
  async run(model, ctx) {
    const r = await simplifyModel(model, ctx, { inPlace: true });
    const stats: Record<string, number> = {};
    for (const p of r.passes) for (const [k, v] of Object.entries(p.stats)) stats[`${p.id}.${k}`] = v;
    return { model: r.model, modified: r.modified, stats };
  },
};

/** The op types (as profiles name kernels) of a registry kernel family, or that a pruning granularity shrinks. */
const kernelOps = (kernel: 'conv' | 'gemm') => opsWith((t) => t.kernel === kernel);
const prunedOps = (granularity: 'channel' | 'head' | 'ffn') => opsWith((t) => t.prunedBy?.includes(granularity) === true);

/**
 * The passes the optimizer searches over: where each goes in a recipe, what it speeds up (for pruning by the
 * profile) and what it needs at build time. Parameter values come from each pass's declared search values.
 */
export function searchCatalog(): CatalogEntry[] {
  const GEMM_OPS = kernelOps('gemm');
  const CONV_OPS = kernelOps('conv');
  return [
    { pass: simplifyStep, kind: 'graph', buildCost: 1 },
    { pass: dynamicQuantizePass, kind: 'quantize', buildCost: 2, speedsUp: GEMM_OPS, searchParams: ['perChannel', 'weightType'] },
    {
      pass: staticQuantizePass,
      kind: 'quantize',
      buildCost: 10,
      speedsUp: [...CONV_OPS, ...GEMM_OPS],
      needs: ['calibration'],
      searchParams: ['calibMethod', 'perChannel', 'activationType', 'symmetricActivations'],
      // on wasm the default leaves depthwise Conv float (no fast int8 depthwise kernel in onnxruntime-web): the
      // search also times it in int8, so a device where int8 depthwise pays gets it by measurement
      targetSearchParams: { wasm: ['depthwise'] },
    },
    {
      pass: weightOnlyQuantizePass,
      kind: 'quantize',
      buildCost: 3,
      speedsUp: GEMM_OPS,
      reducesSize: true,
      targets: ['cpu'],
      needs: ['calibration'],
      searchParams: ['bits', 'blockSize', 'accuracyLevel', 'algorithm'],
    },
    // ORT runs fp16 Conv/MatMul on CPU through Cast→fp32→Cast (FACTS.md): no speed-up, half the size.
    { pass: halfPrecisionPass, kind: 'quantize', buildCost: 2, speedsUp: [], reducesSize: true, needs: ['calibration'], searchParams: [] },
    // Pruning, one entry per granularity: each is tried at its sparsity search values (the sparsity plot of the
    // report), and the best accurate one that is faster goes under the quantizers. `speedsUp` here is what the
    // granularity acts on (unstructured and 2:4 zeros are still multiplied on CPU: measured, they tie).
    ...(['channel', 'head', 'ffn', 'unstructured', 'n:m'] as const).map((granularity): CatalogEntry => ({
      pass: prunePass,
      kind: 'prune',
      variant: granularity,
      params: { granularity },
      buildCost: granularity === 'channel' || granularity === 'n:m' ? 4 : 5,
      speedsUp: granularity === 'channel' || granularity === 'head' || granularity === 'ffn' ? prunedOps(granularity) : [...CONV_OPS, ...GEMM_OPS],
      needs: ['calibration'],
      uses: ['training'],
      searchParams: granularity === 'n:m' ? [] : ['sparsity'],
    })),
    // A student from the teacher (every 2nd, then every 4th repeated layer, distilled): with --train-data only,
    // tried with the prune steps; the quantizers go on it as on a pruned model.
    { pass: studentPass, kind: 'prune', variant: 'student', buildCost: 50, needs: ['training'], searchParams: ['every'] },
    // tried only in place of a static quantization that missed the accuracy goal (search.ts), with --train-data
    { pass: qatPass, kind: 'train', buildCost: 100, speedsUp: [...CONV_OPS, ...GEMM_OPS], needs: ['calibration', 'training'], searchParams: [] },
  ];
}

/** The catalog entry of a pass a recipe names. */
export function passById(id: string, catalog: readonly CatalogEntry[] = searchCatalog()): CatalogEntry {
  const e = catalog.find((c) => c.pass.id === id);
  if (!e) throw new InputError(`unknown pass '${id}' in the recipe (known: ${[...new Set(catalog.map((c) => c.pass.id))].join(', ')})`);
  return e;
}

/** Catalog entries usable for a target. */
export function forTarget(catalog: readonly CatalogEntry[], target: Target): CatalogEntry[] {
  return catalog.filter((c) => !c.targets || c.targets.includes(target));
}
