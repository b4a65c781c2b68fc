import type { Node } from '../ir/graph.js';
import type { Dim } from '../ir/types.js';
import { defineTraits, registerOp, type InferContext } from './registry.js';
import { addDim, hasInput, INT64, int64Input, intsAttrOrInput, isNum, like, movementCost, normAxis, perElementCost, shapeIn, tensorOf } from './util.js';

/**
 * Ops that cut, join, gather or pad: Concat, Split, Slice, Gather, GatherElements, GatherND, Pad,
 * Resize/Upsample, DepthToSpace/SpaceToDepth, Trilu, CumSum, Scatter*, NonZero. Concat, Slice and Gather also
 * carry known values for shape subgraphs.
 */

// ---- Concat -----------------------------------------------------------------------------------------------------

function concatShape(ctx: InferContext): Dim[] | undefined {
  const shapes = ctx.node.inputs.map((_, i) => shapeIn(ctx, i));
  const first = shapes.find((s) => s);
  if (!first) return undefined;
  const axis = normAxis(ctx.node.attrInt('axis', 0), first.length);
  const out = [...first];
  out[axis] = 0;
  for (const s of shapes) {
    out[axis] = s ? addDim(out[axis]!, s[axis]!) : null;
    if (s) s.forEach((d, i) => i !== axis && !isNum(out[i]) && isNum(d) && (out[i] = d));
  }
  return out;
}

registerOp({
  domain: '',
  opType: 'Concat',
  traits: { quant: { qdq: true } },
  infer: (ctx) => [like(ctx, ctx.node.inputs.findIndex((v) => v), concatShape(ctx))],
  partialValue: (ctx) => {
    const parts = ctx.node.inputs.map((_, i) => ctx.inputValue(i));
    const ranks = ctx.node.inputs.map((_, i) => shapeIn(ctx, i)?.length);
    if (parts.some((p) => !p) || ranks.some((r) => r !== 1)) return [undefined];
    return [parts.flatMap((p) => p!)];
  },
  cost: movementCost,
});

// ---- Split ------------------------------------------------------------------------------------------------------

function splitSizes(ctx: InferContext, dim: Dim, outputs: number): Dim[] {
  const sizes = intsAttrOrInput(ctx.node, ctx, 'split', 1);
  if (Array.isArray(sizes)) return sizes;
  if (sizes === 'unknown' || !isNum(dim)) return new Array<Dim>(outputs).fill(null);
  const n = ctx.node.attrInt('num_outputs', outputs);
  const chunk = Math.ceil(dim / n); // opset 18: the last chunk may be smaller
  return Array.from({ length: outputs }, (_, i) => (i < n - 1 ? chunk : dim - chunk * (n - 1)));
}

registerOp({
  domain: '',
  opType: 'Split',
  traits: { quant: { passThrough: true } },
  infer: (ctx) => {
    const x = shapeIn(ctx, 0);
    const n = ctx.node.outputs.length;
    if (!x) return new Array(n).fill(like(ctx, 0));
    const axis = normAxis(ctx.node.attrInt('axis', 0), x.length);
    return splitSizes(ctx, x[axis]!, n).map((d) => like(ctx, 0, x.map((e, i) => (i === axis ? d : e))));
  },
  cost: movementCost,
});

// ---- Slice ------------------------------------------------------------------------------------------------------

interface SliceSpec {
  starts: Dim[];
  ends: Dim[];
  axes: number[];
  steps: number[];
}

function sliceSpec(ctx: InferContext, rank: number): SliceSpec | undefined {
  const n = ctx.node;
  if (ctx.opset < 10) {
    const starts = n.attrInts('starts');
    const ends = n.attrInts('ends');
    if (!starts || !ends) return undefined;
    const axes = n.attrInts('axes') ?? starts.map((_, i) => i);
    return { starts, ends, axes: axes.map((a) => normAxis(a, rank)), steps: starts.map(() => 1) };
  }
  const starts = ctx.inputValue(1);
  const ends = ctx.inputValue(2);
  if (!starts || !ends) return undefined;
  const axes = hasInput(ctx, 3) ? ctx.inputValue(3) : starts.map((_, i) => i);
  const steps = hasInput(ctx, 4) ? ctx.inputValue(4) : starts.map(() => 1);
  if (!axes?.every(isNum) || !steps?.every(isNum)) return undefined;
  return { starts, ends, axes: (axes as number[]).map((a) => normAxis(a, rank)), steps: steps as number[] };
}

