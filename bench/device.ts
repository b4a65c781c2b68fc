/**
 * bench/device: scenario 1's verdict on a browser — zoo MobileNetV2 and ResNet-50, fp32 against static int8
 * for the web target, timed side by side (interleaved, medians, bootstrap 95% interval of int8/fp32) in
 * four places: onnxruntime-node (native), onnxruntime-web in Node (wasm), and headless Chromium's
 * onnxruntime-web through `inferopt device serve` with 1 and 2 threads. Every figure is one
 * `inferopt bench fp32.onnx --compare int8.onnx …` run, printed beside the table, so each can be re-run.
 *
 *   npx tsx bench/device.ts [--runs N] [--models mobilenetv2,resnet50] [--pruned FILE|none]
 *
 * ResNet-50 also gets its channel-pruned (50% of FLOPs) + static int8 variant for the web target, built by
 * `cpu-run npx tsx bench/prune.ts --part resnet50-build` (tmp/bench-prune/r50-c50-int8-wasm.onnx, the
 * default of --pruned; seeded random weights like the zoo model here, so speed and size only).
 *
 * Needs Debian `chromium`. Not a test: figures vary with the machine and its load (run under measure-run).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CLI = path.join(ROOT, 'bin/inferopt.js');
const args = process.argv.slice(2);
const flag = (name: string, def: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1]! : def;
};
const runsFlag = flag('--runs', '');
const models = flag('--models', 'mobilenetv2,resnet50').split(',');
const prunedFlag = flag('--pruned', path.join(ROOT, 'tmp/bench-prune/r50-c50-int8-wasm.onnx'));
const PRUNED = 'pruned 50% FLOPs + int8';
const MB = 1e6;
const SIZE_BOUND_MB = 20;

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'inferopt-bench-device-'));
const env = { ...process.env, INFEROPT_DEVICE_SERVER_FILE: path.join(work, 'server.json') };

/** The CLI in a child process, awaited (never spawnSync: a blocked event loop stalls Chromium's pipe to playwright). */
function cli(argv: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...argv], { cwd: work, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += String(d)));
    child.stderr!.on('data', (d) => (stderr += String(d)));
    child.on('exit', (code) => (code === 0 ? resolve(stdout) : reject(new Error(`inferopt ${argv.join(' ')} failed (${code}): ${stderr}`))));
  });
}

interface Compare {
  a: { latencyMs: { p50: number; n: number } };
  b: { latencyMs: { p50: number } };
  ratio: { ratio: number; low: number; high: number };
}

interface Row {
  model: string;
  variant: string;
  where: string;
  fp32: number;
  int8: number;
  ratio: Compare['ratio'];
  runs: number;
  command: string;
}

