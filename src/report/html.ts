/**
 * The report as one self-contained HTML file: inline SVG charts and CSS, no script and nothing
 * fetched (its Content-Security-Policy forbids both), every piece of text from the data escaped.
 */
import type { Count, ReportData } from './collect.js';

const esc = (s: unknown) => String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
const pct = (x: number) => `${(100 * x).toFixed(x < 0.001 && x > 0 ? 3 : 1)}%`;
const num = (n: number) => Math.round(n).toLocaleString('en-US');
const PALETTE = ['#4269d0', '#efb118', '#ff725c', '#6cc5b0', '#3ca951', '#ff8ab7', '#a463f2', '#97bbf5'];

/** Horizontal bars, one per value, with counts and shares. */
function bars(items: Count[], opts: { width?: number; label?: (c: Count) => string } = {}): string {
  if (items.length === 0) return '<p class="muted">none</p>';
  const width = opts.width ?? 640;
  const labelW = 230;
  const rowH = 18;
  const max = Math.max(...items.map((i) => i.n), 1);
  const rows = items
    .map((c, k) => {
      const w = Math.max(1, ((width - labelW - 110) * c.n) / max);
      const y = k * rowH;
      const label = opts.label ? opts.label(c) : (c.value ?? '(none)');
      const short = label.length > 34 ? `${label.slice(0, 33)}…` : label;
      return (
        `<g><title>${esc(label)}: ${num(c.n)} (${pct(c.share)})</title><text x="${labelW - 6}" y="${y + 13}" text-anchor="end">${esc(short)}</text>` +
        `<rect x="${labelW}" y="${y + 3}" width="${w.toFixed(1)}" height="${rowH - 5}" fill="${PALETTE[0]}"/>` +
        `<text x="${(labelW + w + 6).toFixed(1)}" y="${y + 13}">${num(c.n)} · ${pct(c.share)}</text></g>`
      );
    })
    .join('');
  return `<svg class="chart" width="${width}" height="${items.length * rowH + 4}" role="img">${rows}</svg>`;
}

/** A histogram: counts per bin of width `bin`, the last bin open-ended. */
function histogram(counts: number[], bin: number, color: string): string {
  const width = 300;
  const height = 110;
  const max = Math.max(...counts, 1);
  const bw = width / counts.length;
  const rects = counts
    .map((n, i) => {
      const h = ((height - 20) * n) / max;
      const range = i === counts.length - 1 ? `≥ ${i * bin}` : `${i * bin}–${(i + 1) * bin - 1}`;
      return `<rect x="${(i * bw).toFixed(1)}" y="${(height - 16 - h).toFixed(1)}" width="${(bw - 1).toFixed(1)}" height="${h.toFixed(1)}" fill="${color}"><title>${range} tokens: ${num(n)}</title></rect>`;
    })
    .join('');
  return `<svg class="chart" width="${width}" height="${height}" role="img">${rects}<text x="0" y="${height - 2}">0</text><text x="${width}" y="${height - 2}" text-anchor="end">${num(bin * (counts.length - 1))}+ tokens</text></svg>`;
}

/** A line over time. */
function line(points: { x: number; y: number }[], unit: string): string {
  if (points.length < 2) return '<p class="muted">too few points to draw</p>';
  const width = 640;
  const height = 160;
  const maxX = Math.max(...points.map((p) => p.x), 1);
  const maxY = Math.max(...points.map((p) => p.y), 1);
  const path = points.map((p, i) => `${i ? 'L' : 'M'}${((width - 50) * (p.x / maxX) + 45).toFixed(1)},${(height - 20 - (height - 30) * (p.y / maxY)).toFixed(1)}`).join(' ');
  return (
    `<svg class="chart" width="${width}" height="${height}" role="img"><path d="${path}" fill="none" stroke="${PALETTE[0]}" stroke-width="2"/>` +
    `<text x="0" y="14">${num(maxY)} ${esc(unit)}</text><text x="45" y="${height - 4}">0 s</text><text x="${width}" y="${height - 4}" text-anchor="end">${num(maxX)} s</text></svg>`
  );
}

function table(head: string[], rows: (string | number)[][]): string {
  return `<table><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows.map((r) => `<tr>${r.map((c) => `<td>${typeof c === 'number' ? num(c) : esc(c)}</td>`).join('')}</tr>`).join('')}</tbody></table>`;
}

const CSS = `body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1100px;color:#222;padding:0 16px}
h1{font-size:22px}h2{font-size:18px;margin-top:32px;border-bottom:1px solid #ddd;padding-bottom:4px}h3{font-size:15px}
.cards{display:flex;gap:12px;flex-wrap:wrap}.card{border:1px solid #ddd;border-radius:6px;padding:8px 14px;min-width:120px}.card b{display:block;font-size:20px}
.grid{display:flex;flex-wrap:wrap;gap:18px}.chart text{font-size:11px;fill:#333}table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ddd;padding:3px 8px;text-align:left;font-size:13px}
.muted{color:#777}.warn{color:#b00}`;

