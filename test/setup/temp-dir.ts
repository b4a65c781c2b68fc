/**
 * Vitest global setup: every test run gets a private system temp folder (TMPDIR, which os.tmpdir() reads),
 * and the run fails when a test or the code it runs leaves anything there. The folder is removed either way,
 * so nothing piles up in the real temp folder, and parallel runs (other checkouts) cannot blame each other.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** Left by tools, not by inferopt: tsx's transform cache (from CLI children run through bin/inferopt.js). */
const OTHERS = /^tsx-\d+$/;

let dir: string | undefined;
let before: string | undefined;

export function setup(): void {
  before = process.env['TMPDIR'];
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'inferopt-test-run-'));
  // like /tmp: tests that run the CLI as another user (user nobody, for read-only folders) need it too
  fs.chmodSync(dir, 0o1777);
  process.env['TMPDIR'] = dir;
}

export function teardown(): void {
  if (dir === undefined) return;
  if (before === undefined) delete process.env['TMPDIR'];
  else process.env['TMPDIR'] = before;
  const left = leftBehind(dir);
  fs.rmSync(dir, { recursive: true, force: true });
  if (left.length) {
    // a throw here is only printed (vitest exits 0): fail the run through its exit code as well
    process.exitCode = 1;
    throw new Error(`the tests left ${left.length} file(s) or folder(s) in the temp folder (remove what a test makes, e.g. with tempDir() of src/data/test-fixtures.ts): ${left.slice(0, 20).join(', ')}`);
  }
}

/** What a run left in `tmp`, except other tools' caches. */
export function leftBehind(tmp: string): string[] {
  return fs.readdirSync(tmp).filter((n) => !OTHERS.test(n)).sort();
}
