// The training engine's public API.
export { buildBackward, reduceToShape } from './backward.js';
export { saveCheckpoint, loadCheckpoint, type CheckpointState } from './checkpoint.js';
export { collectTensorData } from './data.js';
export { GraphEmitter, type ValueFacts } from './emitter.js';
export { gradCheck, type GradCheckOptions, type GradCheckResult } from './gradcheck.js';
export { appendLoss, type LossSpec } from './loss.js';
export { appendOptimizer, clipGlobalNorm, adamBiasCorrections, type OptimizerSpec, type Carried } from './optimizer.js';
export { learningRate, parseSchedule, type ScheduleSpec } from './schedule.js';
export { probeShapes } from './shapes.js';
export { train, withWeights, gatherBatch, type TensorData, type TrainOptions, type TrainResult, type EpochStats, type Progress } from './trainer.js';
export { buildTrainingGraph, applyTrainingForms, type TrainingGraph, type TrainingGraphOptions } from './training-graph.js';
