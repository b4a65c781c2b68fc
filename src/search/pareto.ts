/** A point to rank: lower is better on every axis. */
export interface Objectives {
  latencyMs: number;
  /** Metric drop against the baseline (lower is better; negative = improved). */
  drop: number;
  sizeBytes: number;
}

const dominates = (a: Objectives, b: Objectives) =>
  a.latencyMs <= b.latencyMs && a.drop <= b.drop && a.sizeBytes <= b.sizeBytes && (a.latencyMs < b.latencyMs || a.drop < b.drop || a.sizeBytes < b.sizeBytes);

/** Indices of the points no other point dominates (the Pareto front). */
export function paretoFront(points: readonly Objectives[]): number[] {
  const out: number[] = [];
  points.forEach((p, i) => {
    if (!points.some((q, j) => j !== i && dominates(q, p))) out.push(i);
  });
  return out;
}
