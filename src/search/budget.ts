import { InputError } from '../errors.js';

/** How long the search may run: candidate evaluations, wall time, or both (whichever runs out first). */
export interface Budget {
  trials?: number;
  ms?: number;
}

/** Parses `--budget 20` (trials) or `--budget 5m` / `90s` / `1h` (wall time). */
export function parseBudget(s: string): Budget {
  const t = s.trim();
  if (/^\d+$/.test(t)) {
    const n = Number(t);
    if (n < 1) throw new InputError('--budget must be at least 1 trial');
    return { trials: n };
  }
  const m = /^(\d+(?:\.\d+)?)\s*(s|m|min|h)$/.exec(t);
  if (!m) throw new InputError(`bad --budget '${s}': give trials (20) or time (90s, 5m, 1h)`);
  const unit = m[2] === 's' ? 1000 : m[2] === 'h' ? 3_600_000 : 60_000;
  const ms = Number(m[1]) * unit;
  if (ms <= 0) throw new InputError('--budget must be positive');
  return { ms };
}

export function describeBudget(b: Budget): string {
  const parts = [b.trials !== undefined ? `${b.trials} trials` : '', b.ms !== undefined ? `${Math.round(b.ms / 1000)} s` : ''].filter(Boolean);
  return parts.join(' or ') || 'unlimited';
}

/** Tracks what the search has spent. */
export class BudgetClock {
  private readonly t0 = performance.now();
  trials = 0;
  constructor(readonly budget: Budget) {}

  get elapsedMs(): number {
    return performance.now() - this.t0;
  }

  /** True once a time budget is spent (trials do not count: for a long step inside one candidate). */
  timeUp(): boolean {
    return this.budget.ms !== undefined && this.elapsedMs >= this.budget.ms;
  }

  spent(): boolean {
    const b = this.budget;
    return (b.trials !== undefined && this.trials >= b.trials) || (b.ms !== undefined && this.elapsedMs >= b.ms);
  }

  /**
   * A share of what is left now, as a test: true once the candidates since this call have used `fraction` of
   * the trials left, or of the time left (a stage that must leave room for the ones after it).
   */
  share(fraction: number): () => boolean {
    const [t0, ms0, b] = [this.trials, this.elapsedMs, this.budget];
    const trials = b.trials !== undefined ? Math.max(1, Math.floor((b.trials - t0) * fraction)) : undefined;
    const ms = b.ms !== undefined ? Math.max(0, b.ms - ms0) * fraction : undefined;
    return () => (trials !== undefined && this.trials - t0 >= trials) || (ms !== undefined && this.elapsedMs - ms0 >= ms);
  }
}
