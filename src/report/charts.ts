/** Inline SVG charts: no script, no external resource, scale to any width through their viewBox. */

export interface Bar {
  label: string;
  value: number;
  /** A CSS colour. */
  color: string;
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const WIDTH = 400;

/** Horizontal bars, label above each bar so long reason codes fit a phone's width. */
export function barChart(bars: Bar[], title: string): string {
  const row = 36;
  const max = Math.max(1, ...bars.map((b) => b.value));
  const barMax = WIDTH - 70;
  const rows = bars.map((b, i) => {
    const y = i * row;
    const w = b.value > 0 ? Math.max(2, (b.value / max) * barMax) : 0;
    return (
      `<g><text x="0" y="${y + 12}" class="lbl">${escapeHtml(b.label)}</text>` +
      `<rect x="0" y="${y + 17}" width="${w.toFixed(1)}" height="13" rx="2" fill="${b.color}"/>` +
      `<text x="${(w + 6).toFixed(1)}" y="${y + 28}" class="val">${b.value.toLocaleString('en-US')}</text></g>`
    );
  });
  const height = Math.max(row, bars.length * row);
  return `<svg class="chart" viewBox="0 0 ${WIDTH} ${height}" role="img" aria-label="${escapeHtml(title)}"><title>${escapeHtml(title)}</title>${rows.join('')}</svg>`;
}

export interface SeriesPoint {
  at: string;
  value: number;
  /** Per-interval count, drawn as thin bars under the line. */
  step: number;
}

/**
 * A cumulative line over time with per-interval bars; axes labelled at the ends only. Each
 * interval is a slot: its bar fills the slot and the line reaches its total at the slot's end,
 * so even a single burst draws a rising line.
 */
export function progressChart(points: SeriesPoint[], title: string, intervalSeconds: number): string {
  const height = 220;
  const left = 48;
  const right = 10;
  const top = 10;
  const bottom = 34;
  const plotW = WIDTH - left - right;
  const plotH = height - top - bottom;
  const maxValue = Math.max(1, ...points.map((p) => p.value));
  const maxStep = Math.max(1, ...points.map((p) => p.step));
  const slot = plotW / Math.max(1, points.length);
  const y = (v: number) => top + plotH - (v / maxValue) * plotH;
  const bars = points
    .map((p, i) => {
      const h = (p.step / maxStep) * plotH * 0.35;
      return `<rect x="${(left + i * slot + 0.5).toFixed(1)}" y="${(top + plotH - h).toFixed(1)}" width="${Math.max(0.5, slot - 1).toFixed(1)}" height="${h.toFixed(1)}" class="step"/>`;
    })
    .join('');
  const line = [`${left},${y(0).toFixed(1)}`, ...points.map((p, i) => `${(left + (i + 1) * slot).toFixed(1)},${y(p.value).toFixed(1)}`)].join(' ');
  const first = points[0]?.at ?? '';
  const end = points.length ? new Date(Date.parse(points.at(-1)?.at ?? '') + intervalSeconds * 1000).toISOString() : '';
  return (
    `<svg class="chart" viewBox="0 0 ${WIDTH} ${height}" role="img" aria-label="${escapeHtml(title)}"><title>${escapeHtml(title)}</title>` +
    `<line x1="${left}" y1="${top + plotH}" x2="${WIDTH - right}" y2="${top + plotH}" class="axis"/>` +
    `<line x1="${left}" y1="${top}" x2="${left}" y2="${top + plotH}" class="axis"/>` +
    `<text x="${left - 6}" y="${top + 10}" class="val" text-anchor="end">${maxValue.toLocaleString('en-US')}</text>` +
    `<text x="${left - 6}" y="${top + plotH}" class="val" text-anchor="end">0</text>` +
    bars +
    `<polyline points="${line}" class="line"/>` +
    `<text x="${left}" y="${height - 18}" class="val">${escapeHtml(shortTime(first))}</text>` +
    `<text x="${WIDTH - right}" y="${height - 18}" class="val" text-anchor="end">${escapeHtml(shortTime(end))}</text>` +
    `<text x="${left + plotW / 2}" y="${height - 3}" class="val" text-anchor="middle">UTC · line: submitted so far · bars: per interval</text>` +
    '</svg>'
  );
}

/** 2026-05-01 12:00:05 */
export function shortTime(iso: string): string {
  return iso.replace('T', ' ').replace(/(\.\d+)?Z$/, '');
}
