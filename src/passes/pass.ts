import type { Model } from '../ir/graph.js';

/**
 * A pass: an explicit id, declared parameters (default, optional search values, one-line doc — help text
 * and the optimizer's search space come from them) and `run`.
 */
export interface ParamSpec<T> {
  default: T;
  /** Values the optimizer may try. */
  search?: readonly T[];
  doc: string;
}

export type Target = 'cpu' | 'std' | 'wasm';

export interface PassContext {
  /** Which runtime the result must run on: cpu (ORT with contrib ops), std (standard ONNX), wasm. */
  target: Target;
  /** Rule and pass ids to skip. */
  skip?: ReadonlySet<string>;
  /** Collects why rules fired or refused (for --explain). */
  explain?: (entry: { pass: string; rule?: string; node?: string; fired: boolean; reason?: string }) => void;
  log?: (msg: string) => void;
}

export interface PassResult {
  model: Model;
  modified: boolean;
  stats?: Record<string, number>;
}

export type ParamSpecs<C> = { [K in keyof C]: ParamSpec<C[K]> };

export interface Pass<C extends object = Record<string, never>> {
  id: string;
  doc: string;
  params: ParamSpecs<C>;
  run(model: Model, ctx: PassContext, config: C): PassResult | Promise<PassResult>;
}

/** The defaults of a pass's declared parameters, overridden by `given`. */
export function resolveParams<C extends object>(pass: Pass<C>, given: Partial<C> = {}): C {
  const out: Record<string, unknown> = {};
  for (const [k, spec] of Object.entries(pass.params) as [string, ParamSpec<unknown>][]) {
    out[k] = k in given ? (given as Record<string, unknown>)[k] : spec.default;
  }
  return out as C;
}
