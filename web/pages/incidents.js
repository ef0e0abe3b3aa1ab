// Incidents: the list (open ones first shown) with each one's top root-cause hypothesis, and
// one incident's page with its timeline (evidence, remediation steps and its resolution in
// time order), its ranked hypotheses, the remediation playbook (shown to anyone as a dry run,
// run by an operator who approves it) and, for operators, resolving it with a note.

import { api } from '../api.js';
import { h, put } from '../dom.js';
import { percent, time } from '../format.js';
import { t } from '../i18n.js';
import { liveEvents } from '../streams.js';
import { announce, errorBox, facts, jobLink, loading, pageTitle, section, severityBadge, stateBadge, table } from '../ui.js';

function deviceList(devices) {
  return (devices || []).join(', ') || '\u2014';
}

// A source that is a web page becomes a link; anything else stays text.
function sourceText(src) {
  const v = String(src || '');
  return /^https?:\/\//i.test(v) ? h('a', { href: v, rel: 'noopener noreferrer', target: '_blank' }, v) : v || '\u2014';
}

const FILTERS = ['open', 'resolved', 'all'];

export async function render(ctx) {
  const { root, signal } = ctx;
  const box = h('div', null, loading());
  let state = FILTERS.includes(ctx.query?.get?.('state')) ? ctx.query.get('state') : 'open';
  const filter = h(
    'select',
    { id: 'incident-filter', 'data-testid': 'incident-filter' },
    FILTERS.map((f) => h('option', { value: f, selected: f === state }, t(`incidents.filter.${f}`))),
  );
  root.append(
    pageTitle(t('nav.incidents')),
    h('div', { class: 'actions' }, h('label', { for: 'incident-filter' }, t('incidents.filter')), filter),
    box,
  );
  const refresh = async () => {
    let list;
    try {
      list = (await api('/v1/incidents', { query: { limit: 200, state }, signal })).incidents || [];
    } catch (err) {
      if (err.name !== 'AbortError' && ctx.alive()) put(box, errorBox(err));
      return;
    }
    if (!ctx.alive()) return;
    put(
      box,
      table({
        caption: t('incidents.caption'),
        testid: 'incidents-table',
        rows: list,
        empty: t(state === 'open' ? 'incidents.none_open' : state === 'resolved' ? 'incidents.none_resolved' : 'incidents.none'),
        rowAttrs: (i) => ({ 'data-testid': 'incident-row', 'data-incident-id': i.id, 'data-state': i.state }),
        columns: [
          { label: t('incidents.col.id'), cell: (i) => h('a', { href: `#/incidents/${i.id}` }, `#${i.id}`) },
          { label: t('incidents.col.state'), cell: (i) => stateBadge(i.state || 'open') },
          { label: t('incidents.col.severity'), cell: (i) => severityBadge(i.severity) },
          { label: t('incidents.col.title'), cell: (i) => h('a', { href: `#/incidents/${i.id}`, 'data-testid': 'incident-link' }, i.title) },
          { label: t('incidents.col.devices'), cell: (i) => deviceList(i.devices) },
          { label: t('incidents.col.cause'), cell: (i) => (i.top ? `${i.top.title} (${percent(i.top.confidence)})` : '\u2014') },
          { label: t('incidents.col.opened'), cell: (i) => time(i.opened_ms) },
          { label: t('incidents.col.updated'), cell: (i) => time(i.updated_ms) },
        ],
      }),
    );
  };
  filter.addEventListener('change', () => {
    state = filter.value;
    refresh();
  });
  await refresh();
  ctx.onCleanup(liveEvents((e) => e.kind === 'incident' && refresh()));
}

// ---- one incident ----

