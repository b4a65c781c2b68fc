// Structured and unstructured pruning: dependency groups on the ONNX graph, physical removal, importance,
// recovery fine-tuning. `removeLeast` / `PruneSpace.apply` are the removal API (narrower students for QAT and
// distillation use them too).
export { analyzeChannels, defaultDims, staticShape, type Analysis, type AnalyzeOptions } from './channels.js';
export { PruneSpace, takeAlong, refreshShapes, type Cut, type GroupKind, type PruneGroup, type Source } from './space.js';
export { CRITERIA, groupScores, idScores, type Criterion, type ScoreInputs } from './importance.js';
export {
  analyze, cloneModel, flopCount, isOfGranularity, parameterCount, pruneStructured, rankGroups, removeLeast, selectGroups,
  type StructuredGranularity, type StructuredOptions, type StructuredReport,
} from './structured.js';
export { applyMasks, computeMasks, prunableWeights, zeroFraction, type MaskOptions, type MaskReport, type PrunableWeight } from './unstructured.js';
export { activationNorms } from './activations.js';
export { finetune, taylorTerms, type RecoveryOptions, type RecoveryResult } from './finetune.js';
export { accuracyEstimate, dropEstimate, top1Hits } from './evaluate.js';
export { GRANULARITIES, isGranularity, modelSizes, parsePattern, pruneModel, type Granularity, type PruneOptions, type PruneReport, type SizeReport } from './prune.js';
export { allocateAmounts, sensitivityLayers, sensitivityScan, type LayerSensitivity, type SensitivityOptions } from './sensitivity.js';
