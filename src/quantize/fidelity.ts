import type { Model } from '../ir/graph.js';
import { DataType } from '../ir/dtype.js';
import type { Tensor } from '../ir/tensor.js';
import { Session, type SessionOptions } from '../runtime/session.js';
import { sqnr } from './qparams.js';

/** How closely a candidate model's outputs follow a reference's on the same feeds. */
export interface OutputFidelity {
  name: string;
  /** dB; higher is closer (Infinity when identical). */
  sqnr: number;
  maxAbsDiff: number;
  /** max |diff| / max |ref| */
  relMaxDiff: number;
  /** Share of rows (last axis = classes) whose argmax agrees, for outputs with more than one class. */
  top1Agreement?: number;
  finite: boolean;
}

export async function runAll(model: Model | Session, feeds: readonly Record<string, Tensor>[], opts: SessionOptions = {}, outputs?: string[]) {
  const s = model instanceof Session ? model : await Session.create(model, opts);
  const res: Record<string, Tensor>[] = [];
  for (const f of feeds) res.push(await s.run(f, outputs));
  if (!(model instanceof Session)) await s.release();
  return res;
}

/** Compares every float output of two runs (lists of per-batch results, same order). */
export function compareRuns(ref: readonly Record<string, Tensor>[], cand: readonly Record<string, Tensor>[]): OutputFidelity[] {
  const out: OutputFidelity[] = [];
  const names = Object.keys(ref[0] ?? {});
  for (const name of names) {
    const r = concat(ref.map((x) => x[name]!));
    const c = concat(cand.map((x) => x[name]!));
    if (!r || !c) continue;
    let maxAbs = 0;
    let maxRef = 0;
    let finite = true;
    for (let i = 0; i < r.data.length; i++) {
      const d = Math.abs(r.data[i]! - c.data[i]!);
      if (!Number.isFinite(c.data[i]!)) finite = false;
      if (d > maxAbs) maxAbs = d;
      if (Math.abs(r.data[i]!) > maxRef) maxRef = Math.abs(r.data[i]!);
    }
    const classes = r.lastDim;
    let top1Agreement: number | undefined;
    if (classes > 1) {
      let agree = 0;
      const rows = r.data.length / classes;
      for (let k = 0; k < rows; k++) if (argmax(r.data, k * classes, classes) === argmax(c.data, k * classes, classes)) agree++;
      top1Agreement = rows ? agree / rows : 1;
    }
    out.push({ name, sqnr: sqnr(r.data, c.data), maxAbsDiff: maxAbs, relMaxDiff: maxRef ? maxAbs / maxRef : maxAbs, top1Agreement, finite });
  }
  return out;
}

function concat(ts: Tensor[]): { data: Float32Array; lastDim: number } | undefined {
  if (ts.some((t) => !t || (t.dtype !== DataType.FLOAT && t.dtype !== DataType.FLOAT16 && t.dtype !== DataType.DOUBLE))) return undefined;
  const parts = ts.map((t) => t.toFloat32());
  const data = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    data.set(p, o);
    o += p.length;
  }
  return { data, lastDim: ts[0]!.dims[ts[0]!.dims.length - 1] ?? 1 };
}

function argmax(x: Float32Array, off: number, n: number): number {
  let best = 0;
  for (let i = 1; i < n; i++) if (x[off + i]! > x[off + best]!) best = i;
  return best;
}

/** Runs both models on the feeds and compares their outputs. */
export async function compareModels(ref: Model, cand: Model, feeds: readonly Record<string, Tensor>[], opts: SessionOptions = {}): Promise<OutputFidelity[]> {
  return compareRuns(await runAll(ref, feeds, opts), await runAll(cand, feeds, opts));
}
