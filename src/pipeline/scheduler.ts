/**
 * Plans each frame's deferrable work against a deadline. Mandatory work (the detector when it is due, the
 * tracker, a region's first read) always runs; deferrable work (re-reading a changed box, reading a region cut
 * by the frame edge) is taken in priority order only while its planned cost still fits the room left in the
 * frame, and the rest waits for a later frame with room. Costs are learnt online per stage from what each model
 * call took (a least-squares line, recent calls weighing more): a fixed part per call and a part proportional to
 * the call's size — the elements of its input, so a batch of wide text crops (padded to the widest) costs more
 * than one of narrow crops.
 *
 * That per-call estimate is not what a stage's work on a frame takes: calls on two lanes share the cores and
 * the JS thread, so several crops took up to 2× their estimate and a single crop 0.6× (issue 14's diagnosis,
 * tmp/vsearch: actual ≈ 1.48 × estimate − 9.8 ms, with a relative spread of 24% about that line). So each stage
 * also learns, from its whole work on each frame (`observePlan`), a line from the per-call estimate to the time
 * the work really took, and the relative spread of the actual time about it; work is planned at that line plus
 * `SPREAD_K` spreads — a high quantile of its cost, not its mean. Until a stage has `MIN_PLANS` such
 * observations, its estimate is planned at 1/`safety` of itself (the fixed margin used before). A frame after an
 * idle pause (`IDLE_MS`) is planned at that line times what such frames took over it (learnt from them alone).
 */
/** Each new call's weight against those before it: a call 14 calls back counts half. */
const FORGET = 0.95;
/** Each frame's plan's weight against those before it (slower than FORGET: the spread needs many): 34 back counts half. */
const FORGET_PLAN = 0.98;
/** Frames of a stage's work observed before its calibration replaces the fixed safety margin. */
const MIN_PLANS = 8;
/**
 * Spreads above the calibrated mean that work is planned at. 2: on tmp/vsearch's traced work (s8's spec), plans
 * near the room (mean > 30 ms) ran over this in 2 of about 100 frames; at 1.5 in 7–11, at 1 in 17–19.
 */
export const SPREAD_K = 2;

/**
 * A frame that starts this long (ms) after the previous one ended follows an idle pause: caches and ORT's threads
 * have gone cold, or other work took the cores. In the bench's side-by-side runs (blocks of 20 frames, ~5 s of the
 * other pipeline between), the recogniser took 10–21% more per crop (median) on a block's first frame than on the
 * rest. A camera stream's gaps are under one frame interval.
 */
export const IDLE_MS = 1000;
/** Each frame after an idle pause weighs against those before it: 3 pauses back count half. */
const FORGET_COLD = 0.8;

type Line = { w: number; x: number; y: number; xx: number; xy: number };
const addTo = (c: Line, x: number, y: number, forget: number) => {
  for (const k of ['w', 'x', 'y', 'xx', 'xy'] as const) c[k] *= forget;
  c.w += 1;
  c.x += x;
  c.y += y;
  c.xx += x * x;
  c.xy += x * y;
};

export class FrameScheduler {
  private frameStart = 0;
  private readonly costs = new Map<string, Line>();
  /** Per stage: per-call estimate of a frame's work → what it took (a line), with the relative spread about it. */
  private readonly plans = new Map<string, Line & { n: number; rr: number; rw: number }>();
  /** Per stage: what its work took on frames after an idle pause, over its calibrated mean (weighted sums). */
  private readonly cold = new Map<string, { r: number; w: number }>();
  private lastEnd?: number;
  /** This frame follows an idle pause (`IDLE_MS`). */
  private afterIdle = false;

  constructor(
    /** Per-frame deadline (ms); undefined: no deadline, everything due runs. */
    readonly budgetMs?: number,
    /** Until a stage's work is calibrated (see `planned`), plan its estimate at 1/safety of itself. */
    readonly safety = 0.85,
    private readonly now: () => number = () => performance.now(),
  ) {}

  startFrame(): void {
    this.frameStart = this.now();
    this.afterIdle = this.lastEnd !== undefined && this.frameStart - this.lastEnd > IDLE_MS;
  }

  /** The frame's work is done (the idle time before the next frame counts from here). */
  endFrame(): void {
    this.lastEnd = this.now();
  }

  elapsed(): number {
    return this.now() - this.frameStart;
  }

