/**
 * The part of inferopt's API that runs anywhere (Node.js and browser bundles): IR, op registry, inspect,
 * passes and simplify, quantization, verify, bench, the zoo. ./index.ts (Node) and ./browser.ts add the
 * rest; internals (random generators, proto codecs, ORT bindings, sorting helpers) stay unexported.
 */

// Errors: every failure a caller can act on is one of these (exit codes 2, 3 and 1 in the CLI).
export { InferoptError, InputError, GoalError } from './errors.js';
export { RuntimeError } from './runtime/session.js';

// IR: the model, its graph and tensors; loading and saving.
export { DataType, dtypeInfo, dtypeName, dtypeFromName, byteSize, type DTypeInfo, type TypedArray } from './ir/dtype.js';
export { Tensor } from './ir/tensor.js';
export { tensorType, isTensorType, isStaticShape, formatShape, formatType, numElements, type Dim, type ValueType, type TensorType } from './ir/types.js';
export { Graph, Node, Value, Model, type AttrValue, type Attribute, type OpsetImport, type Use } from './ir/graph.js';
export { GraphBuilder, attr, type AttrInput, type OpOptions } from './ir/builder.js';
export { cloneModel } from './ir/clone.js';
export { float32ToFloat16, float16ToFloat32, FLOAT16_MAX } from './ir/float16.js';

// Runtime: ONNX Runtime sessions, benchmarks and profiles.
export { Session, ortVersion, type Backend, type OptLevel, type SessionOptions } from './runtime/session.js';
export { randomInputs, runtimeInputs, resolveDims, concreteShape, type InputSpec } from './runtime/inputs.js';
export { benchmark, compare, type BenchOptions, type BenchResult, type CompareResult, type SessionSettingsOverride } from './runtime/bench.js';

// Statistics used by every measurement.
export { mean, stdev, median, percentile, summarize, bootstrapMedianRatio, type Summary, type RatioInterval, type BootstrapOptions } from './util/stats.js';

// The op registry: shapes, costs and gradients per op.
export { registerOp, getOp, allOps, defineGrad, getGrad, defineTraits, opTraits, opsWith, type OpDef, type OpTraits, type QuantTraits, type InferContext, type Cost } from './ops/index.js';
export { inferShapes, analyzeShapes, type InferOptions, type InferReport, type ShapeAnalysis } from './ops/index.js';
export { modelCost, type ModelCost, type NodeCost, type OpTypeCost } from './ops/index.js';

// Inspect.
export { inspectModel, formatInspect, humanBytes, humanCount, type InspectOptions, type InspectReport, type InterfaceValue, type DtypeParams, type ComputeSummary } from './inspect/index.js';

// Passes, the rewrite engine and simplify.
export { resolveParams, type Pass, type PassContext, type PassResult, type ParamSpec, type ParamSpecs, type Target } from './passes/pass.js';
export { runPasses, type PassStep, type PassRunStats, type PipelineOptions, type PipelineResult } from './passes/manager.js';
export { simplifyModel, simplifyPipeline, simplifyPassIds, CLEANUP_PASSES, FUSION_PASSES, type SimplifyOptions } from './passes/simplify.js';
export { summarizeModel, type ModelSummary } from './passes/summary.js';
export {
  constantToInitializer,
  initializerToConstant,
  cse,
  deadCode,
  foldConstants,
  inferShapesPass,
  upgradeOpsetForGelu,
  eliminateNoops,
  foldIntoConv,
  foldIntoMatMul,
  fuseAttention,
  fuseEmbedLayerNorm,
  fuseBiasGelu,
  fuseGelu,
  fuseLayerNorm,
  fuseSkipLayerNorm,
  P,
  Match,
  matchPattern,
  RewriteBuilder,
  rulePass,
  applyRules,
  type Pattern,
  type OpPattern,
  type RewriteRule,
  type RuleContext,
} from './passes/index.js';

// Verify: a transformed model against its reference.
export { verifyModels, type VerifyOptions, type VerifyReport } from './verify/verify.js';
export { compareTensors, type OutputDiff, type Tolerance } from './verify/compare.js';

// The model zoo.
export { buildZooModel, countParameters, zooNames, zooDescription, isZooName, BERT_CONFIGS, type ZooName, type ZooOptions, type BertConfig, type BertOptions } from './zoo/index.js';

// Quantization.
export {
  quantizeModel,
  QUANTIZE_MODES,
  isQuantizeMode,
  dynamicQuantizePass,
  staticQuantizePass,
  weightOnlyQuantizePass,
  halfPrecisionPass,
  HALF_BLOCK_LIST,
  collectStats,
  computeRanges,
  nodeSensitivity,
  quantizeWithFallback,
  type QuantizeMode,
  type QuantizeOptions,
  type QuantizeResult,
  type DynamicConfig,
  type StaticConfig,
  type WeightOnlyConfig,
  type HalfConfig,
  type CalibrationStats,
  type CalibrateOptions,
  type CalibMethod,
  type CalibrationData,
  type NodeSensitivity,
  type FallbackOptions,
  type FallbackReport,
} from './quantize/index.js';
