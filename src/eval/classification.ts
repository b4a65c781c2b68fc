import { bootstrap, type ResampleOptions, type Estimate } from './bootstrap.js';

/** Indices of the k largest values of row `r` of a [rows, cols] score matrix, best first. */
export function topK(scores: Float32Array, cols: number, r: number, k: number): number[] {
  const best: number[] = [];
  const base = r * cols;
  for (let c = 0; c < cols; c++) {
    const v = scores[base + c]!;
    if (best.length === k && v <= scores[base + best[k - 1]!]!) continue;
    let at = best.length < k ? best.length : k - 1;
    best[at] = c;
    while (at > 0 && scores[base + best[at - 1]!]! < v) {
      best[at] = best[at - 1]!;
      best[--at] = c;
    }
  }
  return best;
}

/** Counts[label][pred] over the given sample indices. */
export function confusionMatrix(preds: ArrayLike<number>, labels: ArrayLike<number>, classes: number, idx?: ArrayLike<number>): number[][] {
  const m = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  const n = idx ? idx.length : labels.length;
  for (let k = 0; k < n; k++) {
    const i = idx ? idx[k]! : k;
    m[labels[i]!]![preds[i]!]!++;
  }
  return m;
}

export interface PerClass {
  precision: number;
  recall: number;
  f1: number;
  support: number;
}

/** Precision, recall and F1 of each class from a confusion matrix (0 where undefined, as scikit-learn does). */
export function perClass(confusion: number[][]): PerClass[] {
  const k = confusion.length;
  return confusion.map((row, c) => {
    const tp = row[c]!;
    const support = row.reduce((a, b) => a + b, 0);
    let predicted = 0;
    for (let r = 0; r < k; r++) predicted += confusion[r]![c]!;
    const precision = predicted ? tp / predicted : 0;
    const recall = support ? tp / support : 0;
    const f1 = precision + recall ? (2 * precision * recall) / (precision + recall) : 0;
    return { precision, recall, f1, support };
  });
}

/** Macro average over the classes that occur (in labels or predictions). */
export function macro(confusion: number[][], field: 'precision' | 'recall' | 'f1'): number {
  const stats = perClass(confusion);
  const present = stats.filter((s, c) => s.support > 0 || confusion.some((row) => row[c]! > 0));
  return present.length ? present.reduce((a, s) => a + s[field], 0) / present.length : NaN;
}

/**
 * Macro precision/recall/F1 from per-class counts of the given samples: O(samples + classes), so that a
 * bootstrap over a model with thousands of outputs stays cheap. Same convention as `macro`.
 */
export function macroFromCounts(preds: ArrayLike<number>, labels: ArrayLike<number>, classes: number, idx: ArrayLike<number>, field: 'precision' | 'recall' | 'f1'): number {
  const tp = new Int32Array(classes);
  const predicted = new Int32Array(classes);
  const support = new Int32Array(classes);
  for (let k = 0; k < idx.length; k++) {
    const i = idx[k]!;
    predicted[preds[i]!]!++;
    support[labels[i]!]!++;
    if (preds[i] === labels[i]) tp[labels[i]!]!++;
  }
  let sum = 0;
  let present = 0;
  for (let c = 0; c < classes; c++) {
    if (!support[c] && !predicted[c]) continue;
    present++;
    const p = predicted[c] ? tp[c]! / predicted[c]! : 0;
    const r = support[c] ? tp[c]! / support[c]! : 0;
    sum += field === 'precision' ? p : field === 'recall' ? r : p + r ? (2 * p * r) / (p + r) : 0;
  }
  return present ? sum / present : NaN;
}

/** Per-sample outcomes of a classifier, accumulated batch by batch (a few numbers per sample). */
export class ClassificationScores {
  readonly labels: number[] = [];
  readonly top1: number[] = [];
  /** 1 when the label is among the 5 best scores. */
  readonly inTop5: number[] = [];

  constructor(readonly classes: number) {}

  /** Adds a batch of scores [rows, cols] (logits or probabilities) and their labels. */
  add(scores: Float32Array, cols: number, labels: readonly number[]): void {
    labels.forEach((label, r) => {
      const best = topK(scores, cols, r, Math.min(5, cols));
      this.labels.push(label);
      this.top1.push(best[0]!);
      this.inTop5.push(best.includes(label) ? 1 : 0);
    });
  }

  get n(): number {
    return this.labels.length;
  }

  confusion(): number[][] {
    return confusionMatrix(this.top1, this.labels, this.classes);
  }

  /** Every metric with its bootstrap interval over samples. */
  estimates(opts: ResampleOptions = {}): Record<string, Estimate> {
    const n = this.n;
    const acc = (hit: (i: number) => boolean) => (idx: Uint32Array) => {
      let s = 0;
      for (const i of idx) if (hit(i)) s++;
      return s / idx.length;
    };
    const byConfusion = (field: 'precision' | 'recall' | 'f1') => (idx: Uint32Array) =>
      macroFromCounts(this.top1, this.labels, this.classes, idx, field);
    return {
      top1: bootstrap(n, acc((i) => this.top1[i] === this.labels[i]), opts),
      // with five classes or fewer every label is in the top 5: not worth a line
      ...(this.classes > 5 && { top5: bootstrap(n, acc((i) => this.inTop5[i] === 1), opts) }),
      macroF1: bootstrap(n, byConfusion('f1'), opts),
      macroPrecision: bootstrap(n, byConfusion('precision'), opts),
      macroRecall: bootstrap(n, byConfusion('recall'), opts),
    };
  }
}
