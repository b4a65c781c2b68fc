/**
 * What each metric src/eval reports means for a bound on it: its direction and its scale. One table, read by
 * optimize's goals, quantize's accuracy-aware fallback and the reports (`fidelity.` prefixes ignored).
 */
export interface MetricTraits {
  /** A rise is an improvement (accuracy) or a regression (error rates, divergences). */
  higherIsBetter: boolean;
  /** `fraction`: a rate in [0, 1], bounded in percentage points; `raw`: bounded in its own unit. */
  scale: 'fraction' | 'raw';
}

const TRAITS: Record<string, MetricTraits> = {
  cer: { higherIsBetter: false, scale: 'fraction' },
  wer: { higherIsBetter: false, scale: 'fraction' },
  kl: { higherIsBetter: false, scale: 'raw' },
  meanAbsError: { higherIsBetter: false, scale: 'raw' },
  maxAbsError: { higherIsBetter: false, scale: 'raw' },
  maxAbsErrorWorst: { higherIsBetter: false, scale: 'raw' },
  maxRelError: { higherIsBetter: false, scale: 'fraction' },
};

/** Traits of a metric by name; every metric not listed is a rate where higher is better (top1, f1, hmean…). */
export function metricTraits(name: string): MetricTraits {
  return TRAITS[name.replace(/^fidelity\./, '')] ?? { higherIsBetter: true, scale: 'fraction' };
}
