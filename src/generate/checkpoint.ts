import { AppendLog, BATCH_RECORDS } from '../io/append-log.js';
import { errorMessage } from '../util/errors.js';

/**
 * A task's ledger of finished records. Records finished in the same tick are appended in one
 * write (up to BATCH_RECORDS at a time), and only once that write returned are they reported as
 * written: a record counts as done only when a SIGKILL can no longer lose it.
 */
export class Checkpoint<T> {
  /** Called with each batch once it is written. */
  onWritten: (records: T[]) => void = () => {};
  /** Called once when a write fails; nothing more is written after it. */
  onError: (message: string) => void = () => {};
  private batch: T[] = [];
  private scheduled = false;
  private failed = false;

  private constructor(private readonly log: AppendLog<T>) {}

  /** Open (or resume) the ledger at `file`, handing each record earlier runs wrote to `earlier`. */
  static open<T>(file: string, earlier: (record: T) => void): Checkpoint<T> {
    const { log } = AppendLog.open<T>(file, { onRecord: earlier });
    return new Checkpoint(log);
  }

  add(record: T): void {
    if (this.batch.push(record) >= BATCH_RECORDS) return this.flush();
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }

  flush(): void {
    this.scheduled = false;
    const records = this.batch;
    this.batch = [];
    if (records.length === 0 || this.failed) return;
    try {
      this.log.appendMany(records);
    } catch (err) {
      // Nothing of this batch counts as done; the owner stops rather than generate what it cannot keep.
      this.failed = true;
      this.onError(`cannot write ${this.log.path}: ${errorMessage(err)}`);
      return;
    }
    this.onWritten(records);
  }

  /** Flush what is pending, fsync and close. */
  close(): void {
    this.flush();
    this.log.close();
  }
}
