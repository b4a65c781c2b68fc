// Goal-driven optimization: goals, recipes, the search and the optimize pipeline.
export { optimize, type OptimizeOptions, type OptimizeOutcome } from './optimize.js';
export { runSearch, type Candidate, type Evaluator, type SearchOptions, type SearchResult, type Skipped, type Stage } from './search.js';
export { checkGoals, parseAccuracyDrop, metricDrop, DEFAULT_ACCURACY_BOUND, type AccuracyBound, type GoalCheck, type Goals, type LatencyStats, type Measurement, type MetricValue } from './goals.js';
export { parseBudget, type Budget } from './budget.js';
export { describeRecipe, parseRecipeFile, recipeKey, DEFAULT_SESSION, type Recipe, type RecipeFile, type RecipeStep, type SessionSettings } from './recipe.js';
export { applyRecipe } from './apply.js';
export { searchCatalog, simplifyStep, type CatalogEntry } from './catalog.js';
export { paretoFront, type Objectives } from './pareto.js';
export { OnnxEvaluator, type OnnxEvaluatorOptions } from './evaluator.js';
export { dataMetric, fidelityMetric, type MetricSource } from './metric.js';
