import { DataType } from '../ir/dtype.js';
import { Tensor } from '../ir/tensor.js';
import { roundHalfEven } from './qparams.js';
import { axisOf, paramAt, type QatPlan } from './qat.js';

/**
 * Weight oscillation in QAT (Nagel et al. 2022, "Overcoming Oscillations in Quantization-Aware Training"): with a
 * straight-through estimator a latent weight near a rounding boundary is pushed across it, its integer value
 * changes, the gradient turns and pushes it back. At low bit widths many weights keep flipping between two grid
 * points to the end of training, so the weights kept at the end are a coin toss between the two for each of
 * them (and the activations' statistics follow neither).
 *
 * The tracker computes every fake-quantized weight's integer value after every optimizer step, exactly as the
 * training graph and `exportQat` do (the folded weight of a frozen BatchNorm, the learned scale with LSQ), and
 * counts changes and oscillations (a change in the direction opposite to the weight's previous change). Each
 * weight's oscillation frequency is an exponential moving average of those events; with `freezeAbove` a weight
 * whose frequency passes it is frozen at the integer it spent most time at lately (the moving average of its
 * integer values, rounded): from then on its latent value is set to that grid point after every step.
 */
export interface OscillationOptions {
  /** Momentum of the moving averages (frequency and integer value); Nagel et al. use 0.01. */
  momentum?: number;
  /** Freeze weights whose oscillation frequency exceeds this (off when absent). */
  freezeAbove?: number;
  /** Freeze only from this step on (the frequency needs about 1/momentum steps to mean anything). */
  freezeFrom?: number;
  /** The last-steps window the summary counts over. */
  window?: number;
}

export interface OscillationStats {
  /** Fake-quantized weight elements tracked. */
  weights: number;
  /** Steps tracked and the window of the counts below (the last `window` of them). */
  steps: number;
  window: number;
  /** Weights whose integer value changed at least once in the window, and in all of the window's steps together. */
  changed: number;
  changes: number;
  /** Weights that oscillated (changed back) at least once in the window. */
  oscillating: number;
  /** Weights frozen by the end. */
  frozen: number;
  /** Weights (not frozen) whose oscillation frequency at the end exceeds 0.005, 0.01, 0.02 and 0.05. */
  frequencyAbove: Record<string, number>;
}

interface Tracked {
  latent: string;
  /** Per-output-channel BatchNorm factor γ·(1/σ), computed from these (frozen BatchNorm only). */
  bn?: { gamma: string; invStd: string };
  /** The scale: an initializer, or a learned log-scale (LSQ). */
  scale: { init?: string; log?: string };
  zeroPoint: ArrayLike<number>;
  dims: number[];
  axis: number | undefined;
  qmin: number;
  qmax: number;
  offset: number;
}

export interface OscillationTracker {
  /** After an optimizer step (`step` steps done): counts changes, freezes, and writes frozen weights back. */
  afterStep(step: number, tensors: Map<string, Tensor>): void;
  stats(): OscillationStats;
}