function timeline(inc) {
  const items = [];
  items.push({ t: inc.opened_ms, kind: 'opened', text: t('incidents.opened_event') });
  for (const e of inc.evidence || []) {
    items.push({
      t: e.time_ms,
      kind: 'evidence',
      text: e.withheld ? h('span', { class: 'muted' }, t('incidents.withheld')) : e.text,
      meta: [e.signature, e.source, deviceList(e.devices)].filter((x) => x && x !== '\u2014').join(' \u00b7 '),
    });
  }
  for (const a of inc.audit || []) {
    if (a.action === 'resolve') {
      items.push({ t: a.time_ms, kind: 'resolved', text: a.detail || t('state.resolved'), meta: a.caller });
      continue;
    }
    items.push({
      t: a.time_ms,
      kind: 'audit',
      text: `${a.action}${a.outcome ? ` \u2014 ${a.outcome}` : ''}${a.detail ? `: ${a.detail}` : ''}`,
      meta: [a.playbook, a.approved_by && t('incidents.approved_by', { who: a.approved_by }), a.caller].filter(Boolean).join(' \u00b7 '),
    });
  }
  if (inc.updated_ms && inc.updated_ms !== inc.opened_ms) {
    items.push({ t: inc.updated_ms, kind: 'updated', text: t('incidents.updated_event') });
  }
  items.sort((a, b) => a.t - b.t);
  return h(
    'ol',
    { class: 'timeline', 'data-testid': 'incident-timeline' },
    items.map((i) =>
      h(
        'li',
        { class: `tl-${i.kind}`, 'data-testid': `timeline-${i.kind}` },
        h('time', { datetime: new Date(i.t).toISOString() }, time(i.t)),
        ' ',
        h('span', { class: 'badge tl-kind' }, t(`incidents.kind.${i.kind}`)),
        ' ',
        h('span', { class: 'tl-text' }, i.text),
        i.meta ? h('div', { class: 'muted small' }, i.meta) : null,
      ),
    ),
  );
}

function hypotheses(inc) {
  const list = inc.hypotheses || [];
  if (!list.length) return h('p', { class: 'empty' }, t('incidents.no_hypotheses'));
  return h(
    'ol',
    { class: 'hypotheses', 'data-testid': 'incident-hypotheses' },
    list.map((hy) =>
      h(
        'li',
        { 'data-testid': 'hypothesis' },
        h('h3', null, hy.title, ' ', severityBadge(hy.severity)),
        h(
          'p',
          null,
          h('meter', { min: '0', max: '1', value: String(hy.confidence ?? 0), 'aria-label': t('incidents.confidence') }),
          ' ',
          t('incidents.confidence_value', { p: percent(hy.confidence), n: hy.evidence_count ?? 0 }),
        ),
        facts([
          [t('incidents.meaning'), hy.meaning || '\u2014'],
          [t('incidents.action'), hy.action || '\u2014'],
          hy.collect?.length ? [t('incidents.collect'), h('ul', null, hy.collect.map((c) => h('li', null, c)))] : null,
          [t('incidents.component'), hy.component || '\u2014'],
          hy.playbook ? [t('incidents.playbook'), hy.playbook] : null,
          [t('incidents.source'), sourceText(hy.source)],
        ]),
      ),
    ),
  );
}

function remediation(ctx, id, onDone) {
  const status = h('div', { 'aria-live': 'polite', 'data-testid': 'remediate-status' });
  const out = h('div', { 'data-testid': 'remediate-result' });
  const approve = h('input', { id: 'remediate-approve-check', type: 'checkbox', 'data-testid': 'remediate-approve-check', disabled: true });
  const runButton = h('button', { type: 'button', class: 'danger', 'data-testid': 'remediate-approve', disabled: true }, t('incidents.run'));
  const drawSteps = (res) =>
    put(
      out,
      h('p', null, h('strong', null, res.title || res.playbook || ''), ' ', h('span', { class: 'muted' }, res.executed ? t('incidents.executed') : t('incidents.dry_run_note'))),
      table({
        caption: t('incidents.steps'),
        testid: 'remediate-steps',
        rows: res.steps || [],
        empty: t('incidents.no_steps'),
        columns: [
          { label: '#', cell: (st) => String(st.number) },
          { label: t('incidents.col.step'), cell: (st) => st.description || st.action },
          { label: t('incidents.col.command'), cell: (st) => (st.command?.length ? h('code', null, st.command.join(' ')) : '\u2014') },
          { label: t('incidents.col.problem'), cell: (st) => st.problem || '\u2014' },
          { label: t('incidents.col.outcome'), cell: (st) => [st.outcome || '\u2014', st.detail ? ` (${st.detail})` : ''].join('') },
        ],
      }),
    );
  const call = async (dryRun) => {
    put(status);
    try {
      const res = await api(`/v1/incidents/${id}/remediate`, {
        method: 'POST',
        body: dryRun ? { dry_run: true } : { dry_run: false, approve: true },
        signal: ctx.signal,
      });
      if (!ctx.alive()) return;
      drawSteps(res);
      if (dryRun) {
        approve.disabled = !ctx.canOperate;
      } else {
        announce(t('incidents.executed'));
        approve.checked = false;
        runButton.disabled = true;
        onDone();
      }
    } catch (err) {
      if (err.name !== 'AbortError') put(status, errorBox(err, 'remediate-error'));
    }
  };
  approve.addEventListener('change', () => {
    runButton.disabled = !approve.checked;
  });
  runButton.addEventListener('click', () => call(false));
  return section(
    t('incidents.remediation'),
    { 'data-testid': 'remediation' },
    h('p', null, t('incidents.remediation_intro')),
    h(
      'div',
      { class: 'actions' },
      h('button', { type: 'button', 'data-testid': 'remediate-dry-run', onclick: () => call(true) }, t('incidents.dry_run')),
      ctx.canOperate
        ? [h('label', { class: 'check' }, approve, ' ', t('incidents.approve')), runButton]
        : h('span', { class: 'note', 'data-testid': 'remediate-not-allowed' }, t('incidents.viewer_note')),
    ),
    status,
    out,
  );
}