/** Length of one sliced axis, following the ONNX clamping rules. */
function sliceDim(d: Dim, start: Dim, end: Dim, step: number): Dim {
  const BIG = 2 ** 31;
  if (!isNum(d)) {
    if (start === 0 && step === 1 && ((isNum(end) && end >= BIG) || end === d)) return d;
    if (start === 0 && step === 1 && typeof end === 'string') return end; // x[:seq], seq assumed within bounds
    return null;
  }
  if (start === 0 && step === 1 && typeof end === 'string') return end; // x[:seq] of a longer table
  if (!isNum(start) || !isNum(end)) return null;
  let s = start < 0 ? start + d : start;
  let e = end < 0 ? end + d : end;
  if (step > 0) {
    s = Math.min(Math.max(s, 0), d);
    e = Math.min(Math.max(e, 0), d);
    return Math.max(0, Math.ceil((e - s) / step));
  }
  s = Math.min(Math.max(s, 0), d - 1);
  e = Math.min(Math.max(e, -1), d - 1);
  return Math.max(0, Math.ceil((s - e) / -step));
}

registerOp({
  domain: '',
  opType: 'Slice',
  traits: {
    quant: { passThrough: true },
    // Slice-10: starts, ends and axes are int64 inputs 1–3 (steps, input 4, is new and optional)
    signatureChanges: [{ at: 10, attrsToInputs: [int64Input('starts', 1), int64Input('ends', 2), int64Input('axes', 3)] }],
  },
  infer: (ctx) => {
    const x = shapeIn(ctx, 0);
    if (!x) return [like(ctx, 0)];
    const spec = sliceSpec(ctx, x.length);
    if (!spec) return [like(ctx, 0, x.map(() => null))];
    const out = [...x];
    spec.axes.forEach((a, k) => (out[a] = sliceDim(x[a]!, spec.starts[k]!, spec.ends[k]!, spec.steps[k]!)));
    return [like(ctx, 0, out)];
  },
  partialValue: (ctx) => {
    const v = ctx.inputValue(0);
    const spec = shapeIn(ctx, 0)?.length === 1 ? sliceSpec(ctx, 1) : undefined;
    const [start, end, step] = [spec?.starts[0], spec?.ends[0], spec?.steps[0]];
    if (!v || !isNum(start) || !isNum(end) || !isNum(step)) return [undefined];
    const out: Dim[] = [];
    const d = v.length;
    let s = start < 0 ? start + d : start;
    let e = end < 0 ? end + d : end;
    if (step > 0) for (s = Math.max(s, 0), e = Math.min(e, d); s < e; s += step) out.push(v[s]!);
    else for (s = Math.min(s, d - 1), e = Math.max(e, -1); s > e; s += step) out.push(v[s]!);
    return [out];
  },
  cost: movementCost,
});

// ---- Gather family ----------------------------------------------------------------------------------------------

registerOp({
  domain: '',
  opType: 'Gather',
  traits: { quant: { passThrough: true, tables: true } },
  infer: (ctx) => {
    const x = shapeIn(ctx, 0);
    const idx = shapeIn(ctx, 1);
    if (!x || !idx) return [like(ctx, 0)];
    const axis = normAxis(ctx.node.attrInt('axis', 0), x.length);
    return [like(ctx, 0, [...x.slice(0, axis), ...idx, ...x.slice(axis + 1)])];
  },
  // gathering from a 1-D value (a shape): Gather(Shape(x), i)
  partialValue: (ctx) => {
    const v = ctx.inputValue(0);
    const idx = ctx.inputValue(1);
    if (!v || !idx || shapeIn(ctx, 0)?.length !== 1) return [undefined];
    return [idx.map((i) => (isNum(i) ? (v[i < 0 ? i + v.length : i] ?? null) : null))];
  },
  cost: movementCost,
});

registerOp({
  domain: '',
  opType: 'GatherElements',
  infer: (ctx) => [like(ctx, 0, shapeIn(ctx, 1))],
  cost: movementCost,
});

registerOp({
  domain: '',
  opType: 'GatherND',
  infer: (ctx) => {
    const x = shapeIn(ctx, 0);
    const idx = shapeIn(ctx, 1);
    const last = idx?.[idx.length - 1];
    if (!x || !idx || !isNum(last)) return [like(ctx, 0)];
    const b = ctx.node.attrInt('batch_dims', 0);
    return [like(ctx, 0, [...idx.slice(0, -1), ...x.slice(b + last)])];
  },
  cost: movementCost,
});

for (const opType of ['ScatterND', 'ScatterElements', 'Scatter', 'Trilu', 'CumSum', 'ReverseSequence']) {
  registerOp({ domain: '', opType, infer: (ctx) => [like(ctx, 0, shapeIn(ctx, 0))], cost: perElementCost(1) });
}
defineTraits('', 'Scatter', { breaksAt: [11] }); // deprecated for ScatterElements
defineTraits('', 'CumSum', { halfUnsafe: 'running sums overflow and lose precision in fp16' });

registerOp({
  domain: '',
  opType: 'NonZero',
  infer: (ctx) => [tensorOf(INT64, [shapeIn(ctx, 0)?.length ?? null, null])],
  cost: movementCost,
});

