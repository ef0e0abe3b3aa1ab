// The metrics explorer: a series name, an optional label filter, a time range and an
// aggregation; one line per matching series, with a legend and a table of the same numbers.
// The choice is kept in the address ("#/metrics?name=...") so a view can be bookmarked.

import { api, ApiError } from '../api.js';
import { lineChart, SERIES_COLOURS } from '../charts.js';
import { h, put } from '../dom.js';
import { metricValue } from '../format.js';
import { t } from '../i18n.js';
import { errorBox, loading, pageTitle, section, select, table } from '../ui.js';

const RANGES = [
  ['15m', 15 * 60e3],
  ['1h', 3600e3],
  ['6h', 6 * 3600e3],
  ['24h', 24 * 3600e3],
];
const AGGS = ['avg', 'min', 'max', 'sum', 'last', 'p95', 'raw'];
const MAX_LINES = 16;
const DEFAULT_SERIES = 'aion_gpu_utilization_ratio';
const POINTS_PER_LINE = 120;

function labelText(labels) {
  const entries = Object.entries(labels || {});
  return entries.length ? entries.map(([k, v]) => `${k}="${v}"`).join(', ') : '{}';
}

// What the user typed in the filter, as the inside of a selector's braces.
function filterText(text) {
  return String(text || '').trim().replace(/^\{/, '').replace(/\}$/, '').trim();
}

