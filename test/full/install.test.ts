/**
 * `npm install <a checkout of inferopt>` in a fresh project, then `import … from 'inferopt'` in plain Node
 * (no tsx): the checkout has no dist/ until npm runs its `prepare` script. The checkout is a copy of this
 * working tree's files (tracked and untracked, not ignored) with this repo's node_modules linked in.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'inferopt-install-'));
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

describe('installing a checkout into a fresh project', () => {
  it('builds dist/ through prepare and the package imports by name', () => {
    const checkout = path.join(work, 'inferopt');
    const files = execFileSync('git', ['ls-files', '-co', '--exclude-standard', '-z'], { cwd: ROOT, encoding: 'utf8' }).split('\0').filter(Boolean);
    for (const f of files) {
      if (!fs.existsSync(path.join(ROOT, f))) continue; // deleted in the working tree
      fs.mkdirSync(path.dirname(path.join(checkout, f)), { recursive: true });
      fs.copyFileSync(path.join(ROOT, f), path.join(checkout, f));
    }
    fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(checkout, 'node_modules'));
    expect(fs.existsSync(path.join(checkout, 'dist'))).toBe(false);

    const app = path.join(work, 'app');
    fs.mkdirSync(app);
    fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', type: 'module', private: true }));
    // the environment of `npm run test:full` would point npm at this repo's config: start clean
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));
    const log = execFileSync('npm', ['install', checkout, '--offline', '--no-audit', '--no-fund'], { cwd: app, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    expect(log).toMatch(/added 1 package/);
    expect(fs.existsSync(path.join(checkout, 'dist/index.js'))).toBe(true);
    expect(fs.existsSync(path.join(checkout, 'dist/browser.js'))).toBe(true);

    fs.writeFileSync(
      path.join(app, 'main.js'),
      `import { buildZooModel, simplifyModel, Session, randomInputs, countParameters } from 'inferopt';
const model = buildZooModel('mlp');
const simple = (await simplifyModel(model)).model;
const session = await Session.create(simple);
const out = await session.run(randomInputs(simple));
console.log(JSON.stringify({ params: countParameters(model), output: Object.values(out)[0].dims }));
await session.release();
`,
    );
    const run = JSON.parse(execFileSync(process.execPath, ['main.js'], { cwd: app, env, encoding: 'utf8' })) as { params: number; output: number[] };
    expect(run.params).toBe(784 * 256 + 256 + 256 * 128 + 128 + 128 * 10 + 10);
    expect(run.output).toEqual([1, 10]);
    // the CLI is installed too
    const version = execFileSync(path.join(app, 'node_modules/.bin/inferopt'), ['--version'], { cwd: app, env, encoding: 'utf8' });
    expect(version.trim()).toBe(JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version);
  });
});
