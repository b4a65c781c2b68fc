import { describe, expect, it } from 'vitest';
import { paretoSpec, renderSvg, type ParetoPoint } from './plots.js';

const point = (id: number, latencyMs: number, metric: number, kind: ParetoPoint['kind']): ParetoPoint => ({ id, label: `#${id}`, latencyMs, metric, sizeMB: 3, kind });

describe('candidates plot', () => {
  it('spans the candidates within the goals; a broken one far off is a labelled triangle at the edge', async () => {
    const points = [point(0, 8, 0.0031, 'baseline'), point(5, 7, 0.0035, 'Pareto front'), point(14, 4.5, 0.0107, 'chosen'), point(8, 10.5, 1, 'misses a goal'), point(13, 13, 0.034, 'misses a goal')];
    const spec = paretoSpec(points, 'cer') as unknown as { title: { text: string }; layer: { encoding: { y: { scale: { domain: [number, number] } } } }[]; data: { values: { id: number; shown: number; shape: string; labelled: boolean }[] } };
    const [lo, hi] = spec.layer[0]!.encoding.y.scale.domain;
    // 0.0031 … 0.0107 and the near miss at 0.034 decide the axis; 1.0 would squash them onto one line
    expect(hi).toBeLessThan(0.05);
    expect(hi).toBeGreaterThan(0.034);
    expect(lo).toBeLessThan(0.0031);
    const broken = spec.data.values.find((v) => v.id === 8)!;
    expect(broken).toMatchObject({ shown: hi, shape: 'triangle-up' });
    expect(spec.title.text).toBe('off the scale (▲▼ at the edge): #8 cer 1');
    const near = spec.data.values.find((v) => v.id === 13)!;
    expect(near).toMatchObject({ shown: 0.034, shape: 'circle', labelled: false });
    const svg = await renderSvg(paretoSpec(points, 'cer'));
    expect(svg).toContain('#8 cer 1');
  });

  it('all candidates within range: every point at its value', () => {
    const spec = paretoSpec([point(0, 8, 91.2, 'baseline'), point(1, 4, 90.8, 'chosen')], 'top1') as unknown as { title?: unknown; data: { values: { metric: number; shown: number }[] } };
    for (const v of spec.data.values) expect(v.shown).toBe(v.metric);
    expect(spec.title).toBeUndefined();
  });
});
