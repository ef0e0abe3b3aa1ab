// Guard: the sandboxed jobs, and for one of them what its sandbox allowed (the plan), what it
// refused, and where the job connected to (its egress record). A job's record is its owner's
// and the admins' to read; others get the server's refusal, shown as such.

import { api, ApiError } from '../api.js';
import { h, put } from '../dom.js';
import { bytes, number, time } from '../format.js';
import { t } from '../i18n.js';
import { liveEvents } from '../streams.js';
import { errorBox, facts, jobLink, jobName, loading, pageTitle, section, stateBadge, table } from '../ui.js';

function pathList(items) {
  return items?.length ? h('ul', { class: 'paths' }, items.map((p) => h('li', null, h('code', null, String(p))))) : '\u2014';
}

function planView(plan) {
  if (!plan) return h('p', { class: 'muted' }, t('guard.no_plan'));
  return facts(
    [
      [t('guard.profile'), plan.profile || '\u2014'],
      [t('guard.network'), plan.network || '\u2014'],
      plan.allow?.length ? [t('guard.allow'), pathList(plan.allow)] : null,
      [t('guard.seccomp'), plan.seccomp ? t('common.yes') : t('common.no')],
      [t('guard.landlock'), plan.landlock_abi ? String(plan.landlock_abi) : '\u2014'],
      [t('guard.no_new_privs'), plan.no_new_privileges ? t('common.yes') : t('common.no')],
      [t('guard.read_write'), pathList(plan.read_write)],
      [t('guard.read_only'), pathList(plan.read_only)],
      [t('guard.read_exec'), pathList(plan.read_exec)],
      plan.unenforced?.length ? [t('guard.unenforced'), pathList(plan.unenforced)] : null,
      plan.notes?.length ? [t('guard.notes'), h('ul', null, plan.notes.map((n) => h('li', null, String(n))))] : null,
    ],
    { 'data-testid': 'guard-plan' },
  );
}

// A refusal's details besides its message: its other fields as "key: value".
function refusalDetail(r) {
  const skip = new Set(['message', 'event_id', 'time_ms', 'kind', 'job', 'uid', 'user']);
  return Object.entries(r)
    .filter(([k, v]) => !skip.has(k) && v !== '' && v !== null && typeof v !== 'object')
    .map(([k, v]) => `${k}: ${v}`)
    .join(' \u00b7 ');
}

function recordView(rec) {
  const egress = rec.egress;
  return [
    h('p', null, recordHeading(rec)),
    section(t('guard.plan'), null, planView(rec.plan)),
    section(
      t('guard.refusals'),
      null,
      table({
        caption: { text: t('guard.refusals'), hidden: true },
        testid: 'guard-refusals',
        rows: rec.refusals || [],
        empty: t('guard.no_refusals'),
        columns: [
          { label: t('guard.col.time'), cell: (r) => time(r.time_ms) },
          { label: t('guard.col.kind'), cell: (r) => String(r.kind ?? '\u2014') },
          { label: t('guard.col.message'), cell: (r) => String(r.message ?? '') },
          { label: t('guard.col.detail'), cell: (r) => refusalDetail(r) || '\u2014' },
        ],
      }),
    ),
    section(
      t('guard.egress'),
      { 'data-testid': 'guard-egress' },
      egress
        ? [
            h('p', { class: 'muted small' }, t('guard.egress_summary', { n: number(egress.events_total ?? 0), lost: number(egress.events_lost ?? 0), time: time(egress.updated_ms) })),
            table({
              caption: t('guard.flows'),
              testid: 'guard-flows',
              rows: egress.flows || [],
              empty: t('guard.no_flows'),
              columns: [
                { label: t('guard.col.endpoint'), cell: (f) => f.name || f.server_name || f.address },
                { label: t('guard.col.address'), cell: (f) => `${f.address}:${f.port}` },
                { label: t('guard.col.protocol'), cell: (f) => String(f.protocol ?? '') },
                { label: t('guard.col.out'), cell: (f) => bytes(f.bytes_out) },
                { label: t('guard.col.in'), cell: (f) => bytes(f.bytes_in) },
                { label: t('guard.col.first'), cell: (f) => time(f.first_ms) },
                { label: t('guard.col.last'), cell: (f) => time(f.last_ms) },
              ],
            }),
          ]
        : h('p', { class: 'muted' }, t('guard.no_egress')),
    ),
  ];
}

