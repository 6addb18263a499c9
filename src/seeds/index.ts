export * from './config.js';
export * from './read.js';
export * from './adapters.js';
export * from './load.js';
export * from './kb.js';
export * from './outline.js';
export * from './wikihow.js';
export * from './stage.js';