// ---- Pad, Resize ------------------------------------------------------------------------------------------------

registerOp({
  domain: '',
  opType: 'Pad',
  traits: {
    sizeInflating: true,
    // Pad-11: pads is an int64 input 1, value the optional scalar input 2 (constant_value, default 0) of the data's
    // type: a float value beside int64 data is a model ORT refuses
    signatureChanges: [{ at: 11, attrsToInputs: [int64Input('pads', 1), { attr: 'value', input: 2, dtype: 'data', shape: 'scalar', omitIf: 0 }] }],
  },
  infer: (ctx) => {
    const x = shapeIn(ctx, 0);
    const pads = intsAttrOrInput(ctx.node, ctx, 'pads', 1);
    if (!x) return [like(ctx, 0)];
    if (!Array.isArray(pads)) return [like(ctx, 0, x.map(() => null))];
    const axes = intsAttrOrInput(ctx.node, ctx, 'axes', 3);
    const ax = Array.isArray(axes) ? axes.map((a) => normAxis(a, x.length)) : x.map((_, i) => i);
    const out = [...x];
    ax.forEach((a, k) => {
      const total = pads[k]! + pads[k + ax.length]!;
      out[a] = total === 0 ? x[a]! : isNum(x[a]) ? x[a] + total : null;
    });
    return [like(ctx, 0, out)];
  },
  cost: movementCost,
});

/** Output shape of Resize/Upsample from scales or sizes (values of inputs, or the attribute of Upsample-7). */
function resizeShape(ctx: InferContext, node: Node): Dim[] | undefined {
  const x = shapeIn(ctx, 0);
  if (!x) return undefined;
  const isUpsample = node.opType === 'Upsample';
  const scalesInput = isUpsample || ctx.opset < 11 ? 1 : 2;
  const axes = node.attrInts('axes')?.map((a) => normAxis(a, x.length)) ?? x.map((_, i) => i);
  const sizes = !isUpsample && ctx.opset >= 11 && hasInput(ctx, 3) ? ctx.inputValue(3) : undefined;
  if (sizes && sizes.length > 0) {
    if (node.attrString('keep_aspect_ratio_policy', 'stretch') !== 'stretch') return x.map(() => null);
    const out = [...x];
    axes.forEach((a, k) => (out[a] = sizes[k] ?? null));
    return out;
  }
  const scales = node.attrFloats('scales') ?? (hasInput(ctx, scalesInput) ? ctx.inputValue(scalesInput) : undefined);
  if (!scales || scales.length === 0) return x.map(() => null);
  const out = [...x];
  axes.forEach((a, k) => {
    const s = scales[k];
    const d = x[a]!;
    out[a] = s === 1 ? d : isNum(d) && isNum(s) ? Math.floor(Math.fround(d * Math.fround(s))) : null;
  });
  return out;
}

for (const opType of ['Resize', 'Upsample']) {
  registerOp({ domain: '', opType, infer: (ctx) => [like(ctx, 0, resizeShape(ctx, ctx.node))], cost: perElementCost(1) });
}
// Resize-11 took roi and scales as inputs and new coordinate modes (upgrading an opset-10 Resize is not rewritten)
defineTraits('', 'Resize', { sizeInflating: true, breaksAt: [11], quant: { passThrough: true }, halfUnsafe: 'scales/roi inputs must stay float32; coordinates lose precision in fp16 on large images' });
// Resize-10 is Upsample-9 under a new name: same inputs (X, scales) and mode
defineTraits('', 'Upsample', { sizeInflating: true, halfUnsafe: 'scales input must stay float32', signatureChanges: [{ at: 10, renamedTo: 'Resize' }] });

// ---- DepthToSpace, SpaceToDepth ----------------------------------------------------------------------------------

function blockShape(ctx: InferContext, toSpace: boolean): Dim[] | undefined {
  const x = shapeIn(ctx, 0);
  const b = ctx.node.attrInt('blocksize', 1);
  if (!x || x.length !== 4) return undefined;
  const [n, c, h, w] = x;
  const mul = (d: Dim | undefined, f: number): Dim => (isNum(d) ? d * f : null);
  const div = (d: Dim | undefined, f: number): Dim => (isNum(d) ? d / f : null);
  return toSpace ? [n!, div(c, b * b), mul(h, b), mul(w, b)] : [n!, mul(c, b * b), div(h, b), div(w, b)];
}

registerOp({ domain: '', opType: 'DepthToSpace', infer: (ctx) => [like(ctx, 0, blockShape(ctx, true))], cost: movementCost });
registerOp({ domain: '', opType: 'SpaceToDepth', infer: (ctx) => [like(ctx, 0, blockShape(ctx, false))], cost: movementCost });
defineTraits('', ['DepthToSpace', 'SpaceToDepth'], { quant: { passThrough: true } });