export function oscillationTracker(plan: QatPlan, opts: OscillationOptions = {}): OscillationTracker {
  const g = plan.model.graph;
  const m = opts.momentum ?? 0.01;
  const window = opts.window ?? 100;
  const byName = new Map(g.nodes.map((n) => [n.name, n]));
  const logOf = new Map(plan.logScales.map((l) => [l.exp, l.log]));
  const tracked: Tracked[] = [];
  let total = 0;
  for (const w of plan.weights) {
    const qn = byName.get(w.quantizer)!;
    const bn = plan.batchNorm.find((b) => b.weight === w.float);
    const latent = bn ? bn.raw : w.float;
    const t = g.initializers.get(latent)?.initializer;
    if (!t) continue;
    const sv = qn.input(1)!;
    const scale = sv.initializer ? { init: sv.name } : { log: logOf.get(sv.producer?.name ?? '') };
    if (!scale.init && !scale.log) continue;
    const zt = qn.input(2)?.initializer;
    const dtype = zt?.dtype ?? DataType.UINT8;
    const [qmin, qmax] = w.limit !== undefined ? [-w.limit, w.limit] : dtype === DataType.INT8 ? [-128, 127] : [0, 255];
    tracked.push({ latent, ...(bn ? { bn: { gamma: bn.gamma, invStd: bn.invStd } } : {}), scale, zeroPoint: zt?.toFloat32() ?? [0], dims: [...t.dims], axis: axisOf(qn, t.rank), qmin, qmax, offset: total });
    total += t.size;
  }
  const prev = new Int16Array(total);
  const lastDir = new Int8Array(total);
  const freq = new Float32Array(total);
  const emaInt = new Float32Array(total);
  const lastChange = new Int32Array(total).fill(-1);
  const lastOsc = new Int32Array(total).fill(-1);
  const frozenAt = new Map<number, number>();
  const changesPerStep: number[] = [];
  let steps = 0;
  let started = false;

  const read = (tensors: Map<string, Tensor>, name: string) => (tensors.get(name) ?? g.initializers.get(name)!.initializer!).toFloat32();

  function afterStep(step: number, tensors: Map<string, Tensor>): void {
    let changes = 0;
    for (const t of tracked) {
      const latent = read(tensors, t.latent);
      const s = t.scale.init ? read(tensors, t.scale.init) : Float32Array.from(read(tensors, t.scale.log!), Math.exp);
      const factor = t.bn ? ((gm, inv) => Float32Array.from(gm, (v, c) => Math.fround(v * inv[c]!)))(read(tensors, t.bn.gamma), read(tensors, t.bn.invStd)) : undefined;
      const inner = factor ? latent.length / factor.length : 1;
      let written: Float32Array | undefined;
      for (let i = 0; i < latent.length; i++) {
        const k = t.offset + i;
        const f = factor ? factor[Math.floor(i / inner)]! : 1;
        const si = paramAt(s, t.dims, t.axis, i);
        const z = paramAt(t.zeroPoint, t.dims, t.axis, i);
        const frozen = frozenAt.get(k);
        if (frozen !== undefined) {
          // the latent weight back on its frozen grid point (the scale and γ may have moved)
          written ??= new Float32Array(latent);
          written[i] = ((frozen - z) * si) / f;
          continue;
        }
        const q = Math.min(t.qmax, Math.max(t.qmin, roundHalfEven(Math.fround(Math.fround(latent[i]! * f) / si)) + z));
        if (!started) {
          prev[k] = q;
          emaInt[k] = q;
          continue;
        }
        emaInt[k] = m * q + (1 - m) * emaInt[k]!;
        let osc = 0;
        if (q !== prev[k]) {
          changes++;
          const dir = q > prev[k]! ? 1 : -1;
          if (lastDir[k] !== 0 && dir !== lastDir[k]) {
            osc = 1;
            lastOsc[k] = step;
          }
          lastDir[k] = dir;
          lastChange[k] = step;
          prev[k] = q;
        }
        freq[k] = m * osc + (1 - m) * freq[k]!;
        if (opts.freezeAbove !== undefined && step >= (opts.freezeFrom ?? 0) && freq[k]! > opts.freezeAbove) {
          const target = Math.min(t.qmax, Math.max(t.qmin, Math.round(emaInt[k]!)));
          frozenAt.set(k, target);
          written ??= new Float32Array(latent);
          written[i] = ((target - z) * si) / f;
        }
      }
      if (written) tensors.set(t.latent, Tensor.float(t.dims, written));
    }
    if (started) {
      changesPerStep.push(changes);
      steps = step;
    }
    started = true;
  }

  function stats(): OscillationStats {
    const from = steps - window;
    let changed = 0;
    let oscillating = 0;
    for (let k = 0; k < total; k++) {
      if (lastChange[k]! > from) changed++;
      if (lastOsc[k]! > from) oscillating++;
    }
    const frequencyAbove = Object.fromEntries([0.005, 0.01, 0.02, 0.05].map((f) => [String(f), freq.reduce((n, v, k) => n + (v > f && !frozenAt.has(k) ? 1 : 0), 0)]));
    return { weights: total, steps, window, changed, changes: changesPerStep.slice(-window).reduce((a, b) => a + b, 0), oscillating, frozen: frozenAt.size, frequencyAbove };
  }

  return { afterStep, stats };
}
