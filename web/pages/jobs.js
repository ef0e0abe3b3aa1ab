// Jobs: the queue (in start order, each with why it waits), the running jobs and the
// finished ones; a form to submit a job; and one job's page with its allocation, its output
// and a cancel button. Operators and admins see the form and the button; the server decides
// in the end, and its refusal is shown as it says it.

import { api, ApiError } from '../api.js';
import { h, put } from '../dom.js';
import { argvText, bytes, duration, number, parseArgv, time } from '../format.js';
import { t, tx } from '../i18n.js';
import { liveEvents } from '../streams.js';
import { announce, errorBox, facts, jobLink, jobName, loading, pageTitle, section, stateBadge, table } from '../ui.js';

const FINISHED = ['completed', 'failed', 'cancelled', 'preempted', 'lost'];
const LIST_LIMIT = 200;
const LOG_KEEP_CHARS = 200000;  // the log view keeps the newest 200 KB of text

function gpusOf(job) {
  const a = job.allocation;
  if (a && a.gpus?.length) return a.gpus.join(', ');
  if (a && a.gpu_fraction > 0) return t('jobs.gpu_share', { f: number(a.gpu_fraction, 2) });
  const want = job.spec?.resources?.gpus;
  return want ? t('jobs.gpus_wanted', { n: want }) : '\u2014';
}

function cpusOf(job) {
  const a = job.allocation;
  if (a && a.cpus?.length) return compactList(a.cpus);
  return String(job.spec?.resources?.cpus ?? '\u2014');
}

function memoryOf(job) {
  const bytesWanted = job.allocation?.memory_bytes || job.spec?.resources?.memory_bytes;
  return bytesWanted ? bytes(bytesWanted) : '\u2014';
}

// [0,1,2,3,8] -> "0-3,8"
function compactList(list) {
  const sorted = [...list].sort((a, b) => a - b);
  const out = [];
  for (let i = 0; i < sorted.length; i++) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j] + 1) j++;
    out.push(j > i ? `${sorted[i]}-${sorted[j]}` : String(sorted[i]));
    i = j;
  }
  return out.join(',');
}

function jobRowAttrs(job) {
  return { 'data-testid': 'job-row', 'data-job-id': job.id, 'data-state': job.state };
}

function jobsTable(caption, testid, rows, extra = [], empty) {
  return table({
    caption: { text: caption, hidden: true },  // the section's heading says it already
    testid,
    rows,
    empty,
    rowAttrs: jobRowAttrs,
    columns: [
      { label: t('jobs.col.id'), cell: (j) => jobLink(j.id) },
      { label: t('jobs.col.name'), cell: (j) => jobName(j) },
      { label: t('jobs.col.user'), cell: (j) => j.user || '\u2014' },
      { label: t('jobs.col.state'), cell: (j) => stateBadge(j.state, { 'data-testid': 'job-state' }) },
      ...extra,
      { label: t('jobs.col.gpus'), cell: gpusOf },
      { label: t('jobs.col.cpus'), cell: cpusOf },
      { label: t('jobs.col.memory'), cell: memoryOf },
    ],
  });
}

// ---- the submit form ----

function field(id, label, input, hint) {
  return h(
    'div',
    { class: 'field' },
    h('label', { for: id }, label),
    input,
    hint ? h('p', { class: 'hint', id: `${id}-hint` }, hint) : null,
  );
}

