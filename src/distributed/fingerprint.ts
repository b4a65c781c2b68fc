import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { stableJson } from '../search/recipe.js';
import { ortVersion, type Backend } from '../runtime/session.js';
import type { DeviceInfo } from '../device/protocol.js';
import { describeDevice } from '../device/server.js';

/**
 * What a worker's timings depend on: the CPU (model, cores, the instruction sets ORT's kernels use), ONNX
 * Runtime's version and backend. Workers with equal fingerprints form one hardware class; latency ratios
 * are compared only within a class, absolute times are reported per class.
 */
export interface Fingerprint {
  cpuModel: string;
  cores: number;
  /** Instruction-set extensions ORT's CPU kernels dispatch on, sorted. */
  isa: string[];
  ortVersion: string;
  backend: Backend;
  platform: string;
  arch: string;
  /** A device page (`inferopt worker --device`): the browser that times, as it registered. */
  device?: { userAgent: string; simd: boolean; threads: boolean; webgpu: boolean; webgpuAdapter?: string; memoryGiB?: number };
}

/** The extensions that change which ORT kernels run (x86: SSE/AVX/AVX-512/VNNI/AMX; Arm: NEON dot/i8mm/SVE). */
const RELEVANT_ISA = new Set([
  'sse4_1', 'sse4_2', 'avx', 'avx2', 'fma', 'f16c', 'avx512f', 'avx512bw', 'avx512vl', 'avx512dq', 'avx512_vnni', 'avx_vnni',
  'avx512_bf16', 'avx512_fp16', 'amx_tile', 'amx_int8', 'amx_bf16', 'asimd', 'asimddp', 'asimdhp', 'fphp', 'i8mm', 'bf16', 'sve', 'sve2',
]);

/** The relevant ISA flags of a /proc/cpuinfo text (x86 `flags`, Arm `Features`), sorted. */
export function isaFlags(cpuinfo: string): string[] {
  const line = /^(?:flags|Features)\s*:\s*(.*)$/m.exec(cpuinfo)?.[1] ?? '';
  return [...new Set(line.split(/\s+/).filter((f) => RELEVANT_ISA.has(f)))].sort();
}

export function fingerprintFrom(x: { cpuinfo: string; cpuModel: string; cores: number; ortVersion: string; backend: Backend; platform: string; arch: string }): Fingerprint {
  return { cpuModel: x.cpuModel.trim().replace(/\s+/g, ' '), cores: x.cores, isa: isaFlags(x.cpuinfo), ortVersion: x.ortVersion, backend: x.backend, platform: x.platform, arch: x.arch };
}

/** This machine's fingerprint for a backend. */
export function hardwareFingerprint(backend: Backend): Fingerprint {
  let cpuinfo = '';
  try {
    cpuinfo = fs.readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    // not Linux: the model and core count still tell machines apart
  }
  const cpus = os.cpus();
  return fingerprintFrom({ cpuinfo, cpuModel: cpus[0]?.model ?? 'unknown', cores: cpus.length, ortVersion: ortVersion(backend), backend, platform: os.platform(), arch: os.arch() });
}

/**
 * A device page's fingerprint (onnxruntime-web in a browser, `inferopt device serve`): the browser and its
 * version, the cores and memory it reports, what its wasm can do, the ORT web version. A class of its own.
 */
export function deviceFingerprint(info: DeviceInfo): Fingerprint {
  const isa = [info.simd ? 'wasm-simd' : '', info.threads ? 'wasm-threads' : '', info.webgpu ? 'webgpu' : ''].filter(Boolean);
  return {
    cpuModel: `device page: ${describeDevice(info).split(', ')[0]}`,
    cores: info.hardwareConcurrency,
    isa,
    ortVersion: info.ort,
    backend: 'wasm',
    platform: 'browser',
    arch: 'wasm',
    device: { userAgent: info.userAgent, simd: info.simd, threads: info.threads, webgpu: info.webgpu, ...(info.webgpuAdapter ? { webgpuAdapter: info.webgpuAdapter } : {}), ...(info.deviceMemoryGiB !== undefined ? { memoryGiB: info.deviceMemoryGiB } : {}) },
  };
}

/** The hardware class: a short hash of the whole fingerprint (equal fingerprints, equal class). */
export function hardwareClass(f: Fingerprint): string {
  return crypto.createHash('sha256').update(stableJson(f)).digest('hex').slice(0, 12);
}

/** One line: `Intel Xeon … · 2 cores · avx2 avx512f … · ORT node 1.30.0`. */
export function describeFingerprint(f: Fingerprint): string {
  if (f.device) return `${f.cpuModel} · ${f.cores} core${f.cores === 1 ? '' : 's'} · ${f.isa.join(' ') || 'plain wasm'} · onnxruntime-web ${f.ortVersion}`;
  return `${f.cpuModel} · ${f.cores} core${f.cores === 1 ? '' : 's'} · ${f.isa.join(' ') || 'no listed ISA extensions'} · ORT ${f.backend} ${f.ortVersion} · ${f.platform}/${f.arch}`;
}
