/**
 * Every libonnx-testdata case (ONNX's backend test data) that ORT runs correctly must still produce the
 * expected outputs after `simplify` (target cpu, all passes and fusions), saved and reloaded. A failure is
 * a pass that changed what a model computes.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Model } from '../../src/ir/graph.js';
import { simplifyModel } from '../../src/passes/simplify.js';
import { debianDataDir } from './debian-data.js';
import { listCases, runCase, type CaseResult } from './onnx-backend-harness.js';

const DATA = debianDataDir('libonnx-testdata', '/libonnx-testdata/data');
const GROUPS = ['node', 'pytorch-converted', 'pytorch-operator', 'simple'];

async function simplify(m: Model): Promise<void> {
  const res = await simplifyModel(m, { target: 'cpu' }, { inPlace: true });
  if (res.model !== m) throw new Error('simplify returned a different model object');
}

describe.skipIf(!DATA)('libonnx-testdata: simplify keeps every output', () => {
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'inferopt-libonnx-simplify-'));
  afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

  for (const group of GROUPS) {
    it(group, async () => {
      const cases = listCases(path.join(DATA!, group));
      expect(cases.length).toBeGreaterThan(0);
      const results = new Map<string, CaseResult>();
      for (const dir of cases) results.set(path.basename(dir), await runCase(dir, scratch, simplify));
      const all = [...results.values()];
      const passed = all.filter((r) => r.status === 'passed').length;
      const failures = [...results].filter(([, r]) => r.status === 'failed').map(([name, r]) => `${name}: ${(r as { detail: string }).detail}`);
      process.stdout.write(`libonnx-testdata/${group} after simplify: ${all.length} cases, ${passed} passed, ${failures.length} failed, ${all.length - passed - failures.length} skipped (ORT cannot run the original)\n`);
      expect(failures).toEqual([]);
      expect(passed).toBeGreaterThan(cases.length / 2);
    });
  }
});
