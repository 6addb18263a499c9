/** A check pool worker thread (see check-pool.ts): judges batches of samples, in the order they come. */
import { parentPort, workerData } from 'node:worker_threads';
import { batchLines } from '../io/lines.js';
import { SAMPLE_RECORD } from '../records/check.js';
import { errorMessage } from '../util/errors.js';
import type { CheckReply, CheckRequest, LineRow, Placed } from './check-pool.js';
import { Decontaminator, type DecontaminatorState } from './decontaminator.js';
import { judge, placed, type Judged } from './outcome.js';

const dc = Decontaminator.from(workerData as DecontaminatorState);
const port = parentPort!;

/**
 * Each non-blank line of a JSONL batch read as io/jsonl.ts reads it: a record handed to `visit`,
 * which returns the record's row, or a row saying why the line is not one.
 */
function eachRecord(bytes: Uint8Array, visit: (index: number, record: Record<string, unknown>) => LineRow): { rows: LineRow[]; lines: number } {
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
    if (value === null || typeof value !== 'object' || Array.isArray(value)) rows.push({ index, bad: 'expected a JSON object' });
    else rows.push(visit(index, value as Record<string, unknown>));
  }
  return { rows, lines: lines.length };
}

/** The lines of a JSONL batch, each record's `field` judged. */
function judgeLines(bytes: Uint8Array, field: string): { rows: LineRow[]; lines: number } {
  return eachRecord(bytes, (index, record) => {
    const text = record[field];
    if (typeof text !== 'string') return { index, noField: true };
    const judged = judge(dc, text);
    return judged.outcome.kind === 'kept' ? { index, judged } : { index, judged, record };
  });
}

/** JSON lines written into a buffer reused from batch to batch, handed out as a copy of their own (to be transferred). */
class Lines {
  private buf = Buffer.allocUnsafe(1 << 20);
  private at = 0;
  count = 0;

  add(record: object): void {
    const json = JSON.stringify(record);
    const most = json.length * 3 + 1; // UTF-8 takes at most 3 bytes per UTF-16 unit
    if (this.at + most > this.buf.length) {
      const grown = Buffer.allocUnsafe(Math.max(this.at + most, 2 * this.buf.length));
      this.buf.copy(grown, 0, 0, this.at);
      this.buf = grown;
    }
    this.at += this.buf.write(json, this.at, 'utf8');
    this.buf[this.at++] = 0x0a;
    this.count++;
  }

  /** The lines so far, and start again. */
  take(): Uint8Array {
    const out = new Uint8Array(this.buf.subarray(0, this.at));
    this.at = 0;
    this.count = 0;
    return out;
  }
}
const output = new Lines();
const removed = new Lines();

/** The lines of a JSONL batch as the decontaminate stage's input: each sample judged, and written where it goes. */
function placeLines(bytes: Uint8Array): { rows: LineRow[]; lines: number; placed: Placed } {
  const { rows, lines } = eachRecord(bytes, (index, s) => {
    // As the task's reader checks each record of its input.
    const why = SAMPLE_RECORD.check(s);
    if (why) return { index, bad: `not a ${SAMPLE_RECORD.kind} record: ${why}` };
    const text = s.text as string;
    const judged: Judged = judge(dc, text);
    if (judged.outcome.kind === 'kept') output.add(s);
    else {
      const { to, record } = placed(s, text, judged.outcome);
      (to === 'removed' ? removed : output).add(record);
    }
    return { index, judged };
  });
  const [outputCount, removedCount] = [output.count, removed.count];
  return { rows, lines, placed: { output: output.take(), outputCount, removed: removed.take(), removedCount } };
}

port.on('message', (msg: CheckRequest) => {
  let reply: CheckReply;
  const transfer: ArrayBuffer[] = [];
  try {
    if ('texts' in msg) reply = { seq: msg.seq, judged: msg.texts.map((t) => judge(dc, t)) };
    else if ('place' in msg) {
      reply = { seq: msg.seq, ...placeLines(msg.bytes) };
      transfer.push(reply.placed!.output.buffer as ArrayBuffer, reply.placed!.removed.buffer as ArrayBuffer);
    } else reply = { seq: msg.seq, ...judgeLines(msg.bytes, msg.field) };
  } catch (err) {
    reply = { seq: msg.seq, error: errorMessage(err) };
  }
  port.postMessage(reply, transfer);
});
