// Quantization: passes (dynamic, static QDQ, weight-only, fp16/bf16), calibration, sensitivity, fallback.
export { dynamicQuantizePass, type DynamicConfig } from './dynamic.js';
export { staticQuantizePass, calibrateFor, type StaticConfig } from './static.js';
export { weightOnlyQuantizePass, type WeightOnlyConfig } from './weight-only.js';
export { halfPrecisionPass, HALF_BLOCK_LIST, type HalfConfig } from './float16.js';
export { collectStats, computeRanges, type CalibrationStats, type CalibrateOptions } from './calibrate.js';
export { StreamingHistogram } from './histogram.js';
export { rangeFrom, type CalibMethod, type Range as CalibrationRange } from './range-methods.js';
export { streamActivations, feedsOf, type CalibrationData } from './stream.js';
export { quantizeModel, QUANTIZE_MODES, isQuantizeMode, type QuantizeMode, type QuantizeOptions, type QuantizeResult } from './quantize.js';
export { nodeSensitivity, type NodeSensitivity } from './sensitivity.js';
export { quantizeWithFallback, type FallbackOptions, type FallbackReport } from './fallback.js';
