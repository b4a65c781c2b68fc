/**
 * Robustness of the IR's decoder on damaged files: libonnx-testdata models truncated, with bytes flipped or
 * inserted (seeded). Loading must either give a model that saves again, or fail with an InputError (one
 * clear line in the CLI) — never another exception, a hang or a crash.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.js';
import { loadModel, modelToBytes } from '../../src/ir/io.js';
import { rng } from '../../src/util/random.js';
import { debianDataDir } from './debian-data.js';
import { listCases } from './onnx-backend-harness.js';

const DATA = debianDataDir('libonnx-testdata', '/libonnx-testdata/data');
const MUTATIONS_PER_MODEL = 30;

type Mutation = (bytes: Uint8Array, rand: () => number) => Uint8Array;

const MUTATIONS: Record<string, Mutation> = {
  truncate: (b, rand) => b.slice(0, Math.floor(rand() * b.length)),
  flip: (b, rand) => {
    const out = b.slice();
    const n = 1 + Math.floor(rand() * 4);
    for (let i = 0; i < n; i++) out[Math.floor(rand() * out.length)] = Math.floor(rand() * 256);
    return out;
  },
  insert: (b, rand) => {
    const at = Math.floor(rand() * b.length);
    const junk = Uint8Array.from({ length: 1 + Math.floor(rand() * 8) }, () => Math.floor(rand() * 256));
    const out = new Uint8Array(b.length + junk.length);
    out.set(b.subarray(0, at));
    out.set(junk, at);
    out.set(b.subarray(at), at + junk.length);
    return out;
  },
};

describe.skipIf(!DATA)('IR decoder on damaged libonnx-testdata models', () => {
  it('either loads (and saves again) or throws InputError', () => {
    const cases = ['node', 'pytorch-converted', 'pytorch-operator', 'simple'].flatMap((g) => listCases(path.join(DATA!, g)));
    const rand = rng(2024);
    // every 4th model keeps the run short; all op families are still covered many times over
    const picked = cases.filter((_, i) => i % 4 === 0);
    const outcomes = { loaded: 0, refused: 0 };
    const wrong: string[] = [];
    for (const dir of picked) {
      const original = new Uint8Array(fs.readFileSync(path.join(dir, 'model.onnx')));
      for (let k = 0; k < MUTATIONS_PER_MODEL; k++) {
        const [kind, mutate] = Object.entries(MUTATIONS)[k % 3]!;
        const damaged = mutate(original, rand);
        try {
          modelToBytes(loadModel(damaged));
          outcomes.loaded++;
        } catch (e) {
          if (e instanceof InputError && !e.message.includes('\n')) outcomes.refused++;
          else wrong.push(`${path.basename(dir)} (${kind} #${k}): ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
        }
      }
    }
    process.stdout.write(`damaged models: ${picked.length * MUTATIONS_PER_MODEL} — ${outcomes.loaded} loaded and saved, ${outcomes.refused} refused with InputError, ${wrong.length} wrong\n`);
    expect(wrong.slice(0, 20)).toEqual([]);
    expect(outcomes.refused).toBeGreaterThan(0);
  });
});
