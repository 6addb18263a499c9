export * from './jsonl.js';
export * from './atomic.js';
export * from './append-log.js';
export * from './parquet.js';
export * from './shards.js';
export * from './identity.js';
export * from './lines.js';
export * from './files.js';
