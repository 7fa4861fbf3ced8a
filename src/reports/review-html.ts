/**
 * The review as one self-contained HTML page (French, inline CSS, bar charts as inline SVG with
 * their figures also in a table for screen readers): shown in the console and sent by e-mail.
 */
import type { ReviewChart, ReviewLayout, ReviewTable } from './review-layout.js';

const escape = (s: string) =>
  s.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string,
  );

const COLOURS = ['#1d4ed8', '#f59e0b'];

function table(t: ReviewTable): string {
  const flagged = new Set(t.flagged ?? []);
  return `<table><caption>${escape(t.caption)}</caption><thead><tr>${t.head.map((h) => `<th scope="col">${escape(h)}</th>`).join('')}</tr></thead><tbody>${t.rows
    .map(
      (r, i) =>
        `<tr${flagged.has(i) ? ' class="missed"' : ''}>${r.map((c, j) => (j === 0 ? `<th scope="row">${escape(c)}</th>` : `<td>${escape(c)}</td>`)).join('')}</tr>`,
    )
    .join('')}</tbody></table>`;
}

function chart(c: ReviewChart): string {
  const max = Math.max(1, ...c.series.flatMap((s) => s.values));
  const W = 640;
  const H = 160;
  const group = c.labels.length === 0 ? W : (W - 40) / c.labels.length;
  const bar = Math.max(1, (group * 0.8) / c.series.length);
  const bars = c.labels
    .map((_, i) =>
      c.series
        .map((s, j) => {
          const v = s.values[i] ?? 0;
          const h = (v / max) * (H - 30);
          return `<rect x="${(40 + i * group + j * bar).toFixed(1)}" y="${(H - 20 - h).toFixed(1)}" width="${bar.toFixed(1)}" height="${h.toFixed(1)}" fill="${COLOURS[j % COLOURS.length]}"><title>${escape(`${c.labels[i]} — ${s.name} : ${v}`)}</title></rect>`;
        })
        .join(''),
    )
    .join('');
  const labels = c.labels
    .map(
      (l, i) =>
        `<text x="${(40 + i * group + group / 2).toFixed(1)}" y="${H - 5}" font-size="9" text-anchor="middle">${escape(l)}</text>`,
    )
    .join('');
  const legend = c.series
    .map(
      (s, j) =>
        `<span class="key"><i style="background:${COLOURS[j % COLOURS.length]}"></i>${escape(s.name)}</span>`,
    )
    .join(' ');
  return `<figure><figcaption>${escape(c.title)} ${legend}</figcaption><svg role="img" aria-label="${escape(c.title)}" viewBox="0 0 ${W} ${H}" width="100%"><text x="0" y="12" font-size="9">${max}</text><line x1="38" y1="${H - 20}" x2="${W}" y2="${H - 20}" stroke="#999"/>${bars}${labels}</svg>${table(
    {
      caption: c.title,
      head: ['Jour', ...c.series.map((s) => s.name)],
      rows: c.labels.map((l, i) => [l, ...c.series.map((s) => String(s.values[i] ?? 0))]),
    },
  ).replace('<table>', '<table class="chart-data">')}</figure>`;
}

export function reviewHtml(layout: ReviewLayout): string {
  const sections = layout.sections
    .map(
      (s) =>
        `<section><h2>${escape(s.title)}</h2>${s.text.map((p) => `<p>${escape(p)}</p>`).join('')}${s.charts.map(chart).join('')}${s.tables.map(table).join('')}</section>`,
    )
    .join('');
  return `<!doctype html><html lang="fr"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${escape(layout.title)}</title><style>
body{font-family:system-ui,sans-serif;max-width:60rem;margin:1rem auto;padding:0 1rem;color:#111}
h1{font-size:1.5rem}h2{font-size:1.2rem;border-bottom:1px solid #ccc;margin-top:2rem}
table{border-collapse:collapse;margin:.5rem 0;font-size:.9rem}caption{text-align:left;font-weight:600}
th,td{border:1px solid #ddd;padding:.2rem .5rem;text-align:left}tr.missed{background:#fee2e2;color:#7f1d1d}
table.chart-data{position:absolute;left:-10000px}figure{margin:.5rem 0}.key i{display:inline-block;width:.8em;height:.8em;margin:0 .2em 0 .8em}
</style></head><body><main><h1>${escape(layout.title)}</h1><p>${escape(layout.subtitle)}</p>${sections}</main></body></html>`;
}