  /** Records one model call of `size` units (e.g. input elements) that took `ms`. */
  observe(stage: string, size: number, ms: number): void {
    const c = this.costs.get(stage) ?? { w: 0, x: 0, y: 0, xx: 0, xy: 0 };
    // a least-squares line through the calls seen, older calls weighing less (the machine's load changes)
    addTo(c, size, ms, FORGET);
    this.costs.set(stage, c);
  }

  /**
   * Records a stage's whole work on one frame: `estimate` (ms, `estimate` summed as the stage plans it, taken
   * before the work ran) and what the work took (ms, wall time). Feeds `planned`.
   */
  observePlan(stage: string, estimate: number, actualMs: number): void {
    if (!(estimate > 0)) return;
    const c = this.plans.get(stage) ?? { w: 0, x: 0, y: 0, xx: 0, xy: 0, n: 0, rr: 0, rw: 0 };
    if (this.afterIdle) {
      // after an idle pause: how much slower than the warm line, learnt apart (it is not the warm line's spread)
      if (c.n >= MIN_PLANS) {
        const k = this.cold.get(stage) ?? { r: 0, w: 0 };
        k.r = k.r * FORGET_COLD + actualMs / this.calibrated(c, estimate);
        k.w = k.w * FORGET_COLD + 1;
        this.cold.set(stage, k);
      }
      return;
    }
    // the spread is of the actual time about the line as it stood before this frame (what planning used), once
    // the line rests on a few frames (about the raw estimate, a biased one would count its bias as spread)
    if (c.n >= 3) {
      const mean = this.calibrated(c, estimate);
      const rel = (actualMs - mean) / Math.max(mean, 1);
      c.rr = c.rr * FORGET_PLAN + rel * rel;
      c.rw = c.rw * FORGET_PLAN + 1;
    }
    addTo(c, estimate, actualMs, FORGET_PLAN);
    c.n++;
    this.plans.set(stage, c);
  }

  /** The calibrated mean time of work estimated at `estimate` (never below a tenth of the estimate). */
  private calibrated(c: Line, estimate: number): number {
    const [mx, my] = [c.x / c.w, c.y / c.w];
    const varX = c.xx / c.w - mx * mx;
    // a line only from estimates that differ (a spread of at least 15% of their mean): from work of one size,
    // rounding noise made a flat line that priced one crop like eight
    const slope = varX > 0.0225 * mx * mx ? (c.xy / c.w - mx * my) / varX : 0;
    // too little spread in the estimates seen, or a falling line: scale by the mean ratio instead
    const mean = slope > 0 ? my + slope * (estimate - mx) : (estimate * my) / mx;
    return Math.max(0.1 * estimate, mean);
  }

  /**
   * The cost to plan with for `stage`'s work estimated at `estimate` ms: once calibrated, the line from
   * estimates to actual times, plus SPREAD_K relative spreads (`margin`; without it the calibrated mean); before,
   * estimate / safety. Undefined stays undefined (cost unknown).
   */
  planned(stage: string, estimate: number | undefined, margin = true): number | undefined {
    if (estimate === undefined) return undefined;
    if (estimate <= 0) return 0;
    const c = this.plans.get(stage);
    if (!c || c.n < MIN_PLANS) return estimate / this.safety;
    const k = this.afterIdle ? this.cold.get(stage) : undefined;
    // after an idle pause, at what such frames took over the warm line (never less than it)
    const mean = this.calibrated(c, estimate) * (k ? Math.max(1, k.r / k.w) : 1);
    return margin ? mean * (1 + SPREAD_K * Math.sqrt(c.rr / c.rw)) : mean;
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
   * How many of `due` items (taken in order) to run now, where `cost(k)` is the planned cost of the first k
   * (`planned`, with what they will cost later stages): the most that fit the room left in the frame. All of
   * them without a budget, or while a cost is still unknown. `share`: plan to that part of the budget only
   * (work that is merely useful leaves the rest of the frame as margin for the tail).
   */
  fit(due: number, cost: (k: number) => number | undefined, share = 1): number {
    if (this.budgetMs === undefined || due === 0) return due;
    const room = this.budgetMs * share - this.elapsed();
    if (cost(1) === undefined) return due;
    let k = due;
    while (k > 0 && (cost(k) ?? 0) > room) k--;
    return k;
  }
}
