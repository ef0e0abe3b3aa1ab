// Pipelines: the runs aiond keeps (newest first) and, for a chosen run, each stage's state,
// attempt, job and message, and the artifacts it recorded. A run is its owner's and the
// admins' to see; the server lists only those. Stages change as jobs start and end, so the
// page refreshes while it is shown, and at once on a job event.

import { api } from '../api.js';
import { h, put } from '../dom.js';
import { bytes, time } from '../format.js';
import { t } from '../i18n.js';
import { liveEvents } from '../streams.js';
import { errorBox, jobLink, loading, pageTitle, section, stateBadge, table } from '../ui.js';

const REFRESH_MS = 3000;

function stageCounts(stages) {
  const done = stages.filter((s) => s.state === 'succeeded' || s.state === 'skipped').length;
  return t('pipelines.stage_counts', { done, total: stages.length });
}

function runView(run) {
  return [
    section(
      t('pipelines.stages'),
      null,
      table({
        caption: { text: t('pipelines.stages'), hidden: true },
        testid: 'pipeline-stages',
        rows: run.stages || [],
        rowAttrs: (s) => ({ 'data-testid': 'pipeline-stage', 'data-stage': s.stage, 'data-state': s.state }),
        columns: [
          { label: t('pipelines.col.stage'), cell: (s) => String(s.stage) },
          { label: t('pipelines.col.state'), cell: (s) => stateBadge(s.state) },
          { label: t('pipelines.col.attempt'), cell: (s) => String(s.attempt ?? 0) },
          { label: t('pipelines.col.job'), cell: (s) => (s.job_id > 0 ? jobLink(s.job_id) : '\u2014') },
          { label: t('pipelines.col.message'), cell: (s) => String(s.message || '\u2014') },
        ],
      }),
    ),
    section(
      t('pipelines.artifacts'),
      null,
      table({
        caption: { text: t('pipelines.artifacts'), hidden: true },
        testid: 'pipeline-artifacts',
        rows: run.artifacts || [],
        empty: t('pipelines.no_artifacts'),
        columns: [
          { label: t('pipelines.col.path'), cell: (a) => h('code', null, String(a.path)) },
          { label: t('pipelines.col.stage'), cell: (a) => String(a.stage) },
          { label: t('pipelines.col.size'), cell: (a) => bytes(a.size) },
          { label: t('pipelines.col.checksum'), cell: (a) => h('code', null, String(a.xxh3 || '').slice(0, 16)) },
        ],
      }),
    ),
  ];
}

export async function render(ctx) {
  const { root, signal, query } = ctx;
  const listBox = h('div', null, loading());
  const runBox = h('div', { 'data-testid': 'pipeline-run' });
  root.append(pageTitle(t('nav.pipelines')), h('p', null, t('pipelines.intro')), section(t('pipelines.runs'), null, listBox), runBox);
  let chosen = query.get('run');

  const showRun = async (id) => {
    chosen = String(id);
    history.replaceState(null, '', `#/pipelines?run=${encodeURIComponent(chosen)}`);
    try {
      const run = await api(`/v1/pipelines/${encodeURIComponent(chosen)}`, { signal });
      if (!ctx.alive()) return;
      runBox.dataset.runId = chosen;
      put(runBox, section(t('pipelines.run_title', { id: chosen }), null, runView(run)));
    } catch (err) {
      if (err.name !== 'AbortError' && ctx.alive()) put(runBox, errorBox(err, 'pipeline-error'));
    }
  };

  const refresh = async () => {
    let runs;
    try {
      runs = (await api('/v1/pipelines', { signal })).runs || [];
    } catch (err) {
      if (err.name !== 'AbortError' && ctx.alive()) put(listBox, errorBox(err));
      return;
    }
    if (!ctx.alive()) return;
    put(
      listBox,
      table({
        caption: { text: t('pipelines.runs'), hidden: true },
        testid: 'pipeline-runs',
        rows: runs,
        empty: t('pipelines.no_runs'),
        rowAttrs: (r) => ({ 'data-testid': 'pipeline-row', 'data-run-id': r.id }),
        columns: [
          { label: t('pipelines.col.run'), cell: (r) => String(r.id) },
          { label: t('pipelines.col.pipeline'), cell: (r) => String(r.name) },
          { label: t('pipelines.col.state'), cell: (r) => stateBadge(r.state) },
          { label: t('pipelines.col.stages'), cell: (r) => stageCounts(r.stages || []) },
          { label: t('pipelines.col.user'), cell: (r) => String(r.user || '\u2014') },
          { label: t('pipelines.col.started'), cell: (r) => time(r.created_ms) },
          {
            label: t('pipelines.col.details'),
            cell: (r) => h('button', { type: 'button', 'data-testid': 'pipeline-show', onclick: () => showRun(r.id) }, t('pipelines.show')),
          },
        ],
      }),
    );
    if (!chosen && runs.length) chosen = String(runs[0].id);
    if (chosen) await showRun(chosen);
  };
  await refresh();
  const timer = setInterval(refresh, REFRESH_MS);
  ctx.onCleanup(() => clearInterval(timer));
  ctx.onCleanup(liveEvents((e) => e.kind === 'job' && refresh()));
}
