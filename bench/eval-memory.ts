/**
 * bench/eval-memory: does `evaluate` stay flat in memory as the dataset grows, and how fast does it go?
 *
 *   npx tsx bench/eval-memory.ts [--samples 10000] [--batch 32] [--sources idx,png]
 *
 * Runs a small Fashion-MNIST classifier (linear 784→10, seeded weights: the model is cheap so that the data
 * path dominates) over 1k and then 10k samples, each in a fresh process, for two sources: the gzipped idx
 * stream (Debian's 60k training set, or the committed 1k subset tiled to 10k when Debian's is missing) and
 * a folder of 10k PNG files decoded by sharp. Prints samples/s, RSS after the first 1k samples and at the
 * end of the run, peak RSS (VmHWM), and the 10k/1k ratios. Memory is flat when the peak ratio is ≈ 1.
 * Not a test: figures vary with the machine and its load.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { openDataset, type DatasetSpec } from '../src/data/dataset.js';
import { idxBytes } from '../src/data/sources/idx.js';
import { writeFile } from '../src/data/test-fixtures.js';
import { evaluate } from '../src/eval/evaluate.js';
import { GraphBuilder } from '../src/ir/builder.js';
import { DataType } from '../src/ir/dtype.js';
import { rng } from '../src/util/random.js';
import { gzipSync } from 'node:zlib';

const MiB = 2 ** 20;
const ROOT = resolve(fileURLToPath(import.meta.url), '../..');
const WORK = join(ROOT, 'tmp', 'bench-eval-memory');
const DEBIAN = '/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : fallback;
}

function classifier() {
  const rand = rng(1);
  const b = new GraphBuilder();
  const x = b.input('x', DataType.FLOAT, ['N', 1, 28, 28]);
  const w = b.floats('w', [784, 10], Array.from({ length: 7840 }, () => rand() - 0.5));
  b.output(b.op('MatMul', [b.op('Flatten', [x], { axis: 1 }), w]), 'logits');
  return b.model({ opset: 17 });
}

/** Peak RSS of this process (VmHWM; resourceUsage().maxRSS is inherited from the parent on Linux). */
function peakRss(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) * 1024 : process.resourceUsage().maxRSS * 1024;
}

/** The committed 1k subset tiled to n images, when Debian's 60k set is not installed. */
async function tiledIdx(n: number): Promise<string> {
  const file = join(WORK, `tiled${n}-images-idx3-ubyte.gz`);
  if (existsSync(file)) return file;
  const ds = await openDataset(join(ROOT, 'data/fashion-mnist-1k'));
  const imgs: Uint8Array[] = [];
  const labels: number[] = [];
  for await (const s of ds) {
    imgs.push(Uint8Array.from(s.inputs['']!.toFloat32(), (v) => Math.round(v * 255)));
    labels.push(s.label as number);
  }
  const px = new Uint8Array(n * 784);
  for (let i = 0; i < n; i++) px.set(imgs[i % imgs.length]!, i * 784);
  writeFile(file, gzipSync(idxBytes([n, 28, 28], px)));
  writeFile(file.replace('images-idx3', 'labels-idx1'), gzipSync(idxBytes([n], Uint8Array.from({ length: n }, (_, i) => labels[i % labels.length]!))));
  return file;
}

/** A class-per-folder tree of n PNGs taken from the idx stream (written once, then reused). */
async function pngFolder(idxFile: string, n: number): Promise<string> {
  const dir = join(WORK, `png${n}`);
  if (existsSync(join(dir, '.complete'))) return dir;
  let i = 0;
  for await (const s of await openDataset({ source: { type: 'idx', path: idxFile }, limit: n })) {
    const px = Uint8Array.from(s.inputs['']!.toFloat32(), (v) => Math.round(v * 255));
    const cls = join(dir, String(s.label));
    mkdirSync(cls, { recursive: true });
    await sharp(px, { raw: { width: 28, height: 28, channels: 1 } }).png().toFile(join(cls, `${String(i++).padStart(5, '0')}.png`));
  }
  writeFile(join(dir, '.complete'), new Uint8Array());
  return dir;
}

async function child(): Promise<void> {
  const samples = Number(arg('samples', '1000'));
  const spec: DatasetSpec = JSON.parse(arg('spec', '{}')) as DatasetSpec;
  let rssAt1k = 0;
  const ds = await openDataset({ ...spec, image: { color: 'gray', normalize: 'unit' }, limit: samples });
  const r = await evaluate(classifier(), ds, {
    batch: Number(arg('batch', '32')),
    bootstrap: { iterations: 200 },
    onProgress: (done) => {
      if (!rssAt1k && done >= 1000) rssAt1k = process.memoryUsage().rss;
    },
  });
  process.stdout.write(JSON.stringify({ samples: r.samples, sps: r.samplesPerSecond, rssAt1k, rssEnd: process.memoryUsage().rss, peak: peakRss(), top1: r.metrics.top1!.value }));
}

async function parent(): Promise<void> {
  const n = Number(arg('samples', '10000'));
  const batch = arg('batch', '32');
  const sources = arg('sources', 'idx,png').split(',');
  mkdirSync(WORK, { recursive: true });
  const idx = existsSync(DEBIAN) ? DEBIAN : await tiledIdx(n);
  const specs: Record<string, DatasetSpec> = {};
  if (sources.includes('idx')) specs.idx = { source: { type: 'idx', path: idx } };
  if (sources.includes('png')) specs.png = { source: { type: 'image-folder', path: await pngFolder(idx, n) } };
  console.log(`data: ${idx}${existsSync(DEBIAN) ? '' : ' (tiled from the committed 1k subset)'}; model: linear 784→10; batch ${batch}`);
  console.log('source   samples   samples/s   RSS@1k MiB   RSS end MiB   peak MiB');
  for (const [name, spec] of Object.entries(specs)) {
    const rows = [1000, n].map((samples) => {
      const out = execFileSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', '--samples', String(samples), '--batch', batch, '--spec', JSON.stringify(spec)], {
        encoding: 'utf8',
        cwd: ROOT,
      });
      const r = JSON.parse(out) as { samples: number; sps: number; rssAt1k: number; rssEnd: number; peak: number };
      console.log(
        `${name.padEnd(8)} ${String(r.samples).padStart(7)} ${r.sps.toFixed(0).padStart(11)} ${(r.rssAt1k / MiB).toFixed(0).padStart(12)} ${(r.rssEnd / MiB).toFixed(0).padStart(13)} ${(r.peak / MiB).toFixed(0).padStart(10)}`,
      );
      return r;
    });
    const [a, b] = rows as [(typeof rows)[0], (typeof rows)[0]];
    console.log(`${name.padEnd(8)} ${n / 1000}k/1k: peak RSS ×${(b.peak / a.peak).toFixed(2)}, in-run RSS end/at-1k ×${(b.rssEnd / b.rssAt1k).toFixed(2)}, samples/s ×${(b.sps / a.sps).toFixed(2)}`);
  }
}

await (process.argv.includes('--child') ? child() : parent());
