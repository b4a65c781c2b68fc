// The data area's public API: datasets (streaming, split, batches, feeds), preprocessing, sources, OCR rendering.
export type { Batch, Box, DataRecord, Dataset, Label, RawImage, RecordSource, Sample } from './types.js';
export { batches, bindInputs, feeds, limit, loadDatasetSpec, openDataset, split, stack, type DatasetSpec, type EvalSpec } from './dataset.js';
export { splitPart, type Selection } from './select.js';
export { checkImagePreprocess, imageToTensor, loadPreprocessBeside, preprocessFileFor, savePreprocessBeside, type ImagePreprocess, type ImageTransform } from './image.js';
export { TextInputEncoder, type TextPreprocess } from './text.js';
export { openSource, SOURCE_TYPES, type SourceSpec, type SourceType } from './sources/index.js';
export { paddleOcrAssets, renderOcrSet, type RenderOcrOptions, type RenderOcrResult } from './render-ocr.js';
export { writeIdxSubset, writeSpamAssassinJsonl } from './convert.js';
