
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { optimizePipeline } from './optimize.js';
import { InputError } from '../errors.js';
import { clearLine, liveLine } from '../cli/terminal.js';
import { OutputDir } from '../util/output-dir.js';
import { environment } from '../report/environment.js';
import { pipelineReport, runHeadline } from './report.js';
import { loadFrameSet, runPipeline, type PipelineRun } from './run.js';
import { loadPipelineSpec, type PipelineSpec } from './spec.js';
import { Cluster } from '../distributed/cluster.js';
import { remotePipeline } from '../distributed/pipeline.js';

/** `33ms`, `33`, `0.033s` → milliseconds. */
export function parseBudgetMs(s: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s)?$/.exec(s.trim());
  if (!m || !(Number(m[1]) > 0)) throw new InputError(`bad --budget '${s}': give milliseconds, e.g. 33ms`);
  return Number(m[1]) * (m[2] === 's' ? 1000 : 1);
}

/** The run's figures without per-frame detail (results.json, --json). */
export function runSummary(r: PipelineRun) {
  return {
    latency: r.latency,
    ...(r.accuracy ? { accuracy: { ...r.accuracy, perFrame: undefined } } : {}),
    shapes: r.shapes,
  };
}

export function runText(r: PipelineRun, label = 'pipeline'): string {
  const lines = [`${label}: ${runHeadline(r)}`];
  lines.push('per stage (mean ms/frame, p99, frames run): ' + r.latency.stages.map((s) => `${s.stage} ${s.mean.toFixed(1)} / ${s.p99.toFixed(1)} / ${s.ranIn}`).join('; '));
  return lines.join('\n') + '\n';
}

export async function runPipelineCommand(o: { specFile: string; framesDir: string; budgetMs?: number; limit?: number; warmup?: number; paceMs?: number; outDir?: string; progress?: boolean }): Promise<{ run: PipelineRun; summary: unknown; text: string }> {
  const spec = loadPipelineSpec(o.specFile);
  const out = o.outDir ? new OutputDir(o.outDir, { names: ['results.json', 'frames.jsonl', 'report.html'] }) : undefined;
  try {
    const set = await loadFrameSet(o.framesDir, o.limit);
    const n = set.frames.length;
    const run = await runPipeline(spec, set, {
      ...(o.budgetMs !== undefined ? { budgetMs: o.budgetMs } : {}),
      ...(o.warmup !== undefined ? { warmup: o.warmup } : {}),
      ...(o.paceMs !== undefined ? { paceMs: o.paceMs } : {}),
      ...(o.progress ? { onFrame: (f) => liveLine(`frame ${f.index + 1}/${n}`) } : {}),
    });
    if (o.progress) clearLine();
    if (!run.accuracy) process.stderr.write(`inferopt: no truth.jsonl in ${o.framesDir}: latency only\n`);
    const summary = { format: 'inferopt-results', kind: 'pipeline-run', spec: o.specFile, frames: o.framesDir, budgetMs: o.budgetMs, ...(o.paceMs !== undefined ? { fps: 1000 / o.paceMs } : {}), ...runSummary(run), environment: environment() };
    let text = runText(run);
    if (out) {
      out.write('results.json', JSON.stringify(summary, null, 1) + '\n');
      out.write('frames.jsonl', run.frames.map((f) => JSON.stringify(f)).join('\n') + '\n');
      out.write('report.html', await pipelineReport({ title: `inferopt pipeline run: ${o.specFile}`, runs: [{ label: spec.name ?? 'pipeline', run }], ...(o.budgetMs !== undefined ? { budgetMs: o.budgetMs } : {}), ...(o.paceMs !== undefined ? { paceMs: o.paceMs } : {}), framesDir: o.framesDir }));
      out.commit();
      text += `report: ${join(o.outDir!, 'report.html')}\n`;
    }
    return { run, summary, text };
  } catch (e) {
    out?.abandon();
    throw e;
  }
}


export async function optimizePipelineCommand(o: { specFile: string; framesDir: string; budgetMs: number; maxAccuracyDrop: number; outDir: string; searchFrames?: number; searchVideo?: string; accuracyFrames?: number; limit?: number; models?: boolean; quiet?: boolean; workers?: { url: string; timingClass?: string; resume?: boolean }; progress?: (line: string) => void }): Promise<{ met: boolean; summary: unknown; text: string }> {
  const spec = loadPipelineSpec(o.specFile);
  // the queues first: an unreachable Redis is one line before any work
  const cluster = o.workers ? await Cluster.open(o.workers.url) : undefined;
  try {
    return await optimizeWith(o, spec, cluster);
  } finally {
    await cluster?.close();
  }
}

async function optimizeWith(o: Parameters<typeof optimizePipelineCommand>[0], spec: PipelineSpec, cluster?: Cluster): Promise<{ met: boolean; summary: unknown; text: string }> {
  const set = await loadFrameSet(o.framesDir, o.limit);
  if (o.searchVideo && cluster) throw new InputError('--search-video with --workers is not supported yet: the workers run frames of --frames only');
  const searchVideo = o.searchVideo ? await loadFrameSet(o.searchVideo) : undefined;
  const log = (l: string) => process.stderr.write(l + '\n');
  const remote = cluster
    ? await remotePipeline(cluster, {
        framesDir: o.framesDir,
        ...(o.workers?.timingClass ? { timingClass: o.workers.timingClass } : {}),
        search: { spec, settings: { budgetMs: o.budgetMs, maxAccuracyDrop: o.maxAccuracyDrop, searchFrames: o.searchFrames ?? null, accuracyFrames: o.accuracyFrames ?? null, limit: o.limit ?? null, models: o.models !== false } },
        resume: o.workers?.resume === true,
        log: o.quiet ? () => {} : log,
        ...(o.progress ? { progress: o.progress } : {}),
      })
    : undefined;
  const r = await optimizePipeline({
    spec,
    frames: set,
    budgetMs: o.budgetMs,
    maxAccuracyDrop: o.maxAccuracyDrop,
    outDir: o.outDir,
    ...(o.searchFrames ? { searchFrames: o.searchFrames } : {}),
    ...(searchVideo ? { searchVideo } : {}),
    ...(o.accuracyFrames ? { accuracyFrames: o.accuracyFrames } : {}),
    ...(o.models !== undefined ? { models: o.models } : {}),
    ...(o.quiet ? {} : { log }),
    ...(remote ? { remote } : {}),
  });
  const b = r.baseline.latency.latency;
  const p = r.optimized.latency.latency;
  const lines = [
    `baseline:  ${runHeadline(r.baseline)}`,
    `optimized: ${runHeadline(r.optimized)}`,
    `p99 ${b.p99.toFixed(1)} → ${p.p99.toFixed(1)} ms (${(p.p99 / b.p99).toFixed(3)}×); kept: ${r.decisions.filter((d) => d.kept).map((d) => d.name).join(', ') || 'nothing'}`,
    ...(r.met ? [] : [`goals not met: ${r.failures.join('; ')}`]),
    `written: ${join(o.outDir, 'pipeline.yaml')}, ${join(o.outDir, 'report.html')}`,
  ];
  const summary = JSON.parse(readFileSync(join(o.outDir, 'results.json'), 'utf8')) as unknown;
  return { met: r.met, summary, text: lines.join('\n') + '\n' };
}
