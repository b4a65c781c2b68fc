/**
 * inferopt's library API for Node.js: ./core.ts (what runs anywhere) plus files, datasets, eval, search,
 * reports and training. Browser bundles get ./browser.ts through the package's `browser` export condition.
 */
export * from './core.js';
export { loadModel, saveModel, stageModel, modelToBytes, modelFromBytes, modelSizeOnDisk, type LoadOptions, type SaveOptions, type StagedModel } from './ir/io.js';
export { saveModelProven, proveModelFile, ProofError, type Proof, type ProveOptions } from './runtime/prove.js';
export { profileModel, parseOrtProfile, type OrtProfile, type KernelEvent, type ProfileRunOptions } from './runtime/profile.js';
export { loadTestSets, readTestSet } from './verify/index.js';

// Data: datasets, preprocessing, OCR rendering.
export {
  openDataset,
  loadDatasetSpec,
  batches,
  feeds,
  split,
  limit,
  splitPart,
  imageToTensor,
  loadPreprocessBeside,
  savePreprocessBeside,
  TextInputEncoder,
  openSource,
  SOURCE_TYPES,
  renderOcrSet,
  paddleOcrAssets,
  writeIdxSubset,
  writeSpamAssassinJsonl,
  type Batch,
  type Box,
  type DataRecord,
  type Dataset,
  type Label,
  type RawImage,
  type Sample,
  type DatasetSpec,
  type EvalSpec,
  type Selection,
  type ImagePreprocess,
  type TextPreprocess,
  type SourceSpec,
  type SourceType,
  type RenderOcrOptions,
  type RenderOcrResult,
} from './data/index.js';

// Eval: scores with bootstrap intervals, and the metrics on their own.
export {
  evaluate,
  bootstrapMean,
  bootstrapRatio,
  ClassificationScores,
  OcrScores,
  DetMapScores,
  DetBoxScores,
  FidelityScores,
  confusionMatrix,
  topK,
  ctcGreedy,
  editDistance,
  iou,
  type EvalResult,
  type EvaluateOptions,
  type EvalTask,
  type Estimate,
  type ResampleOptions,
} from './eval/index.js';

// Goal-driven search and optimize.
export {
  optimize,
  runSearch,
  checkGoals,
  parseAccuracyDrop,
  parseBudget,
  applyRecipe,
  describeRecipe,
  parseRecipeFile,
  searchCatalog,
  paretoFront,
  OnnxEvaluator,
  dataMetric,
  fidelityMetric,
  DEFAULT_ACCURACY_BOUND,
  type OptimizeOptions,
  type OptimizeOutcome,
  type Candidate,
  type Evaluator,
  type SearchOptions,
  type SearchResult,
  type AccuracyBound,
  type Goals,
  type GoalCheck,
  type Measurement,
  type Budget,
  type Recipe,
  type RecipeFile,
  type RecipeStep,
  type SessionSettings,
  type CatalogEntry,
  type MetricSource,
} from './search/index.js';

// Reports and profiles.
export { htmlReport, markdownReport, analyzeProfile, formatProfile, roofline, measuredPeak, writeTrace, type OptimizeResults, type ProfileAnalysis, type Peak } from './report/index.js';

// Training on ONNX Runtime.
export {
  train,
  buildTrainingGraph,
  buildBackward,
  gradCheck,
  saveCheckpoint,
  loadCheckpoint,
  learningRate,
  parseSchedule,
  type TrainOptions,
  type TrainResult,
  type EpochStats,
  type Progress,
  type TrainingGraph,
  type TrainingGraphOptions,
  type LossSpec,
  type OptimizerSpec,
  type ScheduleSpec,
  type CheckpointState,
  type GradCheckOptions,
  type GradCheckResult,
} from './train/index.js';

// Video pipelines: spec, stages, tracker, scheduler, runner, metrics, rendered videos.
export * from './pipeline/index.js';

// Pruning: dependency groups, physical removal, importance, recovery fine-tuning.
export {
  pruneModel,
  analyze as analyzePruneGroups,
  analyzeChannels,
  removeLeast,
  rankGroups,
  selectGroups,
  pruneStructured,
  computeMasks,
  applyMasks,
  prunableWeights,
  finetune,
  taylorTerms,
  activationNorms,
  modelSizes,
  PruneSpace,
  GRANULARITIES,
  type Granularity,
  type PruneOptions,
  type PruneReport,
  type PruneGroup,
  type StructuredOptions,
  type RecoveryOptions,
} from './prune/index.js';
