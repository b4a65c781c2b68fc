import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../../test/unit/run-cli.js';
import { paddleOcrBaselineSpec, type PipelineSpec } from './spec.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'inferopt-pipeline-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const write = (name: string, spec: unknown) => {
  const f = path.join(dir, name);
  fs.writeFileSync(f, name.endsWith('.json') ? JSON.stringify(spec) : stringify(spec));
  return f;
};

const base = (): PipelineSpec => JSON.parse(JSON.stringify(paddleOcrBaselineSpec())) as PipelineSpec;

describe('inferopt pipeline: bad specs', () => {
  const cases: [string, (s: PipelineSpec) => unknown, RegExp][] = [
    ['unknown stage type', (s) => ((s.stages[1] as { type: string }).type = 'kalman-magic', s), /stage 'track': unknown stage type 'kalman-magic'/],
    ['unknown input stage', (s) => ((s.stages[2]!.input = 'tracker'), s), /stage 'cls': input 'tracker' is not a stage/],
    ['a cycle', (s) => ((s.stages[0]!.input = 'rec'), s), /the stages form a cycle: det → track → cls → rec → det/],
    ['a type mismatch', (s) => ({ ...s, stages: [...s.stages, { id: 'track2', type: 'tracker', input: 'rec' }] }), /stage 'track2': a tracker takes boxes, but its input 'rec' gives texts/],
    ['a crop stage on the frame', (s) => ((s.stages[3]!.input = 'frame'), s), /stage 'rec': 'crop' pre-processing takes boxes or tracks, but its input 'frame' gives frame/],
    ['an interval without a tracker', (s) => ({ ...s, stages: [{ ...s.stages[0]!, interval: 3 }, { ...s.stages[3]!, input: 'det' }] }), /"interval": 3 needs a tracker/],
    ['per-track policy without tracks', (s) => ({ ...s, stages: [s.stages[0]!, { ...s.stages[3]!, input: 'det', policy: 'once' }] }), /policy 'once' needs tracked regions/],
    ['a detector beside the frames without a tracker', (s) => ({ ...s, schedule: { asyncDetector: true }, stages: [s.stages[0]!, { ...s.stages[3]!, input: 'det' }] }), /schedule.asyncDetector needs a tracker on the detector's output/],
    ['a non-boolean asyncDetector', (s) => ({ ...s, schedule: { asyncDetector: 'yes' } }), /schedule.asyncDetector must be true or false/],
    ['a fractional newWait', (s) => ({ ...s, schedule: { newWait: 0.5 } }), /schedule.newWait must be an integer from 0 to 8/],
    ['lanes on a detector', (s) => ((s.stages[0] as { sessions?: number }).sessions = 2, s), /"sessions" applies to crop stages only/],
    ['a bad lane count', (s) => ((s.stages[3] as { sessions?: number }).sessions = 0, s), /"sessions" must be an integer from 1 to 16/],
    ['refresh on a recogniser read every frame', (s) => ((s.stages[3] as { refresh?: number }).refresh = 8, s), /"refresh" applies to recognisers \(post ctc\) with policy on-change/],
    ['a zero refresh', (s) => (Object.assign(s.stages[3]!, { policy: 'on-change', refresh: 0 }), s), /"refresh" must be an integer from 1 to 10000/],
    ['confirm on a recogniser read every frame', (s) => ((s.stages[3] as { confirm?: number }).confirm = 4, s), /"confirm" applies to recognisers \(post ctc\) with policy on-change/],
    ['a fractional confirm', (s) => (Object.assign(s.stages[3]!, { policy: 'on-change', confirm: 1.5 }), s), /"confirm" must be an integer from 1 to 10000/],
    ['a negative changeThreshold', (s) => (Object.assign(s.stages[3]!, { policy: 'on-change', changeThreshold: -1 }), s), /"changeThreshold" must be a number above 0/],
    ['a non-boolean spinning', (s) => ((s.stages[0] as { spinning?: unknown }).spinning = 'no', s), /"spinning" must be true or false/],
    ['an unknown post-processing op', (s) => (((s.stages[3] as { post: { op: string } }).post.op = 'beam'), s), /unknown post-processing op 'beam'/],
  ];
  for (const [what, edit, msg] of cases) {
    it(`${what} → one line, exit 2`, async () => {
      const f = write(`${what.replace(/\W+/g, '-')}.yaml`, edit(base()));
      const r = await runCli('pipeline', 'run', f, '--frames', dir);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(msg);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    });
  }

  it('a missing spec, a folder without frames and bad YAML → exit 2', async () => {
    expect((await runCli('pipeline', 'run', path.join(dir, 'nope.yaml'), '--frames', dir)).code).toBe(2);
    const ok = write('ok.json', base());
    const empty = fs.mkdtempSync(path.join(dir, 'empty-'));
    const r = await runCli('pipeline', 'run', ok, '--frames', empty);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no image files/);
    const bad = path.join(dir, 'bad.yaml');
    fs.writeFileSync(bad, 'stages: [ {id: a\n');
    expect((await runCli('pipeline', 'run', bad, '--frames', dir)).code).toBe(2);
  });
});

