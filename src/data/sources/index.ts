import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../../errors.js';
import type { RecordSource } from '../types.js';
import { idxSource } from './idx.js';
import { classFolders, imageFolderSource } from './images.js';
import { readRows } from './lines.js';
import { imageListSource, rowHasImage, textListSource } from './lists.js';
import { npySource } from './npy.js';
import { isOnnxTestSet, onnxTestSetSource } from './onnx-testset.js';
import { spamAssassinSource } from './spam-assassin.js';

export const SOURCE_TYPES = ['image-folder', 'image-list', 'idx', 'text', 'npy', 'onnx-testset', 'spam-assassin'] as const;
export type SourceType = (typeof SOURCE_TYPES)[number];

/** Where records come from (the `source` section of a dataset spec). */
export interface SourceSpec {
  type: SourceType;
  /** Folder or file (not needed for spam-assassin). */
  path?: string;
  /** idx: the labels file (default: found by MNIST naming); npy: a labels .npy. */
  labels?: string;
  /** Class names, index = label (default: sorted folder names or sorted string labels). */
  classes?: string[];
  /** spam-assassin: drop the mail headers. */
  bodyOnly?: boolean;
}

export async function openSource(s: SourceSpec): Promise<RecordSource> {
  const path = (): string => {
    if (!s.path) throw new InputError(`source '${s.type}' needs a path`);
    return s.path;
  };
  switch (s.type) {
    case 'image-folder':
      return imageFolderSource(path(), s.classes);
    case 'image-list':
      return imageListSource(path(), s.classes);
    case 'idx':
      return idxSource(path(), s.labels);
    case 'text':
      return textListSource(path(), s.classes);
    case 'npy':
      return npySource(path(), s.labels);
    case 'onnx-testset':
      return onnxTestSetSource(path());
    case 'spam-assassin':
      return spamAssassinSource({ bodyOnly: s.bodyOnly });
    default:
      throw new InputError(`unknown source type '${(s as { type: string }).type}' (one of ${SOURCE_TYPES.join(', ')})`);
  }
}

/** Guesses the source of a folder or data file from its layout and name. */
/** What the data is for: a folder with both splits (MNIST layout) gives its test split to evaluation, train to training and calibration. */
export type DataRole = 'evaluation' | 'training';

export async function inferSource(path: string, role: DataRole = 'evaluation'): Promise<SourceSpec> {
  if (statSync(path).isDirectory()) {
    if (isOnnxTestSet(path)) return { type: 'onnx-testset', path };
    const files = readdirSync(path);
    const ocr = ['rec.json', 'cls.json', 'det.json'].filter((f) => files.includes(f));
    if (ocr.length > 0) {
      throw new InputError(`${path}: a 'data render-ocr' folder holds one dataset per model; give --data one of its specs: ${ocr.map((f) => join(path, f)).join(', ')} (rec: recogniser, cls: direction classifier, det: detector)`);
    }
    if (classFolders(path).length > 0) return { type: 'image-folder', path };
    const idx = files.filter((f) => /images-idx3-ubyte(\.gz)?$/.test(f));
    if (idx.length === 1) return { type: 'idx', path: join(path, idx[0]!) };
    // the MNIST / Fashion-MNIST layout: t10k-* is the test split, train-* the training split
    const train = idx.find((f) => f.startsWith('train-'));
    const test = idx.find((f) => f.startsWith('t10k-'));
    if (idx.length === 2 && train && test) return { type: 'idx', path: join(path, role === 'training' ? train : test) };
    throw new InputError(`${path}: not a dataset folder (no dataset.json, no <class>/<image> subfolders, no ONNX test sets)`);
  }
  if (/idx3-ubyte(\.gz)?$|\.idx3(\.gz)?$/.test(path)) return { type: 'idx', path };
  if (/\.np[yz]$/.test(path)) return { type: 'npy', path };
  if (/\.(jsonl|csv)(\.gz)?$/i.test(path)) {
    for await (const row of readRows(path)) return { type: rowHasImage(row) ? 'image-list' : 'text', path };
    throw new InputError(`${path}: the list is empty`);
  }
  throw new InputError(`${path}: unknown data format (expected a folder, idx, .npy/.npz, .jsonl/.csv or a dataset .json spec)`);
}