function recordHeading(rec) {
  return [t('guard.record_for', { id: rec.id, sandbox: rec.sandbox || '\u2014' }), ' ', stateBadge(rec.state)];
}

export async function render(ctx) {
  const { root, signal, query } = ctx;
  const listBox = h('div', null, loading());
  const recordBox = h('div', { 'data-testid': 'guard-record' });
  root.append(pageTitle(t('nav.guard')), h('p', null, t('guard.intro')), section(t('guard.jobs'), null, listBox), recordBox);
  let chosen = query.get('job');

  const showRecord = async (id) => {
    chosen = String(id);
    history.replaceState(null, '', `#/guard?job=${encodeURIComponent(chosen)}`);
    for (const tr of listBox.querySelectorAll('tr[data-job-id]')) {
      tr.classList.toggle('selected', tr.dataset.jobId === chosen);
    }
    put(recordBox, loading());
    try {
      const rec = await api(`/v1/jobs/${encodeURIComponent(chosen)}/guard`, { signal });
      if (!ctx.alive()) return;
      recordBox.dataset.jobId = chosen;
      put(recordBox, section(t('guard.record_title', { id: chosen }), null, recordView(rec)));
    } catch (err) {
      if (err.name === 'AbortError') return;
      put(
        recordBox,
        section(
          t('guard.record_title', { id: chosen }),
          null,
          err instanceof ApiError && err.status === 403 ? h('p', { class: 'note', 'data-testid': 'guard-denied' }, err.message) : errorBox(err, 'guard-error'),
        ),
      );
    }
  };

  const refresh = async () => {
    let jobs;
    try {
      jobs = ((await api('/v1/jobs', { query: { limit: 500 }, signal })).jobs || []).filter((j) => j.spec?.sandbox);
    } catch (err) {
      if (err.name !== 'AbortError' && ctx.alive()) put(listBox, errorBox(err));
      return;
    }
    if (!ctx.alive()) return;
    jobs.reverse();
    put(
      listBox,
      table({
        caption: { text: t('guard.jobs'), hidden: true },
        testid: 'guard-jobs',
        rows: jobs,
        empty: t('guard.no_jobs'),
        rowAttrs: (j) => ({ 'data-testid': 'guard-job-row', 'data-job-id': j.id, class: String(j.id) === chosen ? 'selected' : null }),
        columns: [
          { label: t('jobs.col.id'), cell: (j) => jobLink(j.id) },
          { label: t('jobs.col.name'), cell: (j) => jobName(j) },
          { label: t('jobs.col.user'), cell: (j) => j.user || '\u2014' },
          { label: t('jobs.col.state'), cell: (j) => stateBadge(j.state) },
          { label: t('guard.profile'), cell: (j) => j.spec.sandbox },
          { label: t('jobs.col.started'), cell: (j) => time(j.start_ms) },
          {
            label: t('guard.col.record'),
            cell: (j) => h('button', { type: 'button', 'data-testid': 'guard-show', onclick: () => showRecord(j.id) }, t('guard.show')),
          },
        ],
      }),
    );
    if (!chosen && jobs.length) chosen = String(jobs[0].id);
  };
  await refresh();
  if (chosen) await showRecord(chosen);
  ctx.onCleanup(
    liveEvents((e) => {
      if (e.kind === 'guard' && String(e.data?.job) === chosen) showRecord(chosen);
      if (e.kind === 'job') refresh();
    }),
  );
}
