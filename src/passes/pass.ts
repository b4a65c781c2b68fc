import type { Model } from '../ir/graph.js';
import { validateParams, type ParamConstraints, type ParamSource } from '../util/validate.js';

/**
 * A pass: an explicit id, declared parameters (default, optional search values, one-line doc — help text
 * and the optimizer's search space come from them) and `run`.
 */
export interface ParamSpec<T> extends ParamConstraints {
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

/**
 * The defaults of a pass's declared parameters, overridden by the values `given` defines — after checking every given value
 * against its declaration (type, range, choices): the one place recipes, CLI flags and library calls are
 * validated. Bad values are an InputError naming `where` (default: the pass id).
 */
export function resolveParams<C extends object>(pass: Pass<C>, given: Partial<C> = {}, where?: ParamSource): C {
  validateParams(pass.params as Record<string, ParamConstraints>, given, where ?? { source: pass.id });
  const out: Record<string, unknown> = {};
  for (const [k, spec] of Object.entries(pass.params) as [string, ParamSpec<unknown>][]) {
    const v = (given as Record<string, unknown>)[k];
    out[k] = v !== undefined ? v : spec.default;
  }
  return out as C;
}
