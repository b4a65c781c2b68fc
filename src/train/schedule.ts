/**
 * Learning-rate schedules, evaluated per step in the loop and fed to the training graph as a scalar input.
 * Warm-up ramps linearly from lr/warmupSteps to lr; then constant, step decay or cosine to `minLr`.
 */
export interface ScheduleSpec {
  kind: 'constant' | 'step' | 'cosine';
  /** Warm-up length in steps. */
  warmupSteps?: number;
  /** step: multiply by `gamma` every `stepSize` steps. */
  stepSize?: number;
  gamma?: number;
  /** cosine: the final learning rate (default 0). */
  minLr?: number;
}

export function learningRate(base: number, s: ScheduleSpec, step: number, totalSteps: number): number {
  const warm = s.warmupSteps ?? 0;
  if (step < warm) return (base * (step + 1)) / warm;
  const t = step - warm;
  switch (s.kind) {
    case 'constant':
      return base;
    case 'step':
      return base * (s.gamma ?? 0.1) ** Math.floor(t / Math.max(1, s.stepSize ?? totalSteps));
    case 'cosine': {
      const span = Math.max(1, totalSteps - warm);
      const min = s.minLr ?? 0;
      return min + ((base - min) * (1 + Math.cos((Math.PI * Math.min(t, span)) / span))) / 2;
    }
  }
}

/** Parses `constant`, `cosine`, `step:<stepSize>:<gamma>`. */
export function parseSchedule(text: string, warmupSteps = 0): ScheduleSpec {
  const [kind, a, b] = text.split(':');
  if (kind === 'constant' || kind === 'cosine') return { kind, warmupSteps };
  if (kind === 'step') return { kind, stepSize: Number(a ?? 1000), gamma: Number(b ?? 0.1), warmupSteps };
  throw new Error(`unknown schedule '${text}' (constant, cosine, step:<steps>:<gamma>)`);
}
