import type { StreamingHistogram } from './histogram.js';

/** Ranges from a tensor's streamed statistics: MinMax, Percentile and Entropy (KL divergence). */
export type CalibMethod = 'minmax' | 'percentile' | 'entropy';

export interface Range {
  min: number;
  max: number;
}

export interface RangeOptions {
  /** Percentile of |x| kept (symmetric) or of each tail (asymmetric); default 99.999. */
  percentile?: number;
  /** Symmetric activations fold the histogram around 0. */
  symmetric?: boolean;
  /** Quantized levels the entropy method targets (128 = one side of int8). */
  quantBins?: number;
}

export function rangeFrom(h: StreamingHistogram, method: CalibMethod, opts: RangeOptions = {}): Range {
  if (h.count === 0) return { min: 0, max: 0 };
  if (method === 'minmax' || h.R === 0) return { min: h.min, max: h.max };
  if (method === 'percentile') return percentileRange(h, opts.percentile ?? 99.999, opts.symmetric ?? false);
  const t = entropyThreshold(h.folded(), opts.quantBins ?? 128) * h.binWidth;
  return { min: Math.max(h.min, -t), max: Math.min(h.max, t) };
}

function percentileRange(h: StreamingHistogram, p: number, symmetric: boolean): Range {
  const w = h.binWidth;
  if (symmetric) {
    const f = h.folded();
    const k = quantileBin(f, (p / 100) * h.count);
    const t = (k + 1) * w;
    return { min: Math.max(h.min, -t), max: Math.min(h.max, t) };
  }
  const tail = ((100 - p) / 100) * h.count;
  const hiBin = quantileBin(h.bins, h.count - tail);
  let loBin = 0;
  for (let acc = 0; loBin < h.bins.length; loBin++) {
    acc += h.bins[loBin]!;
    if (acc > tail) break;
  }
  return { min: Math.max(h.min, -h.R + loBin * w), max: Math.min(h.max, -h.R + (hiBin + 1) * w) };
}

/** First bin at which the running count reaches `target`. */
function quantileBin(bins: ArrayLike<number>, target: number): number {
  let acc = 0;
  for (let k = 0; k < bins.length; k++) {
    acc += bins[k]!;
    if (acc >= target) return k;
  }
  return bins.length - 1;
}

/**
 * The clipping threshold (in bins of |x|) minimising KL(P‖Q), where P is the histogram clipped at the
 * threshold (outliers added to its last bin) and Q is P quantized to `quantBins` levels and expanded back
 * (TensorRT's entropy calibration, as in ONNX Runtime's calibrator).
 */
export function entropyThreshold(folded: Float64Array, quantBins: number): number {
  const n = folded.length;
  if (n <= quantBins) return n;
  let total = 0;
  for (const c of folded) total += c;
  let bestKl = Infinity;
  let best = n;
  let tailSum = total;
  for (let k = 0; k < quantBins; k++) tailSum -= folded[k]!;
  const p = new Float64Array(n);
  const q = new Float64Array(n);
  for (let i = quantBins; i <= n; i++) {
    // tailSum = counts from bin i onward
    for (let k = 0; k < i; k++) p[k] = folded[k]!;
    p[i - 1] = p[i - 1]! + tailSum;
    const per = i / quantBins;
    for (let j = 0; j < quantBins; j++) {
      const start = Math.floor(j * per);
      const end = j === quantBins - 1 ? i : Math.floor((j + 1) * per);
      let sum = 0;
      let nonzero = 0;
      for (let k = start; k < end; k++) {
        sum += folded[k]!;
        if (folded[k]! !== 0) nonzero++;
      }
      for (let k = start; k < end; k++) q[k] = folded[k]! !== 0 ? sum / nonzero : 0;
    }
    const kl = klDivergence(p, q, i);
    if (kl < bestKl) {
      bestKl = kl;
      best = i;
    }
    if (i < n) tailSum -= folded[i]!;
  }
  return best;
}

function klDivergence(p: Float64Array, q: Float64Array, len: number): number {
  let ps = 0;
  let qs = 0;
  for (let k = 0; k < len; k++) {
    ps += p[k]!;
    qs += q[k]!;
  }
  if (ps === 0 || qs === 0) return Infinity;
  let kl = 0;
  for (let k = 0; k < len; k++) {
    const pk = p[k]! / ps;
    if (pk === 0) continue;
    const qk = q[k]! / qs;
    // a level Q cannot represent that P has mass in: heavily penalised, not infinite (keeps a choice)
    kl += qk === 0 ? pk * 20 : pk * Math.log(pk / qk);
  }
  return kl;
}
