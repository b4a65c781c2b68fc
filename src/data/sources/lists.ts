import { closeSync, openSync } from 'node:fs';
import { dirname, isAbsolute, join, basename } from 'node:path';
import { InputError } from '../../errors.js';
import { markInput } from '../../util/files.js';
import type { Box, DataRecord, Label, RecordSource } from '../types.js';
import { classIndex, indexLines, readJsonRow, readRows, type Row } from './lines.js';

const IMAGE_FIELDS = ['image', 'path', 'file', 'filename'];

const imageField = (f: Record<string, unknown>) => IMAGE_FIELDS.find((k) => typeof f[k] === 'string');

/** True when a JSONL/CSV row names an image (an image list) rather than holding a text. */
export const rowHasImage = (row: Row) => imageField(row.fields) !== undefined;

function parseBoxes(v: unknown, where: string): Box[] {
  const arr = typeof v === 'string' ? (JSON.parse(v) as unknown) : v;
  if (!Array.isArray(arr)) throw new InputError(`${where}: 'boxes' must be a list of [x0, y0, x1, y1]`);
  return arr.map((b) => {
    if (!Array.isArray(b) || b.length !== 4 || !b.every((x) => typeof x === 'number' && Number.isFinite(x))) {
      throw new InputError(`${where}: each box must be [x0, y0, x1, y1] numbers`);
    }
    return b as Box;
  });
}

/** Sorted distinct string labels, when every label is a non-numeric string (else undefined: labels are indices). */
function collectClasses(rows: readonly Row[], field: string): string[] | undefined {
  const seen = new Set<string>();
  for (const r of rows) {
    const v = r.fields[field];
    if (v === undefined) continue;
    if (typeof v !== 'string' || /^\d+$/.test(v)) return undefined;
    seen.add(v);
  }
  return seen.size ? [...seen].sort() : undefined;
}

/**
 * A list of images with labels: JSONL lines like `{"image": "a.png", "label": 3}` (or `"text": "…"` for OCR
 * lines, `"boxes": [[x0,y0,x1,y1], …]` for detection), or a CSV with an image column. Paths are relative to
 * the list file. The listing is held (paths and labels only); pixels are read per sample.
 */
export async function imageListSource(file: string, classes?: readonly string[]): Promise<RecordSource> {
  const rows: Row[] = [];
  for await (const r of readRows(file)) rows.push(r);
  if (rows.length === 0) throw new InputError(`${file}: the list is empty`);
  const root = dirname(file);
  const names = classes ?? collectClasses(rows, 'label');
  const records = rows.map((r): DataRecord => {
    const where = `${file}:${r.line}`;
    const key = imageField(r.fields);
    if (!key) throw new InputError(`${where}: no image path (fields ${IMAGE_FIELDS.join('/')})`);
    const rel = r.fields[key] as string;
    const path = isAbsolute(rel) ? rel : join(root, rel);
    markInput(path);
    let label: Label | undefined;
    if (r.fields.boxes !== undefined) label = { boxes: parseBoxes(r.fields.boxes, where) };
    else if (r.fields.label !== undefined) label = classIndex(r.fields.label, names, where);
    else if (typeof r.fields.text === 'string') label = r.fields.text;
    const id = typeof r.fields.id === 'string' ? r.fields.id : rel;
    const meta = { ...r.fields, file: path };
    return label === undefined ? { id, image: path, meta } : { id, image: path, label, meta };
  });
  return {
    description: `image list ${basename(file)} (${records.length} images)`,
    classes: names,
    indexed: { length: records.length, idAt: (i) => records[i]!.id, at: async (i) => records[i]! },
    async *stream() {
      yield* records;
    },
  };
}

/**
 * Labelled texts from JSONL (`{"text": "…", "label": "spam"}`, optional `text_pair`) or CSV, streamed: only
 * the label set is scanned ahead (when labels are names and no classes are given). A plain (not gzipped)
 * JSONL file is also indexed by line offsets, so a seeded shuffle is an exact permutation that holds no text.
 */
export async function textListSource(file: string, classes?: readonly string[]): Promise<RecordSource> {
  let names = classes;
  if (!names) {
    const seen = new Set<string>();
    let numeric = false;
    for await (const r of readRows(file)) {
      const v = r.fields.label;
      if (typeof v === 'string' && !/^\d+$/.test(v)) seen.add(v);
      else if (v !== undefined) numeric = true;
    }
    if (seen.size && !numeric) names = [...seen].sort();
  }
  const base = basename(file);
  const toRecord = (r: Row): DataRecord => {
    const where = `${file}:${r.line}`;
    const text = r.fields.text;
    if (typeof text !== 'string') throw new InputError(`${where}: no 'text' field`);
    const rec: DataRecord = { id: typeof r.fields.id === 'string' ? r.fields.id : `${base}:${r.line}`, text };
    if (typeof r.fields.text_pair === 'string') rec.textPair = r.fields.text_pair;
    if (r.fields.label !== undefined) rec.label = classIndex(r.fields.label, names, where);
    return rec;
  };
  const source: RecordSource = {
    description: `text list ${base}`,
    classes: names,
    async *stream() {
      for await (const r of readRows(file)) yield toRecord(r);
    },
  };
  if (/\.jsonl$/i.test(file)) {
    const lines = await indexLines(file);
    // ids need the id field when lines carry one, so reading an id means reading its line
    const row = (i: number) => {
      const fd = openSync(file, 'r');
      try {
        return readJsonRow(file, fd, lines.starts[i]!, lines.ends[i]!, lines.lines[i]!);
      } finally {
        closeSync(fd);
      }
    };
    source.indexed = { length: lines.starts.length, idAt: (i) => toRecord(row(i)).id, at: async (i) => toRecord(row(i)) };
  }
  return source;
}
