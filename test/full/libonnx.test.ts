/**
 * Round trip of every test case in Debian's libonnx-testdata (ONNX's backend test data): for each case ORT
 * can run and get right on the original model, inferopt loads and saves the model, and ORT must get the
 * same expected outputs from the saved one. Zero failures: a failure is an IR bug.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { debianDataDir } from './debian-data.js';
import { listCases, runCase, type CaseResult } from './onnx-backend-harness.js';

const DATA = debianDataDir('libonnx-testdata', '/libonnx-testdata/data');
const GROUPS = ['node', 'pytorch-converted', 'pytorch-operator', 'simple'];

describe.skipIf(!DATA)('libonnx-testdata: load → save → ORT matches expected outputs', () => {
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'inferopt-libonnx-'));
  afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

  for (const group of GROUPS) {
    it(group, async () => {
      const root = path.join(DATA!, group);
      const cases = listCases(root);
      expect(cases.length).toBeGreaterThan(0);
      const results = new Map<string, CaseResult>();
      for (const dir of cases) results.set(path.basename(dir), await runCase(dir, scratch));
      process.stdout.write(summarize(group, results));
      const failures = [...results].filter(([, r]) => r.status === 'failed').map(([name, r]) => `${name}: ${(r as { detail: string }).detail}`);
      expect(failures).toEqual([]);
      // the suite must actually exercise the IR, not skip its way to green
      expect([...results.values()].filter((r) => r.status === 'passed').length).toBeGreaterThan(cases.length / 2);
    });
  }
});

function summarize(group: string, results: Map<string, CaseResult>): string {
  const all = [...results.values()];
  const passed = all.filter((r) => r.status === 'passed');
  const identical = passed.filter((r) => r.status === 'passed' && r.byteIdentical).length;
  const external = passed.filter((r) => r.status === 'passed' && r.externalBytes > 0).length;
  const skipped = new Map<string, number>();
  for (const r of all) if (r.status === 'skipped') skipped.set(r.reason, (skipped.get(r.reason) ?? 0) + 1);
  const failed = all.filter((r) => r.status === 'failed').length;
  const skipText = [...skipped].map(([reason, n]) => `${n} ${reason}`).join(', ') || 'none';
  let text = `libonnx-testdata/${group}: ${all.length} cases — ${passed.length} passed (${identical} saved byte-identical, `;
  text += `${external} with initializers in external data), `;
  text += `skipped: ${skipText}; ${failed} failed\n`;
  if (process.env['INFEROPT_VERBOSE_SKIPS']) {
    for (const [name, r] of results) if (r.status === 'skipped') text += `  skip ${name}: ${r.reason}: ${r.detail}\n`;
  }
  return text;
}
