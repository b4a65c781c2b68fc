export * from './inspect.js';
export * from './format.js';
