import { describe, expect, it } from 'vitest';
import type { FrameTruth } from './frames.js';
import type { Rect } from './geometry.js';
import type { Frame } from './image.js';
import { scoreAccuracy } from './metrics.js';
import { searchSegments } from './optimize.js';
import type { FrameResult } from './runner.js';

const frameSet = (n: number) => ({
  dir: 'v',
  frames: Array.from({ length: n }, (_, i) => ({ width: 4, height: 4, index: i }) as unknown as Frame),
  truth: Array.from({ length: n }, (_, i): FrameTruth => ({ frame: i, file: '', items: [] })),
});

describe('pipeline optimize: search frames', () => {
  it('are 4 runs of consecutive frames spread over the whole video, the first run at its start and the last at its end', () => {
    const segs = searchSegments(frameSet(300), 80);
    expect(segs.map((s) => [s.first, s.frames.length])).toEqual([[0, 20], [93, 20], [187, 20], [280, 20]]);
    for (const s of segs) {
      expect(s.truth!.map((t) => t.frame)).toEqual(Array.from({ length: 20 }, (_, k) => s.first + k));
      expect((s.frames[0] as unknown as { index: number }).index).toBe(s.first);
    }
    // each run but the first starts after the 8 frames before it (run untimed), so its first frame is not all-new
    expect(segs.map((s) => s.leadIn.map((f) => (f as unknown as { index: number }).index))).toEqual([[], [85, 86, 87, 88, 89, 90, 91, 92], [179, 180, 181, 182, 183, 184, 185, 186], [272, 273, 274, 275, 276, 277, 278, 279]]);
    // never longer than the run itself
    expect(searchSegments(frameSet(300), 16).map((s) => s.leadIn.length)).toEqual([0, 4, 4, 4]);
  });
  it('are every frame, in one run, when n covers the video or is too small to split', () => {
    expect(searchSegments(frameSet(50)).map((s) => [s.first, s.frames.length])).toEqual([[0, 50]]);
    expect(searchSegments(frameSet(50), 80).map((s) => [s.first, s.frames.length])).toEqual([[0, 50]]);
    expect(searchSegments(frameSet(300), 12).map((s) => [s.first, s.frames.length])).toEqual([[0, 12]]);
  });
});

describe('scoring runs of frames together', () => {
  // one text seen in 6 frames; the tracker calls it 1, 1, 2 | 5, 5, 6 (a restart before frame 3)
  const box: Rect = [10, 10, 60, 30];
  const truth: FrameTruth[] = Array.from({ length: 6 }, (_, f) => ({ frame: f, file: '', items: [{ id: 7, text: 'x', box }] }));
  const ids = [1, 1, 2, 5, 5, 6];
  const results: FrameResult[] = ids.map((id, f) => ({ index: f, latencyMs: 0, spans: [], items: [{ box, text: 'x', score: 1, trackId: id }] }));
  it('a new id where tracking restarted is no ID switch; a new id within a run is', () => {
    expect(scoreAccuracy(results, truth).idSwitches).toBe(3);
    expect(scoreAccuracy(results, truth, new Set([0, 3])).idSwitches).toBe(2);
  });
});
