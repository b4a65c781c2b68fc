// The eval area's public API: run a model over a dataset and score it; the metrics on their own.
export { evaluate, resultFromRecords, type EvalRecords, type EvalResult, type EvaluateOptions, type SampleRecord, type Task as EvalTask } from './evaluate.js';
export { bootstrap as bootstrapMetric, bootstrapMean, bootstrapRatio, type Estimate, type ResampleOptions } from './bootstrap.js';
export { ClassificationScores, confusionMatrix, macro, perClass, topK } from './classification.js';
export { OcrScores, ctcAlphabet, ctcGreedy, editDistance } from './ocr.js';
export { DetMapScores, pixelCounts, shrinkBox } from './detmap.js';
export { DetBoxScores, iou, mapBoxes, matchBoxes } from './detboxes.js';
export { FidelityScores, sampleFidelity, type SampleFidelity } from './fidelity.js';
export { ReferenceOutputs } from './reference.js';
export { checkFeeds, defaultImagePreprocess } from './model-io.js';
