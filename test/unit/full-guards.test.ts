import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { requireAvailable } from '../full/debian-data.js';

/** Functions that skip with a notice, or throw when INFEROPT_REQUIRE_DEBIAN_DATA is set. */
const GUARDS = ['debianDataDir', 'requireAvailable', 'chromiumPath'];

describe('test/full skips only through the required-data guard', () => {
  const saved = process.env['INFEROPT_REQUIRE_DEBIAN_DATA'];
  afterEach(() => {
    if (saved === undefined) delete process.env['INFEROPT_REQUIRE_DEBIAN_DATA'];
    else process.env['INFEROPT_REQUIRE_DEBIAN_DATA'] = saved;
  });

  it('every skipIf/runIf condition is a value computed by a guard', () => {
    const dir = 'test/full';
    const unguarded: string[] = [];
    for (const f of fs.readdirSync(dir).filter((x) => x.endsWith('.test.ts'))) {
      const src = fs.readFileSync(path.join(dir, f), 'utf8');
      for (const m of src.matchAll(/\.(?:skipIf|runIf)\(\s*!?\s*([A-Za-z_$][\w$]*)\s*\)/g)) {
        const name = m[1]!;
        const assigned = new RegExp(`const ${name.replace(/\$/g, '\\$')}\\s*=\\s*(${GUARDS.join('|')})\\(`).test(src);
        if (!assigned) unguarded.push(`${f}: ${m[0]}`);
      }
      for (const m of src.matchAll(/\.(?:skipIf|runIf)\(([^)]*[^\w$!\s)][^)]*)\)/g)) unguarded.push(`${f}: ${m[0]} (an expression, not a guarded value)`);
    }
    expect(unguarded).toEqual([]);
  });

  it('requireAvailable throws when the data is required, else returns false', () => {
    delete process.env['INFEROPT_REQUIRE_DEBIAN_DATA'];
    expect(requireAvailable(true, 'x', 'apt-get install x')).toBe(true);
    process.env['INFEROPT_REQUIRE_DEBIAN_DATA'] = '1';
    expect(() => requireAvailable(false, 'Debian dataset-fashion-mnist', 'apt-get install -y dataset-fashion-mnist')).toThrow(/not available; install it with/);
  });
});
