import { createReadStream, existsSync, readSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';
import { InputError } from '../../errors.js';

/** A parsed row of a JSONL or CSV file, with its 1-based line number for error messages. */
export interface Row {
  line: number;
  fields: Record<string, unknown>;
}

/** Streams the lines of a text file (gzip when it ends in .gz) without reading it whole. */
export async function* readLines(file: string): AsyncIterable<string> {
  if (!existsSync(file)) throw new InputError(`file not found: ${file}`);
  const raw = createReadStream(file);
  const input = file.endsWith('.gz') ? raw.pipe(createGunzip()) : raw;
  const rl = createInterface({ input, crlfDelay: Infinity });
  try {
    for await (const line of rl) yield line;
  } finally {
    rl.close();
    raw.destroy();
  }
}

/** Rows of a JSONL file (one JSON object per line) or a CSV file with a header row. */
export async function* readRows(file: string): AsyncIterable<Row> {
  const csv = /\.csv(\.gz)?$/i.test(file);
  let header: string[] | undefined;
  let n = 0;
  for await (const text of readLines(file)) {
    n++;
    if (!text.trim()) continue;
    if (!csv) {
      let v: unknown;
      try {
        v = JSON.parse(text);
      } catch {
        throw new InputError(`${file}:${n}: not valid JSON`);
      }
      if (!v || typeof v !== 'object' || Array.isArray(v)) throw new InputError(`${file}:${n}: each line must be a JSON object`);
      yield { line: n, fields: v as Record<string, unknown> };
      continue;
    }
    const cells = parseCsvLine(text);
    if (!header) {
      header = cells.map((c) => c.trim());
      continue;
    }
    if (cells.length !== header.length) throw new InputError(`${file}:${n}: ${cells.length} cells, header has ${header.length}`);
    yield { line: n, fields: Object.fromEntries(header.map((h, i) => [h, cells[i]!])) };
  }
}

/** One CSV line (RFC 4180 quoting; fields do not span lines). */
export function parseCsvLine(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cur += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out;
}

/**
 * Maps labels to class indices: numbers (or numeric strings when no class list is given) are indices,
 * other strings are looked up in `classes`. Out-of-range labels are input errors.
 */
export function classIndex(value: unknown, classes: readonly string[] | undefined, where: string): number {
  if (classes) {
    const byName = typeof value === 'string' ? classes.indexOf(value) : -1;
    if (byName >= 0) return byName;
    const n = typeof value === 'number' ? value : typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : NaN;
    if (Number.isInteger(n) && n >= 0 && n < classes.length) return n;
    throw new InputError(`${where}: label ${JSON.stringify(value)} is not one of the ${classes.length} classes`);
  }
  const n = typeof value === 'number' ? value : typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : NaN;
  if (!Number.isInteger(n) || n < 0) throw new InputError(`${where}: label ${JSON.stringify(value)} is not a class index (give classes in the spec)`);
  return n;
}

/** Byte ranges and 1-based line numbers of a plain text file's non-blank lines, found in one streaming pass. */
export interface LineIndex {
  starts: number[];
  ends: number[];
  lines: number[];
}

export async function indexLines(file: string): Promise<LineIndex> {
  const idx: LineIndex = { starts: [], ends: [], lines: [] };
  let pos = 0;
  let start = 0;
  let line = 1;
  let blank = true;
  for await (const chunk of createReadStream(file) as AsyncIterable<Buffer>) {
    for (let i = 0; i < chunk.length; i++, pos++) {
      const b = chunk[i]!;
      if (b === 0x0a) {
        if (!blank) idx.starts.push(start), idx.ends.push(pos), idx.lines.push(line);
        start = pos + 1;
        line++;
        blank = true;
      } else if (b !== 0x20 && b !== 0x09 && b !== 0x0d) blank = false;
    }
  }
  if (!blank) idx.starts.push(start), idx.ends.push(pos), idx.lines.push(line);
  return idx;
}

/** One JSONL row read by its byte range. */
export function readJsonRow(file: string, fd: number, start: number, end: number, line: number): Row {
  const buf = Buffer.alloc(end - start);
  readSync(fd, buf, 0, buf.length, start);
  let v: unknown;
  try {
    v = JSON.parse(buf.toString('utf8'));
  } catch {
    throw new InputError(`${file}:${line}: not valid JSON`);
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new InputError(`${file}:${line}: each line must be a JSON object`);
  return { line, fields: v as Record<string, unknown> };
}
