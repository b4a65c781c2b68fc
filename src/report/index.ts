// Reports and profile analysis.
export { htmlReport } from './html.js';
export { markdownReport } from './markdown.js';
export type { OptimizeResults } from './results.js';
export { analyzeProfile, formatProfile, type ProfileAnalysis } from './profile/analyze.js';
export { aggregateKernels, type NodeTime, type OpTypeTime, type ProfileAggregate } from './profile/aggregate.js';
export { analyzeFusions, type FusionReport } from './profile/fusion.js';
export { roofline, type Peak, type NodeRoofline } from './profile/roofline.js';
export { measuredPeak } from './profile/peak.js';
export { writeTrace } from './profile/trace.js';