async function main(): Promise<void> {
  let serve: ChildProcess | undefined;
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu'] });
  try {
    serve = spawn(process.execPath, [CLI, 'device', 'serve'], { cwd: work, env, stdio: ['ignore', 'pipe', 'ignore'] });
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      serve!.stdout!.on('data', (d) => {
        out += String(d);
        const m = /http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]+/.exec(out);
        if (m) resolve(m[0]);
      });
      serve!.on('exit', (c) => reject(new Error(`device serve exited (${c})`)));
    });
    const page = await browser.newPage();
    await page.goto(url);
    await page.waitForFunction(() => /connected as/.test(document.getElementById('status')?.textContent ?? ''), undefined, { timeout: 60_000 });
    const device = (JSON.parse(await cli(['device', 'list', '--json'])) as { devices: { name: string }[] }).devices[0]!.name;

    const rows: Row[] = [];
    const sizes: Record<string, { fp32: number; int8: number; pruned?: number }> = {};
    for (const name of models) {
      const fp32 = `${name}.onnx`;
      const int8 = `${name}.int8.onnx`;
      await cli(['zoo', name, '-o', fp32, '--seed', '1']);
      // as optimize builds it: simplify (BatchNorm folded into Conv), then static int8 for the web target,
      // which leaves depthwise Conv float (--depthwise auto); the all-int8 variant is timed beside it
      const simple = `${name}.simple.onnx`;
      await cli(['simplify', fp32, '-o', simple]);
      await cli(['quantize', simple, '--mode', 'static', '--target', 'wasm', '--calib', 'random:8', '-o', int8]);
      const variants: [string, string][] = [['int8', int8]];
      if (name === 'mobilenetv2') {
        await cli(['quantize', simple, '--mode', 'static', '--target', 'wasm', '--depthwise', 'int8', '--calib', 'random:8', '-o', `${name}.int8dw.onnx`]);
        variants.push(['int8, depthwise int8 too', `${name}.int8dw.onnx`]);
      }
      sizes[name] = { fp32: fs.statSync(path.join(work, fp32)).size / MB, int8: fs.statSync(path.join(work, int8)).size / MB };
      if (name === 'resnet50' && prunedFlag !== 'none') {
        if (!fs.existsSync(prunedFlag)) throw new Error(`${prunedFlag}: not there; build it with \`cpu-run npx tsx bench/prune.ts --part resnet50-build\`, or give --pruned none`);
        const pruned = `${name}.pruned-c50.int8.onnx`;
        fs.copyFileSync(prunedFlag, path.join(work, pruned));
        variants.push([PRUNED, pruned]);
        sizes[name]!.pruned = fs.statSync(path.join(work, pruned)).size / MB;
      }
      const runs = runsFlag || (name === 'resnet50' ? '20' : '40');
      const places: [string, string[]][] = [
        ['node native, 2 threads', ['--backend', 'node', '--threads', '2']],
        ['node wasm, 2 threads', ['--backend', 'wasm', '--threads', '2']],
        ['Chromium wasm, 1 thread', ['--device', device, '--threads', '1']],
        ['Chromium wasm, 2 threads', ['--device', device, '--threads', '2']],
      ];
      for (const [variant, file] of variants) {
        for (const [where, extra] of places) {
          // the all-int8 variant only where it was slow: in the browser
          if (variant.startsWith('int8,') && !where.startsWith('Chromium')) continue;
          const argv = ['bench', fp32, '--compare', file, '--runs', runs, '--warmup', '3', ...extra];
          process.stderr.write(`${name} ${variant}: ${where}…\n`);
          const r = JSON.parse(await cli([...argv, '--json'])) as Compare;
          rows.push({ model: name, variant, where, fp32: r.a.latencyMs.p50, int8: r.b.latencyMs.p50, ratio: r.ratio, runs: r.a.latencyMs.n, command: `inferopt ${argv.join(' ')}` });
        }
      }
    }

    const ms = (x: number) => (x < 10 ? x.toFixed(2) : x.toFixed(1));
    const lines = [
      `| model | size fp32 → variant (MB) | variant | where | fp32 p50 (ms) | variant p50 (ms) | variant/fp32 [95% CI] | rounds |`,
      `|---|---|---|---|---|---|---|---|`,
      ...rows.map((r) => `| ${r.model} | ${sizes[r.model]!.fp32.toFixed(1)} → ${(r.variant === PRUNED ? sizes[r.model]!.pruned! : sizes[r.model]!.int8).toFixed(1)} | ${r.variant} | ${r.where} | ${ms(r.fp32)} | ${ms(r.int8)} | ${r.ratio.ratio.toFixed(2)} [${r.ratio.low.toFixed(2)}–${r.ratio.high.toFixed(2)}] | ${r.runs} |`),
    ];
    process.stdout.write(lines.join('\n') + '\n\n');
    process.stdout.write(`Scenario 1 on a browser (model ≤ ${SIZE_BOUND_MB} MB; latency in Chromium wasm, 2 threads, on this machine's cores — a phone is slower):\n`);
    const fits = (mb: number) => (mb <= SIZE_BOUND_MB ? 'fits' : 'over');
    for (const name of models) {
      const s = sizes[name]!;
      for (const [variant, mb] of [['int8', s.int8], [PRUNED, s.pruned]] as const) {
        const c = rows.find((r) => r.model === name && r.variant === variant && r.where === 'Chromium wasm, 2 threads');
        if (!c || mb === undefined) continue;
        const best = c.int8 < c.fp32 ? variant : 'fp32';
        process.stdout.write(
          `  ${name}: fp32 ${s.fp32.toFixed(1)} MB (${fits(s.fp32)}), ${ms(c.fp32)} ms; ${variant} ${mb.toFixed(1)} MB (${fits(mb)}), ${ms(c.int8)} ms — runs in ${c.ratio.ratio.toFixed(2)}× fp32's time [${c.ratio.low.toFixed(2)}–${c.ratio.high.toFixed(2)}]; faster: ${best}\n`,
        );
      }
    }
    process.stdout.write('\nCommands (in the work folder, with `inferopt device serve` running and Chromium on its page):\n');
    for (const r of rows) process.stdout.write(`  ${r.command}\n`);
    process.stdout.write(`Models: inferopt zoo <name> -o <name>.onnx --seed 1; inferopt simplify <name>.onnx -o <name>.simple.onnx; inferopt quantize <name>.simple.onnx --mode static --target wasm --calib random:8 -o <name>.int8.onnx (mobilenetv2 also with --depthwise int8 -o mobilenetv2.int8dw.onnx)\n`);
    if (sizes['resnet50']?.pruned !== undefined) process.stdout.write(`resnet50.pruned-c50.int8.onnx: a copy of ${path.relative(ROOT, prunedFlag)}, from \`npx tsx bench/prune.ts --part resnet50-build\` (zoo resnet50 seed 1, channels pruned to 50% of FLOPs, l2 importance, --align 8, no fine-tuning; simplified, static int8 --target wasm, 16 random calibration images)\n`);
  } finally {
    await browser.close();
    serve?.kill('SIGINT');
    await new Promise((r) => (serve && serve.exitCode === null ? serve.on('exit', r) : r(null)));
    fs.rmSync(work, { recursive: true, force: true });
  }
}

await main();
