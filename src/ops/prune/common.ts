import type { ChannelMap, PruneContext } from '../prune-rule.js';

/** Helpers the pruning rules share. */

export const prod = (xs: readonly number[]) => xs.reduce((a, b) => a * b, 1);

/** The tracked inputs of a node, with their indices. */
export function trackedInputs(c: PruneContext): { i: number; map: ChannelMap }[] {
  const out: { i: number; map: ChannelMap }[] = [];
  c.node.inputs.forEach((_, i) => {
    const m = c.chan(i);
    if (m) out.push({ i, map: m });
  });
  return out;
}

/** Blocks every tracked input's channels with one reason; the outputs carry none. */
export function blockAll(c: PruneContext, why: string): undefined[] {
  for (const { map } of trackedInputs(c)) c.block(map.ids, `${c.node.opType} '${c.node.name}' ${why}`);
  return [];
}

/** Output 0 carries input 0's channels unchanged (unary elementwise ops). */
export function passThrough(c: PruneContext, outputs = 1): (ChannelMap | undefined)[] {
  const m = c.chan(0);
  const others = trackedInputs(c).filter((t) => t.i !== 0);
  for (const t of others) c.block(t.map.ids, `${c.node.opType} '${c.node.name}' reads them as a parameter`);
  return m ? new Array<ChannelMap>(outputs).fill(m) : [];
}

/** Each id repeated `inner` times, in order (a channel flattened together with the dims after it). */
export function repeatIds(ids: Int32Array, inner: number): Int32Array {
  const out = new Int32Array(ids.length * inner);
  for (let i = 0; i < ids.length; i++) out.fill(ids[i]!, i * inner, (i + 1) * inner);
  return out;
}

/**
 * Where the channel axis `a` of a tensor shaped `inS` goes when it is reshaped to `outS` without moving data:
 * kept as one axis, merged with the dims after it (channel-major blocks), or split (undefined).
 */
export function reshapedAxis(inS: readonly number[], outS: readonly number[], a: number): { axis: number; inner: number } | undefined {
  const before = prod(inS.slice(0, a));
  const c = inS[a]!;
  let p = 1;
  for (let b = 0; b < outS.length; b++) {
    if (p === before && (outS[b] !== 1 || c === 1)) {
      const d = outS[b]!;
      if (d === c) return { axis: b, inner: 1 };
      if (d % c !== 0) return undefined;
      const inner = d / c;
      // the merged dims must be exactly the ones after the channel axis
      let q = 1;
      for (let j = a + 1; j < inS.length && q < inner; j++) q *= inS[j]!;
      return q === inner ? { axis: b, inner } : undefined;
    }
    p *= outS[b]!;
    if (p > before) return undefined;
  }
  return undefined;
}