describe('inferopt data render-video + pipeline run (real PaddleOCR models)', () => {
  it('renders frames with truth, runs the baseline pipeline on them and writes the report', async () => {
    const frames = path.join(dir, 'video');
    const r = await runCli('data', 'render-video', '-o', frames, '--frames', '6', '--seed', '3');
    expect(r.code, r.stderr).toBe(0);
    const truth = fs.readFileSync(path.join(frames, 'truth.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { items: { id: number; box: number[]; ignore?: boolean }[] });
    expect(truth).toHaveLength(6);
    for (const t of truth) for (const it of t.items) expect(it.box[0]! >= 0 && it.box[2]! <= 640 && it.box[1]! >= 0 && it.box[3]! <= 360).toBe(true);
    const scored = truth.flatMap((t) => t.items.filter((i) => !i.ignore));
    expect(scored.length).toBeGreaterThan(12);
    const out = path.join(dir, 'run');
    const run = await runCli('pipeline', 'run', path.resolve('data/pipelines/paddleocr-video.yaml'), '--frames', frames, '--budget', '33ms', '--warmup', '1', '-o', out, '--json');
    expect(run.code, run.stderr).toBe(0);
    const res = JSON.parse(run.stdout) as { latency: { frames: number; budgetMs: number; stages: { stage: string }[] }; accuracy: { f1: { value: number }; idSwitches: number } };
    expect(res.latency.frames).toBe(6);
    expect(res.latency.stages.map((s) => s.stage)).toEqual(['det', 'track', 'cls', 'rec']);
    // the real models read most rendered texts exactly
    expect(res.accuracy.f1.value).toBeGreaterThan(0.7);
    const html = fs.readFileSync(path.join(out, 'report.html'), 'utf8');
    expect(html).toContain('<svg');
    expect(html).toContain('budget 33 ms');
    // no --fps: the frames came back to back, and the report says so
    expect(html).toContain('frames processed back to back on this machine');
    expect(html).toContain('throughput (frames back to back)');
  });

  it('a recogniser on 2 lanes reads the same texts as on one session', async () => {
    const frames = path.join(dir, 'video');
    const texts = async (sessions: number) => {
      const s = base();
      const rec = s.stages[3] as { sessions?: number; threads?: number; batch?: number };
      // batches of 1: each crop padded to its own width only, so both runs feed the model the same tensors
      // (batched with other neighbours, a crop is padded differently and may read differently)
      Object.assign(rec, { sessions, threads: 1, batch: 1 });
      const r = await runCli('pipeline', 'run', write(`lanes-${sessions}.json`, { ...s, baseDir: undefined }), '--frames', frames, '--warmup', '0', '-o', path.join(dir, `lanes-${sessions}`));
      expect(r.code, r.stderr).toBe(0);
      return fs.readFileSync(path.join(dir, `lanes-${sessions}`, 'frames.jsonl'), 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { items: { text: string; box: number[] }[] }).items.map((it) => `${it.box.map(Math.round).join(',')} ${it.text}`).sort());
    };
    const one = await texts(1);
    const two = await texts(2);
    // every frame has several lines, so both lanes work
    expect(one.every((f) => f.length >= 4)).toBe(true);
    expect(two).toEqual(one);
  });
});
