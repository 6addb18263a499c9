/** Counters and summaries a task fills while it works; the executor merges them across tasks. */

export interface Summary {
  count: number;
  sum: number;
  min: number;
  max: number;
}

export interface StatsJson {
  counters: Record<string, number>;
  summaries: Record<string, Summary>;
  /** One example (the first) per key, e.g. an error message per kind of failure. */
  notes?: Record<string, string>;
}

export class Stats {
  readonly counters: Record<string, number> = {};
  readonly summaries: Record<string, Summary> = {};
  readonly notes: Record<string, string> = {};

  /** Keep `text` as the example of `name`, unless there is one already. */
  note(name: string, text: string): void {
    this.notes[name] ??= text;
  }

  inc(name: string, by = 1): void {
    this.counters[name] = (this.counters[name] ?? 0) + by;
  }

  get(name: string): number {
    return this.counters[name] ?? 0;
  }

  observe(name: string, value: number): void {
    const s = this.summaries[name];
    if (!s) this.summaries[name] = { count: 1, sum: value, min: value, max: value };
    else {
      s.count++;
      s.sum += value;
      if (value < s.min) s.min = value;
      if (value > s.max) s.max = value;
    }
  }

  merge(other: StatsJson): this {
    for (const [k, v] of Object.entries(other.notes ?? {})) this.note(k, v);
    for (const [k, v] of Object.entries(other.counters)) this.inc(k, v);
    for (const [k, o] of Object.entries(other.summaries)) {
      const s = this.summaries[k];
      if (!s) this.summaries[k] = { ...o };
      else {
        s.count += o.count;
        s.sum += o.sum;
        s.min = Math.min(s.min, o.min);
        s.max = Math.max(s.max, o.max);
      }
    }
    return this;
  }

  toJSON(): StatsJson {
    return { counters: { ...this.counters }, summaries: structuredClone(this.summaries), ...(Object.keys(this.notes).length ? { notes: { ...this.notes } } : {}) };
  }
}
