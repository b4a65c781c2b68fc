import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { watchOtherCpu } from './cpu-watch.js';

describe('watchOtherCpu: what other processes took while something was timed', () => {
  it('machine busy time minus this process\'s, over wall time × cores', () => {
    let [machine, own, now] = [100, 5, 10];
    const stop = watchOtherCpu({ machineBusySeconds: () => machine, ownSeconds: () => own, nowSeconds: () => now, cores: 2 });
    [machine, own, now] = [103, 6, 12]; // 3 busy seconds in 2 s on 2 cores, 1 of them ours
    expect(stop()).toEqual({ share: 0.5, seconds: 2, ownSeconds: 1, wallSeconds: 2, cores: 2 });
    // only this process busy: nothing for the others (never below 0)
    const quiet = watchOtherCpu({ machineBusySeconds: () => machine, ownSeconds: () => own, nowSeconds: () => now, cores: 2 });
    [machine, own, now] = [104.5, 7.6, 13];
    expect(quiet()!.share).toBe(0);
    // no /proc/stat: unknown, not zero
    expect(watchOtherCpu({ machineBusySeconds: () => undefined, ownSeconds: () => 0, nowSeconds: () => 0, cores: 2 })()).toBeUndefined();
  });

  it.runIf(fs.existsSync('/proc/stat'))('sees a child process burning 0.4 s of CPU (the machine may be busier still, never less)', () => {
    const stop = watchOtherCpu();
    const r = spawnSync(process.execPath, ['-e', 'const c = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e3; }; while (c() < 400) {}']);
    expect(r.status).toBe(0);
    expect(stop()!.seconds).toBeGreaterThanOrEqual(0.35);
  });
});
