/**
 * Plans each frame's deferrable work against a deadline. Mandatory work (the detector when it is due, the
 * tracker, a region's first read) always runs; deferrable work (re-reading a changed box, reading a region cut
 * by the frame edge) is taken in priority order only while its estimated cost still fits the frame's budget,
 * and the rest waits for a later frame with room. Costs are learnt online per stage from what each model call
 * took (a least-squares line, recent calls weighing more): a fixed part per call and a part proportional to the
 * call's size — the elements of its input, so a
 * batch of wide text crops (padded to the widest) costs more than one of narrow crops.
 */
/** Each new call's weight against those before it: a call 14 calls back counts half. */
const FORGET = 0.95;

export class FrameScheduler {
  private frameStart = 0;
  private readonly costs = new Map<string, { w: number; x: number; y: number; xx: number; xy: number }>();

  constructor(
    /** Per-frame deadline (ms); undefined: no deadline, everything due runs. */
    readonly budgetMs?: number,
    /** Plan to this fraction of the budget (the estimate is a mean; the tail needs room). */
    readonly safety = 0.85,
    private readonly now: () => number = () => performance.now(),
  ) {}

  startFrame(): void {
    this.frameStart = this.now();
  }

  elapsed(): number {
    return this.now() - this.frameStart;
  }

  /** Records one model call of `size` units (e.g. input elements) that took `ms`. */
  observe(stage: string, size: number, ms: number): void {
    const c = this.costs.get(stage) ?? { w: 0, x: 0, y: 0, xx: 0, xy: 0 };
    // a least-squares line through the calls seen, older calls weighing less (the machine's load changes)
    for (const k of ['w', 'x', 'y', 'xx', 'xy'] as const) c[k] *= FORGET;
    c.w += 1;
    c.x += size;
    c.y += ms;
    c.xx += size * size;
    c.xy += size * ms;
    this.costs.set(stage, c);
  }

  /** Estimated time of `calls` model calls of `size` units in all; undefined before any observation. */
  estimate(stage: string, calls: number, size: number): number | undefined {
    const c = this.costs.get(stage);
    if (!c) return undefined;
    const [mx, my] = [c.x / c.w, c.y / c.w];
    const varX = c.xx / c.w - mx * mx;
    let perUnit: number;
    let perCall: number;
    if (varX > 1e-6 * mx * mx) {
      perUnit = Math.max(0, (c.xy / c.w - mx * my) / varX);
      perCall = Math.max(0, my - perUnit * mx);
    } else {
      // calls of one size cannot separate a fixed part from a per-unit part: a tenth is taken as fixed
      perCall = 0.1 * my;
      perUnit = (0.9 * my) / Math.max(1, mx);
    }
    return calls * perCall + size * perUnit;
  }

  /**
   * How many of `due` items (taken in order) to run now, where `cost(k)` estimates the first k (with what they
   * will cost later stages): the most that fit the room left in the frame. All of them without a budget, or
   * while a cost is still unknown. `share`: plan to that part of the budget only (work that is merely useful
   * leaves the rest of the frame as margin for the tail).
   */
  fit(due: number, cost: (k: number) => number | undefined, share = 1): number {
    if (this.budgetMs === undefined || due === 0) return due;
    const room = this.budgetMs * this.safety * share - this.elapsed();
    if (cost(1) === undefined) return due;
    let k = due;
    while (k > 0 && (cost(k) ?? 0) > room) k--;
    return k;
  }
}
