/**
 * Which kernels ONNX Runtime will actually run for a model: the graph after ORT's own optimizations (its
 * QDQ fusion into QLinearConv/QGemm, DynamicQuantizeMatMul, MatMulNBits…), read back from the file ORT
 * writes, with each compute op classed by the op registry's `arithmetic` trait. A quantized model whose
 * multiply-adds still run in float kernels (a DequantizeLinear → Conv left unfused) is rarely faster.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Model } from '../ir/graph.js';
import { loadModel } from '../ir/io.js';
import { opArithmetic } from '../ops/index.js';
import { Session, type SessionOptions } from './session.js';

export interface KernelCount {
  /** Compute ops ORT runs in 8-bit (or packed 4-bit) integer kernels, by op type. */
  int8: Record<string, number>;
  /** Compute ops ORT runs in float kernels, by op type. */
  float: Record<string, number>;
  int8Total: number;
  floatTotal: number;
  /** Float compute ops that read a DequantizeLinear's output: quantized weights or activations ORT did not fuse. */
  unfusedQdq: number;
}

/** Counts the int8 and float compute kernels of the graph ORT runs for `model` (CPU provider, level "all"). */
export async function ortKernels(model: Model | string, opts: Pick<SessionOptions, 'threads' | 'optLevel' | 'dims'> = {}): Promise<KernelCount> {
  return withOptimizedModelFile(async (file) => {
    const s = await Session.create(model, { threads: opts.threads ?? 1, optLevel: opts.optLevel ?? 'all', dims: opts.dims, optimizedModelPath: file, optimizedModelExternalData: true, prepacking: false });
    await s.release();
    return countKernels(file);
  });
}

/**
 * Runs `f` with a path in a fresh temp folder for ORT's optimized model (SessionOptions.optimizedModelPath),
 * and removes the folder after.
 */
export async function withOptimizedModelFile<T>(f: (file: string) => Promise<T>): Promise<T> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'inferopt-kernels-'));
  try {
    return await f(path.join(dir, 'ort-optimized.onnx'));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Counts the compute kernels in a model file ORT wrote after its optimizations (its graph only: weights are not read). */
export function countKernels(file: string): KernelCount {
  const ran = loadModel(file, { check: false, markInput: false, weights: false });
  const out: KernelCount = { int8: {}, float: {}, int8Total: 0, floatTotal: 0, unfusedQdq: 0 };
  for (const n of ran.graph.allNodes()) {
    const a = opArithmetic(n.domain, n.opType);
    if (!a) continue;
    out[a][n.opType] = (out[a][n.opType] ?? 0) + 1;
    if (a === 'int8') out.int8Total++;
    else {
      out.floatTotal++;
      if (n.inputs.some((v) => v?.producer?.opType === 'DequantizeLinear')) out.unfusedQdq++;
    }
  }
  return out;
}

/** "2 QLinearConv, 1 QGemm" */
export const kernelList = (counts: Record<string, number>): string =>
  Object.entries(counts)
    .sort((a, b) => b[1] - a[1])
    .map(([op, n]) => `${n} ${op}`)
    .join(', ') || 'none';

/**
 * "4 of the 20 compute ops as int8 kernels (4 QLinearConv); 16 stay float (16 Conv, 16 of them reading a
 * DequantizeLinear ORT did not fuse)"
 */
export function kernelSummary(k: KernelCount): string {
  const unfused = k.unfusedQdq ? `, ${k.unfusedQdq} of them reading a DequantizeLinear ORT did not fuse` : '';
  return `${k.int8Total} of the ${k.int8Total + k.floatTotal} compute ops as int8 kernels (${kernelList(k.int8)}); ${k.floatTotal} stay float (${kernelList(k.float)}${unfused})`;
}
