/** Debian's `chromium` for the browser suites: its path, or null (a notice) — an error under INFEROPT_REQUIRE_DEBIAN_DATA. */
import * as fs from 'node:fs';

export function chromiumPath(what: string): string | null {
  for (const p of ['/usr/bin/chromium', '/usr/bin/chromium-browser']) if (fs.existsSync(p)) return p;
  const msg = 'chromium is not installed (apt-get install -y chromium; .ci/run does it)';
  if (process.env['INFEROPT_REQUIRE_DEBIAN_DATA']) throw new Error(msg);
  process.stderr.write(`NOTICE: skipping ${what}: ${msg}\n`);
  return null;
}
