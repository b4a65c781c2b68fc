/**
 * Plans each frame's deferrable work against a deadline. Mandatory work (the detector when it is due, the
 * tracker) always runs; deferrable work (re-recognising tracks, classifying new ones) is taken in
 * priority order only while its estimated cost still fits the frame's budget, and the rest waits for a
 * later frame with room. Costs are learnt online per stage: an exponential moving average of time per
 * model call and per item, fitted from what each call took.
 */
export class FrameScheduler {
  private frameStart = 0;
  private readonly costs = new Map<string, { perCall: number; perItem: number; seen: number }>();

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

  /** Records a model call of `items` items that took `ms`. */
  observe(stage: string, items: number, ms: number): void {
    const c = this.costs.get(stage);
    // split a call's time into a fixed part and a per-item part; one observation cannot separate the two,
    // so a tenth is taken as fixed until calls of other sizes move the split
    if (!c) {
      this.costs.set(stage, { perCall: 0.1 * ms, perItem: (0.9 * ms) / Math.max(1, items), seen: 1 });
      return;
    }
    const alpha = 0.2;
    const predicted = c.perCall + c.perItem * items;
    const err = ms - predicted;
    // gradient step on the squared error, shared between the two parts by their share of the prediction
    const share = (c.perItem * items) / Math.max(1e-9, predicted);
    c.perItem = Math.max(0, c.perItem + (alpha * err * share) / items);
    c.perCall = Math.max(0, c.perCall + alpha * err * (1 - share));
    c.seen++;
  }

  /** Estimated time of `items` items in calls of at most `batch`; undefined before any observation. */
  estimate(stage: string, items: number, batch: number): number | undefined {
    const c = this.costs.get(stage);
    if (!c) return undefined;
    if (items === 0) return 0;
    return Math.ceil(items / batch) * c.perCall + items * c.perItem;
  }

  /**
   * How many of `due` deferrable items to run now in `stage` (calls of at most `batch`), given that each
   * item will also cost `downstream` stages their share. All of them without a budget or before the
   * stage's cost is known.
   */
  fit(stage: string, due: number, batch: number, downstream: readonly { stage: string; batch: number }[] = []): number {
    if (this.budgetMs === undefined || due === 0) return due;
    const room = this.budgetMs * this.safety - this.elapsed();
    let k = due;
    const cost = (n: number) => {
      let t = this.estimate(stage, n, batch);
      if (t === undefined) return undefined;
      for (const d of downstream) t += this.estimate(d.stage, n, d.batch) ?? 0;
      return t;
    };
    if (cost(1) === undefined) return due;
    while (k > 0 && cost(k)! > room) k--;
    return k;
  }
}
