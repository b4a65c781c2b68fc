import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';

const repo = path.resolve(import.meta.dirname, '../..');

/** Debian's `chromium` (installed by .ci/run). */
function chromiumPath(): string {
  for (const p of ['/usr/bin/chromium', '/usr/bin/chromium-browser']) if (fs.existsSync(p)) return p;
  throw new Error('chromium is not installed (apt-get install -y chromium; .ci/run does it)');
}

describe('inferopt demo', () => {
  it('optimizes end to end, writes a self-contained report, and the plots render in headless Chromium', async () => {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'inferopt-demo-test-'));
    const out = path.join(work, 'demo');
    const t0 = performance.now();
    const run = spawnSync(process.execPath, [path.join(repo, 'bin/inferopt.js'), 'demo', '-o', out], { cwd: work, encoding: 'utf8', timeout: 400_000 });
    const seconds = (performance.now() - t0) / 1000;
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(new RegExp(`report: ${out.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/report\\.html`));
    console.log(`demo took ${seconds.toFixed(0)} s`);

    expect(fs.readdirSync(out).sort()).toEqual(expect.arrayContaining(['recipe.json', 'report.html', 'report.md', 'results.json']));
    const html = fs.readFileSync(path.join(out, 'report.html'), 'utf8');
    // self-contained: no script, no fetched resource (the SVG namespace URIs are names, not fetches)
    expect(html).not.toMatch(/<script|(src|href)\s*=\s*["']?https?:|url\(\s*["']?https?:|<link /i);
    const svgs = html.match(/<svg[\s\S]*?<\/svg>/g) ?? [];
    expect(svgs.length).toBeGreaterThanOrEqual(3); // Pareto, latency histogram, op types
    for (const svg of svgs) expect(svg).toMatch(/class="mark-(symbol|rect)[^"]*"[^>]*>\s*<path/);

    const shot = path.join(work, 'report.png');
    const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'inferopt-chromium-'));
    execFileSync(
      chromiumPath(),
      ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', `--user-data-dir=${profile}`, '--window-size=1200,2200', `--screenshot=${shot}`, `file://${path.join(out, 'report.html')}`],
      { stdio: 'ignore', timeout: 120_000 },
    );
    fs.rmSync(profile, { recursive: true, force: true });
    const { data, info } = await sharp(shot).raw().toBuffer({ resolveWithObject: true });
    let ink = 0;
    let red = 0;
    for (let i = 0; i < data.length; i += info.channels) {
      const [r, g, b] = [data[i]!, data[i + 1]!, data[i + 2]!];
      if (r < 235 || g < 235 || b < 235) ink++;
      if (r > 180 && g < 90 && b < 90) red++; // the chosen model's marks and bars (#d62728)
    }
    const pixels = info.width * info.height;
    expect(ink / pixels).toBeGreaterThan(0.03);
    expect(red).toBeGreaterThan(500);
    fs.copyFileSync(shot, path.join(os.tmpdir(), 'inferopt-demo-report.png')); // for a person to look at
    fs.rmSync(work, { recursive: true, force: true });
  });
});
