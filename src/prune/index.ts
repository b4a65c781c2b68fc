// Structured and unstructured pruning: dependency groups on the ONNX graph, physical removal, importance.
export { analyzeChannels, defaultDims, staticShape, type Analysis, type AnalyzeOptions } from './channels.js';
export { PruneSpace, takeAlong, refreshShapes, type Cut, type GroupKind, type PruneGroup, type Source } from './space.js';
