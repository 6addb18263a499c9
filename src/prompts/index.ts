export * from './config.js';
export * from './templates.js';
export * from './build.js';
export * from './rng.js';
export * from './languages.js';
export * from './stats.js';
export * from './stage.js';
