import * as fs from 'node:fs';
import * as os from 'node:os';

/** What other processes took of the machine while something was timed. */
export interface OtherCpu {
  /** CPU time of every other process, as a share of the machine's capacity (wall time × cores), 0..1. */
  share: number;
  /** Their CPU seconds, this process's, and the wall seconds watched. */
  seconds: number;
  ownSeconds: number;
  wallSeconds: number;
  cores: number;
}

export interface CpuWatchSources {
  /** The machine's busy CPU seconds since boot (all cores), or undefined where it cannot be read. */
  machineBusySeconds: () => number | undefined;
  /** This process's CPU seconds (every thread: ONNX Runtime's pools included). */
  ownSeconds: () => number;
  nowSeconds: () => number;
  cores: number;
}

/** Busy time from the first line of /proc/stat (user nice system idle iowait irq softirq steal, in USER_HZ). */
function procStatBusySeconds(): number | undefined {
  try {
    const line = fs.readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
    const f = line.trim().split(/\s+/).slice(1, 9).map(Number);
    if (f.length < 8 || f.some((x) => !Number.isFinite(x))) return undefined;
    const [user, nice, system, , , irq, softirq, steal] = f as [number, number, number, number, number, number, number, number]; // idle, iowait skipped
    return (user + nice + system + irq + softirq + steal) / 100; // USER_HZ is 100 on Linux
  } catch {
    return undefined;
  }
}

const SYSTEM: CpuWatchSources = {
  machineBusySeconds: procStatBusySeconds,
  ownSeconds: () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1e6;
  },
  nowSeconds: () => performance.now() / 1000,
  cores: os.cpus().length,
};

/**
 * Starts watching the machine; the returned function says how much CPU other processes used since, or
 * undefined where the machine's CPU time cannot be read (not Linux). Timings of ONNX Runtime sessions with
 * several threads slow down when other processes want the cores (a sleeping pool thread waits to be
 * scheduled), so a latency ratio taken on a busy machine need not hold on a quiet one.
 */
export function watchOtherCpu(src: CpuWatchSources = SYSTEM): () => OtherCpu | undefined {
  const [m0, o0, t0] = [src.machineBusySeconds(), src.ownSeconds(), src.nowSeconds()];
  return () => {
    const m1 = src.machineBusySeconds();
    if (m0 === undefined || m1 === undefined) return undefined;
    const own = src.ownSeconds() - o0;
    const wall = src.nowSeconds() - t0;
    const seconds = Math.max(0, m1 - m0 - own);
    return { share: wall > 0 ? Math.min(1, seconds / (wall * src.cores)) : 0, seconds, ownSeconds: own, wallSeconds: wall, cores: src.cores };
  };
}
