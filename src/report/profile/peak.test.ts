import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { measuredPeak, mergePeak } from './peak.js';

describe('measuredPeak', () => {
  it('measures positive ceilings through ONNX Runtime', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'inferopt-peak-'));
    try {
      const p = await measuredPeak('node', 1, { cacheDir: dir, refresh: true });
      expect(p.cached).toBe(false);
      expect(p.gflops).toBeGreaterThan(0.1);
      expect(p.gbps).toBeGreaterThan(0.01);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('keeps the higher ceiling of the cached and the new measurement, each figure on its own', () => {
    expect(mergePeak(undefined, { gflops: 50, gbps: 20 })).toEqual({ gflops: 50, gbps: 20 });
    expect(mergePeak({ gflops: 270, gbps: 30 }, { gflops: 58, gbps: 35 })).toEqual({ gflops: 270, gbps: 35 });
  });
});
