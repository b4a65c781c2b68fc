// Multi-stage video pipelines: spec, stages (DB post-processing, tracker, crops, CTC), runner, scheduler, metrics, optimizer.
export { loadPipelineSpec, validateSpec, resolveOrder, paddleOcrBaselineSpec, type PipelineSpec, type StageSpec, type ModelStageSpec, type TrackerStageSpec, type PreSpec, type PostSpec, type RecognizePolicy, type ValueType as PipelineValueType } from './spec.js';
export { dbPostprocess, DB_DEFAULTS, type DbOptions, type Region } from './db.js';
export { Tracker, Track, TRACKER_DEFAULTS, type TrackerOptions } from './tracker.js';
export { FrameScheduler } from './scheduler.js';
export { Pipeline, runFrames, type FrameResult, type OutputItem, type PipelineOptions as PipelineRunOptions, type RunResult } from './runner.js';
export { nms, ctcDecode, decodeLine, type Item, type Span } from './stages.js';
export { resizeToTensor, cropToTensor, type Frame } from './image.js';
export { minAreaRect, convexHull, boxIou, type Point, type Quad, type Rect, type RotatedRect } from './geometry.js';
export { listFrames, decodeFrames, type FrameTruth, type TruthItem } from './frames.js';
export { scoreAccuracy, latencyReport, spottingF1, f1Difference, spotFrame, type AccuracyReport, type LatencyReport, type SpotCounts } from './metrics.js';
export { loadFrameSet, runPipeline, type FrameSet, type PipelineRun } from './run.js';
export { renderVideo, type RenderVideoOptions, type RenderVideoResult } from './video.js';
export { pipelineReport } from './report.js';