function submitForm(ctx, onSubmitted) {
  const runAs = ctx.session.run_as || [];
  const command = h('input', { id: 'job-command', type: 'text', required: true, autocomplete: 'off', spellcheck: 'false', 'data-testid': 'submit-command', 'aria-describedby': 'job-command-hint' });
  const name = h('input', { id: 'job-name', type: 'text', maxlength: '128', autocomplete: 'off', 'data-testid': 'submit-name' });
  const user = runAs.length
    ? h('select', { id: 'job-user', 'data-testid': 'submit-user' }, runAs.map((u) => h('option', { value: u }, u)))
    : h('input', { id: 'job-user', type: 'text', autocomplete: 'off', 'data-testid': 'submit-user', 'aria-describedby': 'job-user-hint' });
  const gpus = h('input', { id: 'job-gpus', type: 'number', min: '0', max: '4096', step: '1', value: '0', 'data-testid': 'submit-gpus' });
  const cpus = h('input', { id: 'job-cpus', type: 'number', min: '1', step: '1', placeholder: '1', 'data-testid': 'submit-cpus' });
  const memory = h('input', { id: 'job-memory', type: 'text', placeholder: '16G', autocomplete: 'off', 'data-testid': 'submit-memory' });
  const sandbox = h('input', { id: 'job-sandbox', type: 'text', autocomplete: 'off', pattern: '[a-z0-9_\\-]*', 'data-testid': 'submit-sandbox', 'aria-describedby': 'job-sandbox-hint' });
  const cwd = h('input', { id: 'job-cwd', type: 'text', autocomplete: 'off', placeholder: '/home/\u2026', 'data-testid': 'submit-cwd' });
  const status = h('div', { 'aria-live': 'polite', 'data-testid': 'submit-status' });
  const button = h('button', { type: 'submit', class: 'primary', 'data-testid': 'submit-button' }, t('jobs.form.submit'));

  const form = h(
    'form',
    {
      class: 'job-form',
      'data-testid': 'submit-form',
      onsubmit: async (e) => {
        e.preventDefault();
        put(status);
        let argv;
        try {
          argv = parseArgv(command.value);
          if (!argv.length) throw new Error(t('jobs.form.need_command'));
        } catch (err) {
          put(status, errorBox(err, 'submit-error'));
          command.focus();
          return;
        }
        const body = { command: argv, resources: { gpus: Number(gpus.value || 0) } };
        if (name.value.trim()) body.name = name.value.trim();
        if (user.value.trim()) body.user = user.value.trim();
        if (cpus.value) body.resources.cpus = Number(cpus.value);
        if (memory.value.trim()) body.resources.memory_bytes = memory.value.trim();
        if (sandbox.value.trim()) body.sandbox = sandbox.value.trim();
        if (cwd.value.trim()) body.cwd = cwd.value.trim();
        button.disabled = true;
        try {
          const job = await api('/v1/jobs', { method: 'POST', body, signal: ctx.signal });
          put(
            status,
            h('p', { class: 'ok', 'data-testid': 'submit-result', 'data-job-id': job.id }, tx('jobs.form.submitted', { id: jobLink(job.id), state: stateBadge(job.state) })),
          );
          announce(t('jobs.form.submitted_text', { id: job.id }));
          onSubmitted(job);
        } catch (err) {
          if (err.name !== 'AbortError') put(status, errorBox(err, 'submit-error'));
        } finally {
          button.disabled = false;
        }
      },
    },
    h(
      'div',
      { class: 'form-grid' },
      h('div', { class: 'wide' }, field('job-command', t('jobs.form.command'), command, t('jobs.form.command_hint'))),
      field('job-name', t('jobs.form.name'), name),
      field('job-user', t('jobs.form.user'), user, runAs.length ? null : t('jobs.form.user_hint')),
      field('job-gpus', t('jobs.form.gpus'), gpus),
      field('job-cpus', t('jobs.form.cpus'), cpus),
      field('job-memory', t('jobs.form.memory'), memory),
      field('job-sandbox', t('jobs.form.sandbox'), sandbox, t('jobs.form.sandbox_hint')),
      field('job-cwd', t('jobs.form.cwd'), cwd),
    ),
    button,
    status,
  );
  return form;
}

// ---- the list ----

