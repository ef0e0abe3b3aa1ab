// SVG charts: a sparkline for the overview's cards and a line chart with axes for the
// metrics explorer. Drawn with createElementNS; colours come from CSS classes (.series-N), so
// the dark theme and the print style restyle them without touching this code.

import { s } from './dom.js';
import { clock } from './format.js';

export const SERIES_COLOURS = 8;

// points: [[t_ms, value], ...] oldest first. The path "d" for a box of w x h, scaled to
// [lo, hi] vertically and to [from, to] in time, with the x of its first and last point.
function pathFor(points, w, h, from, to, lo, hi) {
  const span = to - from || 1;
  const range = hi - lo || 1;
  let d = '';
  let x0 = 0;
  let x1 = 0;
  for (const [t, v] of points) {
    if (!Number.isFinite(v)) continue;
    const x = ((t - from) / span) * w;
    const y = h - ((Math.min(Math.max(v, lo), hi) - lo) / range) * h;
    if (!d) x0 = x;
    x1 = x;
    d += `${d ? 'L' : 'M'}${x.toFixed(1)},${y.toFixed(1)}`;
  }
  return { d, x0, x1 };
}

// A small line chart without axes; svg.update(points, {min, max, windowMs}) redraws it with
// the last windowMs of points, scaled to [min, max] (max null: the points' highest).
export function sparkline({ width = 160, height = 32, label = '' } = {}) {
  const line = s('path', { class: 'spark-line', 'data-testid': 'spark-path', d: '' });
  const area = s('path', { class: 'spark-area', d: '' });
  const svg = s(
    'svg',
    {
      class: 'sparkline',
      viewBox: `0 0 ${width} ${height}`,
      preserveAspectRatio: 'none',
      role: 'img',
      'aria-label': label,
      'data-testid': 'gpu-spark',
    },
    area,
    line,
  );
  svg.update = (points, { min = 0, max = null, windowMs = 15 * 60 * 1000, now = Date.now() } = {}) => {
    const from = now - windowMs;
    const shown = points.filter(([t]) => t >= from);
    let hi = max;
    if (hi === null) hi = shown.reduce((m, [, v]) => (v > m ? v : m), 1e-9);
    // A history shorter than the window (a node that just started) fills the line from its
    // first sample, over at least a minute, rather than showing as a sliver at the edge.
    const first = shown.length ? shown[0][0] : from;
    const start = Math.max(from, Math.min(first, now - 60 * 1000));
    const { d, x0, x1 } = pathFor(shown, width, height - 2, start, now, min, hi);
    line.setAttribute('d', d);
    area.setAttribute('d', d ? `${d}L${x1.toFixed(1)},${height}L${x0.toFixed(1)},${height}Z` : '');
  };
  return svg;
}

// Ticks at round values covering [lo, hi]: 1, 2 or 5 times a power of ten apart.
export function niceTicks(lo, hi, count = 5) {
  if (!(hi > lo)) {
    const pad = Math.abs(lo) > 0 ? Math.abs(lo) * 0.1 : 1;
    lo -= pad;
    hi += pad;
  }
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((x) => x >= raw) || raw;
  const first = Math.floor(lo / step) * step;
  const last = Math.ceil(hi / step) * step;
  const ticks = [];
  for (let v = first; v <= last + step / 2; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

// Time ticks on round minutes/hours across [from, to].
function timeTicks(from, to, count = 6) {
  const steps = [60e3, 120e3, 300e3, 600e3, 900e3, 1800e3, 3600e3, 7200e3, 10800e3, 21600e3];
  const step = steps.find((x) => (to - from) / x <= count) || 43200e3;
  const ticks = [];
  for (let v = Math.ceil(from / step) * step; v <= to; v += step) ticks.push(v);
  return ticks;
}

// A line chart of several series: series = [{label, points: [[t_ms, v]], colour: index}],
// from/to in ms, format(v) for the y axis. Returns an <svg> sized by its viewBox.
export function lineChart(series, { from, to, format = String, title = '', width = 720, height = 300 }) {
  const m = { left: 64, right: 12, top: 12, bottom: 28 };
  const w = width - m.left - m.right;
  const ht = height - m.top - m.bottom;
  // Loops, not Math.min(...values): a day of raw samples would overflow the call stack.
  let lo = Infinity;
  let hi = -Infinity;
  for (const x of series) {
    for (const [, v] of x.points) {
      if (!Number.isFinite(v)) continue;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
  }
  if (lo === Infinity) lo = hi = 0;
  if (lo > 0 && lo < hi * 0.5) lo = 0;  // start at zero unless the data sits far above it
  const yTicks = niceTicks(lo, hi);
  lo = yTicks[0];
  hi = yTicks[yTicks.length - 1];

  const grid = s('g', { class: 'chart-grid' });
  const axes = s('g', { class: 'chart-axis' });
  for (const v of yTicks) {
    const y = m.top + ht - ((v - lo) / (hi - lo || 1)) * ht;
    grid.append(s('line', { x1: m.left, x2: m.left + w, y1: y, y2: y }));
    axes.append(s('text', { x: m.left - 6, y: y + 4, 'text-anchor': 'end' }, format(v)));
  }
  for (const v of timeTicks(from, to)) {
    const x = m.left + ((v - from) / (to - from || 1)) * w;
    grid.append(s('line', { x1: x, x2: x, y1: m.top, y2: m.top + ht }));
    axes.append(s('text', { x, y: height - 8, 'text-anchor': 'middle' }, clock(v)));
  }
  axes.append(s('line', { class: 'axis-line', x1: m.left, x2: m.left, y1: m.top, y2: m.top + ht }));
  axes.append(
    s('line', { class: 'axis-line', x1: m.left, x2: m.left + w, y1: m.top + ht, y2: m.top + ht }),
  );

  const lines = s('g', { transform: `translate(${m.left},${m.top})` });
  for (const x of series) {
    const { d } = pathFor(x.points, w, ht, from, to, lo, hi);
    lines.append(
      s(
        'path',
        {
          class: `chart-line series-${x.colour % SERIES_COLOURS}`,
          d,
          'data-testid': 'metric-chart-line',
        },
        s('title', null, x.label),
      ),
    );
    // A lone sample draws no line: mark it with a dot.
    if (x.points.length === 1) {
      const [t0, v0] = x.points[0];
      lines.append(
        s('circle', {
          class: `chart-dot series-${x.colour % SERIES_COLOURS}`,
          r: 3,
          cx: ((t0 - from) / (to - from || 1)) * w,
          cy: ht - ((v0 - lo) / (hi - lo || 1)) * ht,
        }),
      );
    }
  }

  return s(
    'svg',
    {
      class: 'chart',
      viewBox: `0 0 ${width} ${height}`,
      role: 'img',
      'aria-label': title,
      'data-testid': 'metric-chart',
    },
    s('title', null, title),
    grid,
    axes,
    lines,
  );
}
