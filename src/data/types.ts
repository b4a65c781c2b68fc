import type { Tensor } from '../ir/tensor.js';

/** An axis-aligned box in pixels of the stored image: [x0, y0, x1, y1], x1/y1 exclusive. */
export type Box = [number, number, number, number];

/**
 * What a sample is scored against: a class index, a string (OCR text), text boxes (detection maps) or
 * reference tensors (ONNX test sets).
 */
export type Label = number | string | { boxes: Box[] } | Record<string, Tensor>;

/** A model-ready sample: every input tensor carries a leading batch dimension of 1. */
export interface Sample {
  /** Stable id (file path, record index…): the calibration/evaluation split hashes it. */
  id: string;
  inputs: Record<string, Tensor>;
  label?: Label;
  meta?: Record<string, unknown>;
}

/** Pixels decoded by a reader that does not go through an image file (idx, npy). */
export interface RawImage {
  width: number;
  height: number;
  channels: 1 | 3 | 4;
  data: Uint8Array;
}

/**
 * One record as a source lists it, before preprocessing: an image (path, encoded bytes or pixels), a text,
 * or ready tensors. Records are cheap to hold; pixels are decoded only when the sample is made.
 */
export interface DataRecord {
  id: string;
  image?: string | Uint8Array | RawImage;
  text?: string;
  textPair?: string;
  tensors?: Record<string, Tensor>;
  label?: Label;
  meta?: Record<string, unknown>;
}

/**
 * Where records come from. Every source can stream; sources with a cheap listing (folders, idx, npy) also
 * offer random access, which makes an exact seeded shuffle possible without holding any pixels.
 */
export interface RecordSource {
  readonly description: string;
  /** Class names, index = label, when the source knows them (folders, string labels in a list). */
  classes?: readonly string[];
  stream(): AsyncIterable<DataRecord>;
  indexed?: {
    length: number;
    /** The id of record i without reading it (for the split). */
    idAt(i: number): string;
    at(i: number): Promise<DataRecord>;
  };
}

/** A dataset: an async iterable of samples with bounded memory, whatever its size. */
export interface Dataset extends AsyncIterable<Sample> {
  readonly description: string;
  readonly classes?: readonly string[];
  /** Number of samples, when known without reading them. */
  readonly size?: number;
}

/** Samples stacked along the batch axis. */
export interface Batch {
  ids: string[];
  inputs: Record<string, Tensor>;
  labels: (Label | undefined)[];
  metas: (Record<string, unknown> | undefined)[];
}
