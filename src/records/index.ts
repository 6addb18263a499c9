export * from './types.js';
export * from './id.js';