export async function render(ctx) {
  const { root, signal } = ctx;
  const queueBox = h('div', null, loading());
  const runningBox = h('div', null, loading());
  const finishedBox = h('div', null, loading());
  const updated = h('p', { class: 'muted small', 'aria-live': 'off', 'data-testid': 'jobs-updated' });
  let refresh = async () => {};
  root.append(
    pageTitle(t('nav.jobs'), updated),
    ctx.canOperate
      ? section(t('jobs.submit'), { 'data-testid': 'submit-section' }, submitForm(ctx, () => refresh()))
      : h('p', { class: 'note', 'data-testid': 'submit-not-allowed' }, t('jobs.viewer_note', { role: t(`role.${ctx.session.role}`) })),
    section(t('jobs.queue'), null, queueBox),
    section(t('jobs.running'), null, runningBox),
    section(t('jobs.finished'), null, finishedBox),
  );
  const known = new Map();  // id -> state, to announce changes
  refresh = async () => {
    let list;
    let queue;
    try {
      [list, queue] = await Promise.all([
        api('/v1/jobs', { query: { limit: LIST_LIMIT }, signal }),
        api('/v1/queue', { signal }),
      ]);
    } catch (err) {
      if (err.name !== 'AbortError' && ctx.alive()) put(runningBox, errorBox(err));
      return;
    }
    if (!ctx.alive()) return;
    const jobs = list.jobs || [];
    for (const j of jobs) {
      const before = known.get(j.id);
      if (before && before !== j.state) announce(t('jobs.state_changed', { id: j.id, state: t(`state.${j.state}`) }));
      known.set(j.id, j.state);
    }
    put(
      queueBox,
      jobsTable(
        t('jobs.queue'),
        'jobs-table-pending',
        queue.jobs || [],
        [
          { label: t('jobs.col.position'), cell: (j) => String(j.position ?? '\u2014') },
          { label: t('jobs.col.reason'), cell: (j) => j.reason || '\u2014' },
        ],
        t('jobs.none_queued'),
      ),
    );
    put(
      runningBox,
      jobsTable(
        t('jobs.running'),
        'jobs-table-running',
        jobs.filter((j) => j.state === 'running'),
        [{ label: t('jobs.col.started'), cell: (j) => time(j.start_ms) }],
        t('jobs.none_running'),
      ),
    );
    put(
      finishedBox,
      jobsTable(
        t('jobs.finished'),
        'jobs-table-finished',
        jobs.filter((j) => FINISHED.includes(j.state)).reverse(),
        [
          { label: t('jobs.col.ended'), cell: (j) => time(j.end_ms) },
          { label: t('jobs.col.reason'), cell: (j) => j.reason || '\u2014' },
        ],
        t('jobs.none_finished'),
      ),
    );
    updated.textContent = t('common.updated', { time: new Date().toLocaleTimeString() });
  };
  await refresh();
  // Starts log no event, so a slow poll backs the event stream up.
  const timer = setInterval(refresh, 5000);
  ctx.onCleanup(() => clearInterval(timer));
  ctx.onCleanup(liveEvents((e) => e.kind === 'job' && refresh()));
}

// ---- one job ----

function logView(ctx, id) {
  const pre = h('pre', { class: 'log', 'data-testid': 'job-log', tabindex: '0', 'aria-label': t('jobs.detail.output') });
  const note = h('p', { class: 'muted small', 'data-testid': 'job-log-note' });
  let offset = 0;
  let text = '';
  let finished = false;
  let stopped = false;
  const poll = async () => {
    if (stopped || finished) return;
    try {
      // Read forward until caught up (a chunk shorter than asked for means the end).
      for (let round = 0; round < 16; round++) {
        const chunk = await api(`/v1/jobs/${id}/logs`, { query: { offset, max: 262144 }, signal: ctx.signal });
        if (!ctx.alive()) return;
        text += chunk.data || '';
        offset = chunk.next_offset ?? offset;
        finished = chunk.finished;
        if (!chunk.data || chunk.data.length < 262144) break;
      }
      const trimmed = text.length > LOG_KEEP_CHARS;
      if (trimmed) text = text.slice(text.length - LOG_KEEP_CHARS);
      const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
      pre.textContent = text;
      if (atBottom) pre.scrollTop = pre.scrollHeight;
      note.textContent = [
        text ? '' : t('jobs.detail.no_output'),
        trimmed ? t('jobs.detail.trimmed') : '',
        finished ? t('jobs.detail.output_done') : t('jobs.detail.output_live'),
      ].filter(Boolean).join(' ');
    } catch (err) {
      if (err.name === 'AbortError') return;
      stopped = true;
      // The owner-only rule is expected for other users' jobs: said plainly, not as a fault.
      put(note, err instanceof ApiError && err.status === 403 ? h('span', { 'data-testid': 'job-log-denied' }, err.message) : errorBox(err));
      pre.hidden = true;
    }
  };
  const timer = setInterval(poll, 2000);
  ctx.onCleanup(() => clearInterval(timer));
  poll();
  return h('div', null, note, pre);
}

