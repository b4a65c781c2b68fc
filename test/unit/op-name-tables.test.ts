import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { allOps } from '../../src/ops/index.js';

/**
 * Per-op knowledge lives in the op registry (src/ops): a pass asks for a trait (`opTraits`, `opsWith`)
 * instead of keeping its own list of op names. This scans every source file outside src/ops for a table of
 * op types — an array literal or `new Set([...])` with two or more op-type strings, or an object literal
 * with two or more op types as keys — and fails on any not in the allow-list below.
 */

const ROOT = join(import.meta.dirname, '../..');
const SCANNED = ['src', 'bench', 'scripts'];

/**
 * Tables that are not per-op knowledge, each with its reason, keyed `file: Op1,Op2,…` so that a new table in
 * an allowed file still fails. Empty: every table found so far became a registry trait.
 */
const ALLOWED: Record<string, string> = {};

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      if (e.name !== 'node_modules' && e.name !== 'fixtures') out.push(...sourceFiles(p));
    } else if (/\.ts$/.test(e.name) && !/\.test\.ts$/.test(e.name) && !/\.d\.ts$/.test(e.name)) out.push(p);
  }
  return out;
}

/** Every table of ≥ 2 known op types in a source text, as "ops joined by commas" with its line. */
export function opTables(fileName: string, text: string, known: ReadonlySet<string>): { ops: string; line: number }[] {
  const sf = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true);
  const found: { ops: string; line: number }[] = [];
  const line = (n: ts.Node) => sf.getLineAndCharacterOfPosition(n.getStart(sf)).line + 1;
  const visit = (n: ts.Node): void => {
    let ops: string[] = [];
    if (ts.isArrayLiteralExpression(n)) {
      // string elements only: an array of rewrite-pattern calls (`[P.op('Mul', …), P.op('Div', …)]`) is a rule, not a table
      ops = n.elements.filter((e): e is ts.StringLiteral => ts.isStringLiteral(e) || ts.isNoSubstitutionTemplateLiteral(e)).map((e) => e.text);
    } else if (ts.isObjectLiteralExpression(n)) {
      for (const p of n.properties) {
        const name = p.name && (ts.isIdentifier(p.name) || ts.isStringLiteral(p.name)) ? p.name.text : undefined;
        if (name !== undefined) ops.push(name);
      }
    }
    const opTypes = ops.filter((s) => known.has(s));
    if (opTypes.length >= 2) found.push({ ops: opTypes.join(','), line: line(n) });
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return found;
}

const known = new Set(allOps().map((d) => d.opType));

describe('op knowledge lives in the op registry', () => {
  it('finds tables of op names in a source text (the scanner works)', () => {
    const text = [
      "const A = ['Conv', 'MatMul'];",
      "const B = new Set(['Relu', 'Clip', 'notAnOp']);",
      "const C: Record<string, string> = { Resize: 'x', TopK: 'y' };",
      "const D = ['Conv', 'notAnOp'];",
      "const E = { rows: 1, Conv: 2 };",
      "const F = [...X, 'Gemm', 'MatMul'];",
      "const G = [P.op('Mul', [x]), P.op('Div', [x])];",
    ].join('\n');
    expect(opTables('x.ts', text, known)).toEqual([
      { ops: 'Conv,MatMul', line: 1 },
      { ops: 'Relu,Clip', line: 2 },
      { ops: 'Resize,TopK', line: 3 },
      { ops: 'Gemm,MatMul', line: 6 },
    ]);
  });

  it('no source file outside src/ops keeps a table of op names (traits on registry entries instead)', () => {
    expect(known.size).toBeGreaterThan(150);
    const offenders: string[] = [];
    const used = new Set<string>();
    for (const dir of SCANNED) {
      for (const file of sourceFiles(join(ROOT, dir))) {
        const rel = relative(ROOT, file).split('\\').join('/');
        if (rel.startsWith('src/ops/')) continue;
        for (const t of opTables(rel, readFileSync(file, 'utf8'), known)) {
          const k = `${rel}: ${t.ops}`;
          if (k in ALLOWED) used.add(k);
          else offenders.push(`${rel}:${t.line}: ${t.ops}`);
        }
      }
    }
    expect(offenders).toEqual([]);
    // an allow-list entry whose table is gone goes too
    expect(Object.keys(ALLOWED).filter((k) => !used.has(k))).toEqual([]);
  });
});
