export * from './session.js';
export * from './inputs.js';
export * from './profile.js';
export * from './bench.js';
