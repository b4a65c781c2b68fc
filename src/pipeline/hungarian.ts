/**
 * Minimum-cost assignment (Hungarian algorithm with potentials, O(n²m)) for an n×m cost matrix, n ≤ m or
 * not: returns, for each row, the column assigned to it or −1.
 */
export function assign(cost: readonly (readonly number[])[]): number[] {
  const n0 = cost.length;
  const m0 = n0 ? cost[0]!.length : 0;
  if (n0 === 0) return [];
  if (m0 === 0) return new Array<number>(n0).fill(-1);
  const transpose = n0 > m0;
  const n = transpose ? m0 : n0;
  const m = transpose ? n0 : m0;
  const a = (i: number, j: number) => (transpose ? cost[j - 1]![i - 1]! : cost[i - 1]![j - 1]!);
  const u = new Float64Array(n + 1);
  const v = new Float64Array(m + 1);
  const p = new Int32Array(m + 1); // p[j]: row matched to column j (1-based), 0 = none
  const way = new Int32Array(m + 1);
  for (let i = 1; i <= n; i++) {
    p[0] = i;
    let j0 = 0;
    const minv = new Float64Array(m + 1).fill(Infinity);
    const used = new Uint8Array(m + 1);
    do {
      used[j0] = 1;
      const i0 = p[j0]!;
      let delta = Infinity;
      let j1 = 0;
      for (let j = 1; j <= m; j++) {
        if (used[j]) continue;
        const cur = a(i0, j) - u[i0]! - v[j]!;
        if (cur < minv[j]!) {
          minv[j] = cur;
          way[j] = j0;
        }
        if (minv[j]! < delta) {
          delta = minv[j]!;
          j1 = j;
        }
      }
      for (let j = 0; j <= m; j++) {
        if (used[j]) {
          u[p[j]!] = u[p[j]!]! + delta;
          v[j] = v[j]! - delta;
        } else minv[j] = minv[j]! - delta;
      }
      j0 = j1;
    } while (p[j0] !== 0);
    do {
      const j1 = way[j0]!;
      p[j0] = p[j1]!;
      j0 = j1;
    } while (j0);
  }
  const rowOf = new Array<number>(n0).fill(-1);
  for (let j = 1; j <= m; j++) {
    if (!p[j]) continue;
    if (transpose) rowOf[j - 1] = p[j]! - 1;
    else rowOf[p[j]! - 1] = j - 1;
  }
  return rowOf;
}
