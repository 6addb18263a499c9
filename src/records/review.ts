import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** A person's verdict on one sample, from the viewer: one line of `review/flags.jsonl`, appended, never rewritten. */
export interface ReviewFlag {
  id: string;
  /** `bad` drops the sample at the next filter run (with `filter.review`); `good` marks it looked at and fine. */
  verdict: 'bad' | 'good';
  reason: string;
  note?: string;
  template_id?: string | null;
  who: string;
  at: string;
}

export const REVIEW_REASONS = ['boilerplate', 'off-topic', 'factual error', 'unsafe', 'wrong audience', 'repetitive', 'truncated', 'other'] as const;

/** Where a corpus output folder keeps its flags. */
export const flagsPath = (outputDir: string) => join(outputDir, 'review', 'flags.jsonl');

/** Every flag of a flags file, in the order given; a missing file has none. A line cut short by a crash is skipped. */
export function readFlags(file: string): ReviewFlag[] {
  if (!existsSync(file)) return [];
  const out: ReviewFlag[] = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    try {
      out.push(JSON.parse(line) as ReviewFlag);
    } catch {
      // The last line of an append interrupted mid-write.
    }
  }
  return out;
}

/** The ids whose latest verdict is `bad`, with that flag's reason. */
/** Whether the flags file was written at or after `ms` (epoch milliseconds). */
export function flagsChangedSince(file: string, ms: number): boolean {
  const st = statSync(file, { throwIfNoEntry: false });
  return st !== undefined && st.mtimeMs >= ms;
}

export function flaggedBad(file: string): Map<string, string> {
  const latest = new Map<string, ReviewFlag>();
  for (const f of readFlags(file)) latest.set(f.id, f);
  return new Map([...latest].filter(([, f]) => f.verdict === 'bad').map(([id, f]) => [id, f.reason]));
}
