import { seededRandom } from '../embed/linalg.js';

export interface MapCluster {
  id: number;
  size: number;
  keywords?: string[];
  topic?: string;
  educational_score?: number;
  /** Why the cluster was dropped, when it was. */
  dropped?: string;
}

export interface MapInput {
  title: string;
  /** 2-D positions, n × 2. */
  xy: Float32Array;
  /** Cluster of each point, -1 for noise. */
  labels: Int32Array;
  /** Hover text of each point (a short extract). */
  hover: (i: number) => string;
  clusters: MapCluster[];
  /** Points drawn at most (a fixed sample of them beyond this). */
  maxPoints?: number;
}

/** Text as HTML/SVG character data or attribute value: nothing in it is markup. */
export const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** A colour per cluster, spread around the hue circle; noise is grey. */
const colour = (id: number) => (id < 0 ? '#c8c8c8' : `hsl(${Math.round((id * 137.508) % 360)} 65% 45%)`);

/**
 * The cluster map: one self-contained HTML file (inline SVG and CSS, no script, no network) with
 * the 2-D projection as a scatter coloured by cluster, each cluster's topic at its centroid, hover
 * text on every point, and a legend with sizes and scores. Every text is escaped.
 */
export function clusterMapHtml(m: MapInput): string {
  const n = m.labels.length;
  const W = 900;
  const H = 700;
  const pad = 20;
  let minX = Infinity, maxX = -Infinity, minY = Infinity, maxY = -Infinity;
  for (let i = 0; i < n; i++) {
    minX = Math.min(minX, m.xy[2 * i]!);
    maxX = Math.max(maxX, m.xy[2 * i]!);
    minY = Math.min(minY, m.xy[2 * i + 1]!);
    maxY = Math.max(maxY, m.xy[2 * i + 1]!);
  }
  const sx = (x: number) => pad + ((x - minX) / (maxX - minX || 1)) * (W - 2 * pad);
  const sy = (y: number) => pad + ((y - minY) / (maxY - minY || 1)) * (H - 2 * pad);
  const max = m.maxPoints ?? 6000;
  let shown = [...Array(n).keys()];
  if (n > max) {
    const random = seededRandom(7);
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [shown[i], shown[j]] = [shown[j]!, shown[i]!];
    }
    shown = shown.slice(0, max).sort((a, b) => a - b);
  }
  const byId = new Map(m.clusters.map((c) => [c.id, c]));
  const name = (id: number) => (id < 0 ? 'noise' : (byId.get(id)?.topic ?? (byId.get(id)?.keywords?.slice(0, 3).join(', ') || `cluster ${id}`)));
  const points = shown
    .map((i) => {
      const id = m.labels[i]!;
      return `<circle cx="${sx(m.xy[2 * i]!).toFixed(1)}" cy="${sy(m.xy[2 * i + 1]!).toFixed(1)}" r="2.5" fill="${colour(id)}"><title>${escapeHtml(`${name(id)}: ${m.hover(i)}`)}</title></circle>`;
    })
    .join('\n');
  const centroids = m.clusters
    .map((c) => {
      let x = 0, y = 0, k = 0;
      for (let i = 0; i < n; i++) {
        if (m.labels[i] !== c.id) continue;
        x += m.xy[2 * i]!;
        y += m.xy[2 * i + 1]!;
        k++;
      }
      if (!k) return '';
      return `<text class="label${c.dropped ? ' dropped' : ''}" x="${sx(x / k).toFixed(1)}" y="${sy(y / k).toFixed(1)}">${escapeHtml(name(c.id))}</text>`;
    })
    .join('\n');
  const legend = [...m.clusters]
    .sort((a, b) => b.size - a.size)
    .map(
      (c) =>
        `<tr${c.dropped ? ' class="dropped"' : ''}><td><span class="swatch" style="background:${colour(c.id)}"></span>${c.id}</td>` +
        `<td>${escapeHtml(c.topic ?? '(unlabelled)')}</td><td>${escapeHtml((c.keywords ?? []).join(', '))}</td><td>${c.size}</td><td>${c.educational_score ?? ''}</td><td>${escapeHtml(c.dropped ?? '')}</td></tr>`,
    )
    .join('\n');
  const noise = m.labels.reduce((s, l) => s + (l < 0 ? 1 : 0), 0);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(m.title)}</title>
<style>
body{font:14px system-ui,sans-serif;margin:20px;color:#222}
.wrap{display:flex;gap:24px;align-items:flex-start}
svg{border:1px solid #ddd;background:#fff}
.label{font:600 11px system-ui,sans-serif;fill:#111;paint-order:stroke;stroke:#fff;stroke-width:3px;text-anchor:middle}
.label.dropped{fill:#999;text-decoration:line-through}
table{border-collapse:collapse}td,th{padding:3px 8px;border-bottom:1px solid #eee;text-align:left}
tr.dropped{color:#999}.swatch{display:inline-block;width:10px;height:10px;margin-right:6px;border-radius:2px}
</style></head><body>
<h1>${escapeHtml(m.title)}</h1>
<p>${n} documents in ${m.clusters.length} clusters${noise ? `, ${noise} noise` : ''}${shown.length < n ? `; ${shown.length} of them drawn` : ''}. Hover over a point to read it.</p>
<div class="wrap">
<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="cluster map">
${points}
${centroids}
</svg>
<table><thead><tr><th>cluster</th><th>topic</th><th>keywords</th><th>size</th><th>score</th><th>dropped</th></tr></thead><tbody>
${legend}
</tbody></table>
</div>
</body></html>
`;
}