function resolveForm(ctx, id, onDone) {
  const note = h('textarea', { id: 'resolve-note', rows: '2', maxlength: '4096', 'data-testid': 'resolve-note' });
  const status = h('div', { 'aria-live': 'polite', 'data-testid': 'resolve-status' });
  const button = h('button', { type: 'submit', class: 'primary', 'data-testid': 'resolve-button' }, t('incidents.resolve_button'));
  const form = h(
    'form',
    {
      'data-testid': 'resolve-form',
      onsubmit: async (e) => {
        e.preventDefault();
        put(status);
        button.disabled = true;
        try {
          const body = note.value.trim() ? { note: note.value.trim() } : {};
          await api(`/v1/incidents/${id}/resolve`, { method: 'POST', body, signal: ctx.signal });
          if (!ctx.alive()) return;
          announce(t('incidents.resolved_done', { id }));
          onDone();
        } catch (err) {
          if (err.name !== 'AbortError') put(status, errorBox(err, 'resolve-error'));
          button.disabled = false;
        }
      },
    },
    h('div', { class: 'field' }, h('label', { for: 'resolve-note' }, t('incidents.resolve_note')), note),
    button,
    status,
  );
  return section(t('incidents.resolve'), { 'data-testid': 'resolve' }, h('p', null, t('incidents.resolve_intro')), form);
}

export async function renderDetail(ctx) {
  const { root, signal, id } = ctx;
  const head = h('div', { 'data-testid': 'incident-detail', 'data-incident-id': id }, loading());
  const timelineBox = h('div');
  const hypoBox = h('div');
  const resolveBox = h('div');
  const title = pageTitle(t('incidents.detail_title', { id }), h('p', null, h('a', { href: '#/incidents' }, t('incidents.back'))));
  let first = true;
  const refresh = async () => {
    let inc;
    try {
      inc = await api(`/v1/incidents/${id}`, { signal });
    } catch (err) {
      if (err.name !== 'AbortError' && ctx.alive()) put(head, errorBox(err));
      return;
    }
    if (!ctx.alive()) return;
    put(
      head,
      h('p', { class: 'incident-title', 'data-testid': 'incident-title' }, severityBadge(inc.severity), ' ', inc.title),
      facts([
        [
          t('incidents.col.state'),
          [
            stateBadge(inc.state || 'open', { 'data-testid': 'incident-state' }),
            inc.state === 'resolved' ? [' ', t('incidents.resolved_text', { time: time(inc.resolved_ms), who: inc.resolved_by || '\u2014' })] : '',
          ],
        ],
        inc.resolution ? [t('incidents.resolution'), inc.resolution, 'incident-resolution'] : null,
        [t('incidents.col.opened'), time(inc.opened_ms)],
        [t('incidents.col.updated'), time(inc.updated_ms)],
        [t('incidents.col.devices'), deviceList(inc.devices)],
        [t('incidents.jobs'), inc.jobs?.length ? inc.jobs.map((j, i) => [i ? ', ' : '', jobLink(j)]) : '\u2014'],
        [t('incidents.evidence_total'), String(inc.evidence_total ?? (inc.evidence || []).length)],
      ]),
    );
    put(timelineBox, timeline(inc));
    put(hypoBox, hypotheses(inc));
    if (inc.state === 'resolved') put(resolveBox);
    else if (!resolveBox.firstChild) {
      put(
        resolveBox,
        ctx.canOperate
          ? resolveForm(ctx, id, refresh)
          : h('p', { class: 'note', 'data-testid': 'resolve-not-allowed' }, t('incidents.resolve_viewer_note')),
      );
    }
    if (first) {
      first = false;
      root.append(remediation(ctx, id, refresh), resolveBox);
    }
  };
  root.append(title, head, section(t('incidents.timeline'), null, timelineBox), section(t('incidents.hypotheses'), null, hypoBox));
  await refresh();
  ctx.onCleanup(liveEvents((e) => e.kind === 'incident' && refresh()));
}
