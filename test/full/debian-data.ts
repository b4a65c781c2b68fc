/**
 * Locating Debian-packaged test data for the `full` suites. A suite whose package is not installed is
 * skipped with a notice, except when INFEROPT_REQUIRE_DEBIAN_DATA is set (.ci/run sets it after installing
 * the packages): then a missing package is an error, so that CI can never pass by skipping.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';

/** Files of an installed Debian package (empty when it is not installed or dpkg is absent). */
export function debianPackageFiles(pkg: string): string[] {
  try {
    return execFileSync('dpkg', ['-L', pkg], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

/**
 * The first folder of `pkg` whose path ends with `suffix` (e.g. '/libonnx-testdata/data'), or null with a
 * notice on stderr. Throws when the data is required (CI).
 */
export function debianDataDir(pkg: string, suffix: string): string | null {
  const dir = debianPackageFiles(pkg).find((f) => f.endsWith(suffix) && fs.statSync(f, { throwIfNoEntry: false })?.isDirectory());
  if (dir) return dir;
  const msg = `Debian package '${pkg}' is not installed (no '*${suffix}'); install it with: apt-get install -y ${pkg}`;
  if (process.env['INFEROPT_REQUIRE_DEBIAN_DATA']) throw new Error(msg);
  process.stderr.write(`NOTICE: skipping suites that need ${pkg}: ${msg}\n`);
  return null;
}

/**
 * Whether something a suite needs is present (`present`); when it is not: a notice and false, or an error when
 * INFEROPT_REQUIRE_DEBIAN_DATA is set. Every `describe.skipIf` / `it.runIf` condition of test/full comes from
 * here or debianDataDir, so a skip can never hide missing data in CI (test/unit/full-guards.test.ts checks).
 */
export function requireAvailable(present: boolean, what: string, install: string): boolean {
  if (present) return true;
  const msg = `${what} is not available; install it with: ${install}`;
  if (process.env['INFEROPT_REQUIRE_DEBIAN_DATA']) throw new Error(msg);
  process.stderr.write(`NOTICE: skipping suites that need ${what}\n`);
  return false;
}
