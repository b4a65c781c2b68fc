/**
 * Damaged files found by the full suite's fuzzing (test/full/ir-fuzz.test.ts), kept here as small cases:
 * each must be refused with an InputError at load time, not load and then fail on save.
 */
import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.js';
import { loadModel } from '../../src/ir/io.js';
import { Writer } from '../../src/ir/proto/wire.js';

/** A ModelProto whose one node has one attribute written by `attribute`. */
function modelWithAttribute(attribute: (w: Writer) => void): Uint8Array {
  const w = new Writer();
  w.varintField(1, 8); // ir_version
  w.message(7, (g) => {
    g.message(1, (n) => {
      n.stringField(2, 'y');
      n.stringField(4, 'Constant');
      n.message(5, attribute);
    });
    g.message(12, (o) => o.stringField(1, 'y'));
  });
  w.message(8, (o) => o.varintField(2, 17));
  return w.toBytes();
}

describe('IR decoder robustness', () => {
  it('loads a well-formed attribute (the control case)', () => {
    const ok = modelWithAttribute((a) => {
      a.stringField(1, 'value_int');
      a.varintField(3, 5);
      a.varintField(20, 2); // INT
    });
    expect(loadModel(ok).graph.nodes[0]!.attrInt('value_int')).toBe(5);
  });

  for (const [type, code] of [
    ['TENSOR', 4],
    ['GRAPH', 5],
  ] as const) {
    it(`refuses an attribute typed ${type} that holds no ${type.toLowerCase()}`, () => {
      const bad = modelWithAttribute((a) => {
        a.stringField(1, 'value');
        a.varintField(20, code);
      });
      expect(() => loadModel(bad)).toThrow(InputError);
      expect(() => loadModel(bad)).toThrow(new RegExp(`type ${type} but holds no`));
    });
  }
});
