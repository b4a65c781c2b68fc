export * from './session.js';
export * from './inputs.js';
