/**
 * A signature pool worker thread (see pool.ts): parses JSONL lines, hashes texts (exact key, word
 * count, MinHash signature, band keys) and serialises the kept and removed output lines, batch by
 * batch, in the order the batches come.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { PoolWorkerState, type PoolParams, type PoolRequest } from './pool.js';

const state = new PoolWorkerState(workerData as PoolParams);
const port = parentPort!;

port.on('message', (msg: PoolRequest) => {
  const { reply, transfer } = state.handle(msg);
  port.postMessage(reply, transfer);
});
