/**
 * `inferopt pipeline optimize` end to end on the real PaddleOCR models and a short rendered video: the search
 * (pipeline changes, then per-stage int8 models calibrated on what each stage received), the final check on
 * every frame, and what it writes. Which changes win depends on this machine's timings, so the test checks
 * what must hold whatever was chosen: the written spec re-runs, every model it names is there (proven int8
 * files), no unused model is left beside it, and the verdict agrees with the F1 bound on all frames. The search
 * runs on a second video (`--search-video`), F1 on its own runs (`--accuracy-frames`), the verdict on held-out frames.
 * Small frames (320×180) and a 60 ms pace keep it short; what it checks does not depend on the size.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../unit/run-cli.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'inferopt-pipeline-opt-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('inferopt pipeline optimize (real PaddleOCR models)', () => {
  it('searches on another video, checks on every held-out frame and writes a spec that re-runs with the models it names', async () => {
    const frames = path.join(dir, 'video');
    const search = path.join(dir, 'search');
    expect((await runCli('data', 'render-video', '-o', frames, '--frames', '24', '--seed', '5', '--size', '320x180')).code).toBe(0);
    expect((await runCli('data', 'render-video', '-o', search, '--frames', '24', '--seed', '6', '--size', '320x180')).code).toBe(0);
    const out = path.join(dir, 'opt');
    const r = await runCli('pipeline', 'optimize', path.resolve('data/pipelines/paddleocr-video.yaml'), '--frames', frames, '--search-video', search, '--search-frames', '16', '--accuracy-frames', '20', '--budget', '60ms', '--max-accuracy-drop', '1', '-o', out, '--json');
    expect([0, 3], r.stderr).toContain(r.code);
    const res = JSON.parse(r.stdout) as {
      met: boolean;
      failures: string[];
      searchSegments: [number, number][];
      searchVideo: string;
      heldOut: boolean;
      accuracySegments: [number, number][];
      decisions: { name: string; kept: boolean; why: string; f1Frames?: number }[];
      f1Change: { value: number };
    };
    // the search timed 4 runs of 4 frames spread over the search video's 24 and judged F1 on 4 runs of 5 there;
    // the verdict is on all 24 frames of the other video
    expect(res.searchVideo).toBe(search);
    expect(res.heldOut).toBe(true);
    expect(res.searchSegments).toEqual([[0, 3], [7, 10], [13, 16], [20, 23]]);
    expect(res.accuracySegments).toEqual([[0, 4], [6, 10], [13, 17], [19, 23]]);
    // a faster candidate's F1 was judged on the 20 accuracy frames, the others' on the 16 timing frames
    for (const d of res.decisions.filter((x) => !/^(quantize )?failed/.test(x.why))) expect(d.f1Frames, d.name).toBe(d.why.startsWith('not faster') ? 16 : 20);
    expect(res.decisions.map((d) => d.name)).toEqual(expect.arrayContaining(['det: static int8']));
    // the verdict agrees with the bound on every frame
    expect(res.failures.some((f) => /F1 drop/.test(f))).toBe(-res.f1Change.value > 1);
    expect(res.met).toBe(res.failures.length === 0);
    expect(r.code).toBe(res.met ? 0 : 3);

    const spec = parse(fs.readFileSync(path.join(out, 'pipeline.yaml'), 'utf8')) as { stages: { id: string; type: string; model?: string }[] };
    const named = spec.stages.filter((s) => s.type === 'model').map((s) => s.model!);
    const written = fs.readdirSync(out).filter((f) => f.endsWith('.onnx'));
    // every int8 model written is named by the spec, and every one named is there; kept decisions say which
    expect(written.sort()).toEqual(named.filter((m) => !m.startsWith('@')).sort());
    for (const d of res.decisions.filter((x) => x.kept && /int8$/.test(x.name))) {
      const [stage, mode] = d.name.split(/: | /);
      expect(named).toContain(`${stage}.${mode}-int8.optimized.onnx`);
    }
    const rerun = await runCli('pipeline', 'run', path.join(out, 'pipeline.yaml'), '--frames', frames, '--limit', '5', '--warmup', '1', '--json');
    expect(rerun.code, rerun.stderr).toBe(0);
  });
});
