export * from './types.js';
export * from './id.js';
export * from './check.js';
export * from './grounding.js';