/** The HTML page of a report. */
export function reportHtml(r: ReportData): string {
  const s = r.stages;
  const sections: string[] = [];
  sections.push(
    `<div class="cards"><div class="card"><b>${num(r.rows)}</b>samples</div><div class="card"><b>${num(r.tokens)}</b>tokens${r.tokens_estimated ? ' (estimated)' : ''}</div>` +
      `<div class="card"><b>${r.diversity.distinct_2.toFixed(3)}</b>distinct-2</div>` +
      (s.dedup ? `<div class="card"><b>${pct(s.dedup.docs ? s.dedup.removed / s.dedup.docs : 0)}</b>duplicates removed</div>` : '') +
      (s.generate ? `<div class="card"><b>${num(s.generate.tokens_per_s)}</b>tokens/s generated</div>` : '') +
      `</div><p class="muted">Rows from ${esc(r.source)}; written ${esc(r.generated_at)}.</p>`,
  );

  sections.push('<h2>Distributions</h2><div class="grid">');
  for (const [dim, items] of Object.entries(r.distributions)) sections.push(`<div><h3>${esc(dim)}</h3>${bars(items.slice(0, 15), { width: 520 })}</div>`);
  sections.push('</div>');

  sections.push(`<h2>Length (tokens) per format</h2><div class="grid">`);
  Object.entries(r.lengths.formats).forEach(([f, counts], i) => sections.push(`<div><h3>${esc(f)}</h3>${histogram(counts, r.lengths.bin, PALETTE[i % PALETTE.length]!)}</div>`));
  sections.push('</div>');

  sections.push(
    `<h2>Openings</h2><p>The first five words, lower-cased, without punctuation: the same opening again and again is boilerplate a prompt asks for ("once upon a time").</p>${bars(r.openings.overall, { width: 900, label: (c) => c.value || '(empty)' })}`,
  );
  const byTemplate = Object.entries(r.openings.by_template);
  if (byTemplate.length)
    sections.push(
      '<h3>Per template: the most common opening</h3>' +
        table(
          ['template', 'top opening', 'share', 'second', 'share'],
          byTemplate.map(([t, c]) => [t, c[0]?.value ?? '', pct(c[0]?.share ?? 0), c[1]?.value ?? '', c[1] ? pct(c[1].share) : '']),
        ),
    );

  sections.push(
    `<h2>Diversity</h2><p>On ${num(r.diversity.sampled)} sampled texts: distinct-1 ${r.diversity.distinct_1.toFixed(3)}, distinct-2 ${r.diversity.distinct_2.toFixed(3)}, distinct-3 ${r.diversity.distinct_3.toFixed(3)} (distinct n-grams over all n-grams).</p>` +
      '<h3>Near-duplicates within each template</h3><p class="muted">MinHash over 5-word shingles (the dedup stage\'s hashing), a sample of each template, estimated Jaccard ≥ 0.7; review flags beside them.</p>' +
      table(
        ['template', 'checked', 'with a near-duplicate', 'top opening share', 'review flags'],
        r.near_duplicates.map((d) => {
          const flags = s.review?.by_template[d.template];
          return [d.template, d.checked, pct(d.rate), pct(d.top_opening_share), flags ? Object.entries(flags).map(([k, n]) => `${k} ${n}`).join(', ') : ''];
        }),
      ),
  );

  sections.push('<h2>Cleaning</h2>');
  if (s.filter)
    sections.push(
      `<h3>Filter</h3><p>${num(s.filter.checked)} checked, ${num(s.filter.kept)} kept.</p>` +
        bars(
          Object.entries(s.filter.dropped)
            .sort((a, b) => b[1] - a[1])
            .map(([value, n]) => ({ value, n, share: s.filter!.checked ? n / s.filter!.checked : 0 })),
        ),
    );
  else sections.push('<p class="muted">Filter: not run (or not yet).</p>');
  sections.push(s.dedup ? `<h3>Dedup</h3><p>${num(s.dedup.removed)} of ${num(s.dedup.docs)} samples removed as near-duplicates (${pct(s.dedup.docs ? s.dedup.removed / s.dedup.docs : 0)}).</p>` : '<p class="muted">Dedup: not run (or not yet).</p>');
  if (s.decontaminate)
    sections.push(
      `<h3>Decontamination</h3><p>${num(s.decontaminate.checked)} checked, ${num(s.decontaminate.removed)} removed.</p>` +
        table(['benchmark', 'items', 'samples removed', 'unique items matched'], s.decontaminate.benchmarks.map((b) => [b.benchmark, b.items, b.samples_removed, b.unique_items])),
    );
  else sections.push('<p class="muted">Decontamination: not run (or not yet).</p>');
  if (s.review)
    sections.push(
      `<h3>Review flags</h3><p>${num(s.review.flags)} flags.</p>` +
        table(['template', 'reasons'], Object.entries(s.review.by_template).map(([t, by]) => [t, Object.entries(by).map(([k, n]) => `${k} ${n}`).join(', ')])),
    );

  if (s.generate) {
    const g = s.generate;
    sections.push(
      `<h2>Generation</h2><p>${num(g.samples)} samples, ${num(g.failed)} failed, ${num(g.completion_tokens)} tokens; ${num(g.tokens_per_s)} tokens/s over all tasks.</p>` +
        line(g.timeline.map((p) => ({ x: p.t_s, y: p.tokens_per_s })), 'tokens/s') +
        (Object.keys(g.errors_by_kind).length ? `<h3>Errors by kind</h3>${table(['kind', 'errors'], Object.entries(g.errors_by_kind).map(([k, n]) => [k, n]))}` : '<p>No request errors.</p>') +
        `<h3>Finish reasons</h3>${table(['reason', 'samples'], Object.entries(g.finish_reasons).map(([k, n]) => [k, n]))}`,
    );
  }
  if (s.cluster)
    sections.push(
      `<h2>Clusters</h2><p>${num(s.cluster.documents)} documents in ${num(s.cluster.clusters.length)} clusters.${s.cluster.map ? ` The map: <a href="${esc(s.cluster.map)}">cluster/map.html</a>.` : ''}</p>` +
        table(['cluster', 'documents', 'topic', 'keywords'], s.cluster.clusters.slice(0, 30).map((c) => [c.id, c.size, c.topic ?? '', c.keywords.join(', ')])),
    );

  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(r.title)}: cosmo report</title><style>${CSS}</style></head>
<body><h1>${esc(r.title)}</h1>
${sections.join('\n')}
</body></html>
`;
}