export async function renderDetail(ctx) {
  const { root, signal, id } = ctx;
  if (!/^\d+$/.test(id || '')) throw new ApiError(400, 'invalid_argument', t('jobs.detail.bad_id'));
  const body = h('div', { 'data-testid': 'job-detail', 'data-job-id': id }, loading());
  const actions = h('div', { class: 'actions' });
  const actionStatus = h('div', { 'aria-live': 'polite', 'data-testid': 'job-action-status' });
  root.append(
    pageTitle(t('jobs.detail.title', { id }), h('p', null, h('a', { href: '#/jobs' }, t('jobs.detail.back')))),
    actions,
    actionStatus,
    body,
    section(t('jobs.detail.output'), null, logView(ctx, id)),
  );
  let last = null;
  const draw = (job) => {
    last = job;
    body.dataset.state = job.state;
    const active = job.state === 'pending' || job.state === 'running';
    put(
      actions,
      ctx.canOperate && active
        ? h('button', { type: 'button', class: 'danger', 'data-testid': 'job-cancel', onclick: cancel }, t('jobs.detail.cancel'))
        : null,
    );
    const spec = job.spec || {};
    const usage = job.usage || {};
    put(
      body,
      section(
        t('jobs.detail.summary'),
        null,
        facts([
          [t('jobs.col.state'), stateBadge(job.state), 'job-state'],
          [t('jobs.col.name'), jobName(job), 'job-name'],
          [t('jobs.col.user'), job.user || '\u2014'],
          [t('jobs.detail.command'), spec.command ? h('code', null, argvText(spec.command)) : h('span', { class: 'muted' }, t('jobs.private')), 'job-command'],
          spec.cwd ? [t('jobs.detail.cwd'), h('code', null, spec.cwd)] : null,
          [t('jobs.detail.queue'), `${job.queue || '\u2014'} \u00b7 ${t('jobs.detail.priority', { p: job.priority ?? 0 })}`],
          spec.sandbox ? [t('jobs.detail.sandbox'), h('a', { href: `#/guard?job=${job.id}` }, spec.sandbox)] : null,
          [t('jobs.detail.reason'), job.reason || '\u2014', 'job-reason'],
          [t('jobs.detail.submitted'), time(job.submit_ms)],
          [t('jobs.col.started'), time(job.start_ms)],
          [t('jobs.col.ended'), time(job.end_ms)],
          job.end_ms ? [t('jobs.detail.exit'), job.signal ? t('jobs.detail.signal', { n: job.signal }) : String(job.exit_code)] : null,
          job.oom_killed ? [t('jobs.detail.oom'), t('common.yes')] : null,
        ]),
      ),
      section(
        t('jobs.detail.allocation'),
        { 'data-testid': 'job-alloc' },
        facts([
          [t('jobs.col.gpus'), gpusOf(job)],
          [t('jobs.col.cpus'), cpusOf(job)],
          [t('jobs.detail.mems'), job.allocation?.mems?.length ? compactList(job.allocation.mems) : '\u2014'],
          [t('jobs.col.memory'), memoryOf(job)],
          [t('jobs.detail.cpu_time'), usage.cpu_time_ms ? duration(usage.cpu_time_ms / 1000) : '\u2014'],
          [t('jobs.detail.mem_peak'), usage.memory_peak_bytes ? bytes(usage.memory_peak_bytes) : '\u2014'],
          [t('jobs.detail.gpu_time'), usage.gpu_time_ms ? duration(usage.gpu_time_ms / 1000) : '\u2014'],
          [t('jobs.detail.gpu_mem_peak'), usage.gpu_memory_peak_bytes ? bytes(usage.gpu_memory_peak_bytes) : '\u2014'],
        ]),
      ),
    );
  };
  const refresh = async () => {
    try {
      const job = await api(`/v1/jobs/${id}`, { signal });
      if (!ctx.alive()) return;
      if (last && last.state !== job.state) announce(t('jobs.state_changed', { id, state: t(`state.${job.state}`) }));
      draw(job);
    } catch (err) {
      if (err.name !== 'AbortError' && ctx.alive()) put(body, errorBox(err));
    }
  };
  async function cancel(e) {
    const button = e.currentTarget;
    button.disabled = true;
    put(actionStatus);
    try {
      const job = await api(`/v1/jobs/${id}/cancel`, { method: 'POST', body: {}, signal });
      if (!ctx.alive()) return;
      put(actionStatus, h('p', { class: 'ok', 'data-testid': 'job-cancel-result' }, t('jobs.detail.cancel_sent')));
      draw(job);
    } catch (err) {
      if (err.name !== 'AbortError') put(actionStatus, errorBox(err, 'job-action-error'));
      button.disabled = false;
    }
  }
  await refresh();
  const timer = setInterval(() => {
    if (last && FINISHED.includes(last.state)) return;
    refresh();
  }, 3000);
  ctx.onCleanup(() => clearInterval(timer));
  ctx.onCleanup(
    liveEvents((e) => {
      if (e.kind === 'job' && String(e.data?.id) === String(id)) refresh();
    }),
  );
}
