/** A check pool worker thread (see check-pool.ts): judges batches of samples, in the order they come. */
import { parentPort, workerData } from 'node:worker_threads';
import { batchLines } from '../io/lines.js';
import { errorMessage } from '../util/errors.js';
import type { CheckReply, CheckRequest, LineRow } from './check-pool.js';
import { Decontaminator, type DecontaminatorState } from './decontaminator.js';
import { judge } from './outcome.js';

const dc = Decontaminator.from(workerData as DecontaminatorState);
const port = parentPort!;

/** The lines of a JSONL batch, each read as io/jsonl.ts reads it and judged. */
function judgeLines(bytes: Uint8Array, field: string): { rows: LineRow[]; lines: number } {
  const lines = batchLines(bytes);
  const rows: LineRow[] = [];
  for (let index = 0; index < lines.length; index++) {
    const line = lines[index]!;
    if (line.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (err) {
      rows.push({ index, bad: `malformed JSON (${(err as Error).message})` });
      continue;
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      rows.push({ index, bad: 'expected a JSON object' });
      continue;
    }
    const record = value as Record<string, unknown>;
    const text = record[field];
    if (typeof text !== 'string') {
      rows.push({ index, noField: true });
      continue;
    }
    const judged = judge(dc, text);
    rows.push(judged.outcome.kind === 'kept' ? { index, judged } : { index, judged, record });
  }
  return { rows, lines: lines.length };
}

port.on('message', (msg: CheckRequest) => {
  let reply: CheckReply;
  try {
    reply = 'texts' in msg ? { seq: msg.seq, judged: msg.texts.map((t) => judge(dc, t)) } : { seq: msg.seq, ...judgeLines(msg.bytes, msg.field) };
  } catch (err) {
    reply = { seq: msg.seq, error: errorMessage(err) };
  }
  port.postMessage(reply);
});
