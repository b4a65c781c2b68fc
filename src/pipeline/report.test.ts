import { describe, expect, it } from 'vitest';
import { latencyReport } from './metrics.js';
import { pipelineReport } from './report.js';
import type { FrameResult } from './runner.js';
import type { PipelineRun } from './run.js';
import type { PipelineSpec } from './spec.js';

describe('pipeline report: how frames were offered', () => {
  const frames: FrameResult[] = Array.from({ length: 4 }, (_, i) => ({ index: i, latencyMs: 20 + i, spans: [], items: [] }));
  const run: PipelineRun = { spec: { format: 'inferopt-pipeline', stages: [] } as unknown as PipelineSpec, latency: latencyReport(frames, 4 * 66, 66), frames, shapes: {} };

  it('runs at a pace (optimize\'s final runs, run --fps) say so: not "back to back"', async () => {
    const html = await pipelineReport({ title: 't', runs: [{ label: 'a', run }], budgetMs: 66, framesDir: 'v', paceMs: 66 });
    expect(html).toContain('frames offered one every 66.0 ms (15.2 frames/s, as a camera gives them');
    expect(html).toContain('throughput (a frame offered every 66.0 ms)');
    expect(html).not.toContain('back to back on this machine');
  });

  it('runs without a pace say the frames came back to back', async () => {
    const html = await pipelineReport({ title: 't', runs: [{ label: 'a', run }], budgetMs: 66, framesDir: 'v' });
    expect(html).toContain('frames processed back to back on this machine');
    expect(html).toContain('throughput (frames back to back)');
  });
});