export async function render(ctx) {
  const { root, signal, query } = ctx;
  const nameSel = h('select', { id: 'metric-name', 'data-testid': 'metric-select', required: true });
  const filter = h('input', {
    id: 'metric-filter',
    type: 'text',
    autocomplete: 'off',
    spellcheck: 'false',
    placeholder: 'gpu="0"',
    value: query.get('filter') || '',
    'data-testid': 'metric-filter',
    'aria-describedby': 'metric-labels',
  });
  const range = select(
    { id: 'metric-range', 'data-testid': 'metric-range' },
    RANGES.map(([k]) => [k, t(`metrics.range.${k}`)]),
    RANGES.some(([k]) => k === query.get('range')) ? query.get('range') : '1h',
  );
  const agg = select(
    { id: 'metric-agg', 'data-testid': 'metric-agg' },
    AGGS.map((a) => [a, t(`metrics.agg.${a}`)]),
    AGGS.includes(query.get('agg')) ? query.get('agg') : 'avg',
  );
  const labelsHint = h('p', { class: 'hint', id: 'metric-labels', 'data-testid': 'metric-labels' });
  const result = h('div', { class: 'chart-box', 'data-testid': 'metric-result', 'aria-live': 'polite' });
  const form = h(
    'form',
    { class: 'metric-form', 'data-testid': 'metric-form', onsubmit: (e) => { e.preventDefault(); run(); } },
    h('div', { class: 'field' }, h('label', { for: 'metric-name' }, t('metrics.series')), nameSel),
    h('div', { class: 'field grow' }, h('label', { for: 'metric-filter' }, t('metrics.filter')), filter, labelsHint),
    h('div', { class: 'field' }, h('label', { for: 'metric-range' }, t('metrics.range')), range),
    h('div', { class: 'field' }, h('label', { for: 'metric-agg' }, t('metrics.aggregation')), agg),
    h('div', { class: 'field end' }, h('button', { type: 'submit', class: 'primary', 'data-testid': 'metric-run' }, t('metrics.show'))),
  );
  root.append(pageTitle(t('nav.metrics')), form, section(t('metrics.chart'), null, result));

  put(result, loading());
  const list = await api('/v1/metrics', { signal });
  if (!ctx.alive()) return;
  const byName = new Map();
  for (const sr of list.series || []) {
    if (!byName.has(sr.name)) byName.set(sr.name, []);
    byName.get(sr.name).push(sr);
  }
  const names = [...byName.keys()].sort();
  if (!names.length) {
    put(result, h('p', { class: 'empty', 'data-testid': 'metric-empty' }, t('metrics.no_series')));
    return;
  }
  const wanted = query.get('name');
  const initial = byName.has(wanted) ? wanted : byName.has(DEFAULT_SERIES) ? DEFAULT_SERIES : names[0];
  put(nameSel, names.map((n) => h('option', { value: n, selected: n === initial }, n)));

  const showLabels = () => {
    const keys = new Map();
    for (const sr of byName.get(nameSel.value) || []) {
      for (const [k, v] of Object.entries(sr.labels || {})) {
        if (!keys.has(k)) keys.set(k, new Set());
        keys.get(k).add(v);
      }
    }
    labelsHint.textContent = keys.size
      ? t('metrics.labels_hint', {
          labels: [...keys].map(([k, vs]) => `${k} (${[...vs].slice(0, 4).join(', ')}${vs.size > 4 ? ', \u2026' : ''})`).join('; '),
          n: (byName.get(nameSel.value) || []).length,
        })
      : t('metrics.no_labels');
  };
  nameSel.addEventListener('change', () => {
    showLabels();
    run();
  });
  range.addEventListener('change', () => run());
  agg.addEventListener('change', () => run());
  showLabels();

  let seq = 0;
  async function run() {
    const mine = ++seq;
    const name = nameSel.value;
    const f = filterText(filter.value);
    const sel = f ? `${name}{${f}}` : name;
    const rangeMs = RANGES.find(([k]) => k === range.value)[1];
    const q = { q: sel, since: range.value, agg: agg.value };
    if (agg.value !== 'raw') q.step = `${Math.max(1000, Math.round(rangeMs / POINTS_PER_LINE))}ms`;
    const params = new URLSearchParams({ name, range: range.value, agg: agg.value });
    if (f) params.set('filter', f);
    history.replaceState(null, '', `#/metrics?${params}`);
    result.setAttribute('aria-busy', 'true');
    let res;
    try {
      res = await api('/v1/metrics/query', { query: q, signal });
    } catch (err) {
      if (err.name === 'AbortError' || mine !== seq) return;
      result.setAttribute('aria-busy', 'false');
      // No series matching is an answer, not a fault.
      if (err instanceof ApiError && err.status === 404) {
        put(result, h('p', { class: 'empty', 'data-testid': 'metric-empty' }, t('metrics.no_match', { sel })), h('p', { class: 'muted small' }, err.message));
      } else {
        put(result, errorBox(err, 'metric-error'));
      }
      return;
    }
    if (mine !== seq || !ctx.alive()) return;
    result.setAttribute('aria-busy', 'false');
    drawResult(res, name, sel);
  }

  function drawResult(res, name, sel) {
    const series = (res.result || []).filter((x) => x.points?.length);
    if (!series.length) {
      put(result, h('p', { class: 'empty', 'data-testid': 'metric-empty' }, t('metrics.no_data', { sel })));
      return;
    }
    // Labels all series share are said once; each line is named by the ones that differ.
    const keys = [...new Set(series.flatMap((x) => Object.keys(x.labels || {})))].sort();
    const varying = keys.filter((k) => new Set(series.map((x) => x.labels?.[k] ?? '')).size > 1);
    const common = keys.filter((k) => !varying.includes(k));
    const shown = series.slice(0, MAX_LINES).map((x, i) => ({
      label: varying.length ? varying.map((k) => `${k}="${x.labels?.[k] ?? ''}"`).join(', ') : labelText(x.labels),
      points: x.points,
      colour: i,
      labels: x.labels,
    }));
    const fmt = (v) => metricValue(name, v);
    // Drawn at the width it is shown at, so that its text keeps its size.
    const width = Math.max(560, Math.min(1600, Math.round(result.clientWidth || 720)));
    const chart = lineChart(shown, { from: res.from_ms, to: res.to_ms, format: fmt, title: t('metrics.chart_title', { sel }), width });
    const stats = shown.map((x) => {
      const vs = x.points.map((p) => p[1]).filter(Number.isFinite);
      let lo = Infinity;
      let hi = -Infinity;
      let sum = 0;
      for (const v of vs) {
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
        sum += v;
      }
      return { ...x, last: vs[vs.length - 1], min: lo, max: hi, mean: vs.length ? sum / vs.length : NaN, n: vs.length };
    });
    put(
      result,
      varying.length && common.length
        ? h('p', { class: 'muted small', 'data-testid': 'metric-common' }, t('metrics.common_labels', { labels: labelText(Object.fromEntries(common.map((k) => [k, series[0].labels[k]]))) }))
        : null,
      h('div', { class: 'svg-scroll', tabindex: '0', role: 'region', 'aria-label': t('metrics.chart') }, chart),
      h(
        'ul',
        { class: 'legend', 'data-testid': 'metric-legend', 'aria-label': t('metrics.legend') },
        shown.map((x) => h('li', null, h('span', { class: `swatch series-${x.colour % SERIES_COLOURS}`, 'aria-hidden': 'true' }), x.label)),
      ),
      series.length > MAX_LINES ? h('p', { class: 'note' }, t('metrics.too_many', { shown: MAX_LINES, total: series.length })) : null,
      table({
        caption: { text: t('metrics.table_caption', { sel }), hidden: false },
        testid: 'metric-table',
        rows: stats,
        columns: [
          { label: t('metrics.col.series'), cell: (x) => x.label },
          { label: t('metrics.col.last'), cell: (x) => fmt(x.last) },
          { label: t('metrics.col.min'), cell: (x) => fmt(x.min) },
          { label: t('metrics.col.mean'), cell: (x) => fmt(x.mean) },
          { label: t('metrics.col.max'), cell: (x) => fmt(x.max) },
          { label: t('metrics.col.points'), cell: (x) => String(x.n) },
        ],
      }),
    );
  }

  await run();
}
