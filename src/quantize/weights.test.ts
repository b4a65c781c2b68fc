import { describe, expect, it } from 'vitest';
import { Tensor } from '../ir/tensor.js';
import { computeQParams, qLimits, quantizeValue, type QSpec } from './qparams.js';
import { quantizeTensor } from './weights.js';

/** The element-by-element definition quantizeTensor's inlined loop must reproduce exactly. */
function reference(x: Float32Array, dims: number[], spec: QSpec, axis?: number): number[] {
  const channels = axis === undefined ? 1 : dims[axis]!;
  const inner = axis === undefined ? x.length : dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const ch = (i: number) => (axis === undefined ? 0 : Math.floor(i / inner) % channels);
  const lo = new Array<number>(channels).fill(Infinity);
  const hi = new Array<number>(channels).fill(-Infinity);
  x.forEach((v, i) => {
    lo[ch(i)] = Math.min(lo[ch(i)]!, v);
    hi[ch(i)] = Math.max(hi[ch(i)]!, v);
  });
  const params = lo.map((l, c) => computeQParams(l, hi[c]!, spec));
  const [qmin, qmax] = qLimits(spec);
  return Array.from(x, (v, i) => quantizeValue(v, params[ch(i)]!, qmin, qmax));
}

describe('quantizeTensor', () => {
  it('matches the per-element definition, ties to even included, per tensor and per axis', () => {
    // absmax 127 → symmetric int8 scale exactly 1: k + 0.5 values are exact ties
    const ties = [127, -127, 0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 3.5, -3.5, 126.5, -126.5, 0, -0];
    let s = 7;
    const rand = () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 200 - 100;
    const x = Float32Array.from({ length: 6 * 4 * 5 }, (_, i) => (i < ties.length ? ties[i]! : rand()));
    const dims = [6, 4, 5];
    for (const spec of [{ qtype: 'int8', symmetric: true }, { qtype: 'uint8', symmetric: false }, { qtype: 'int8', symmetric: true, reduceRange: true }] as QSpec[]) {
      for (const axis of [undefined, 0, 1, 2]) {
        const q = quantizeTensor(Tensor.float(dims, x), spec, axis);
        const got = Array.from(spec.qtype === 'int8' ? new Int8Array(q.data.bytes.buffer, q.data.bytes.byteOffset, x.length) : q.data.bytes);
        expect(got, `${JSON.stringify(spec)} axis ${axis}`).toEqual(reference(x, dims, spec, axis));
      }
    }
    // the ties themselves, per tensor int8: half to even
    const q = quantizeTensor(Tensor.float([ties.length], ties), { qtype: 'int8', symmetric: true });
    expect(Array.from(new Int8Array(q.data.bytes.buffer, q.data.bytes.byteOffset, ties.length))).toEqual([127, -127, 0, 2, 2, 0, -2, -2, 4, -4, 126, -126, 0, 0]);
  });
});
