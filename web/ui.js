// Building blocks the pages share: sections, tables, badges, fact lists and error boxes.
// All of them take data as text and hand it to h(), never to an HTML parser.

import { h } from './dom.js';
import { has, t } from './i18n.js';

let idCounter = 0;
export function uid(prefix = 'id') {
  idCounter += 1;
  return `${prefix}-${idCounter}`;
}

// A titled part of a page: <section> labelled by its <h2>.
export function section(title, attrs, ...children) {
  const id = uid('sec');
  return h(
    'section',
    { class: 'panel', 'aria-labelledby': id, ...attrs },
    h('h2', { id }, title),
    ...children,
  );
}

// The page's own heading: focused after navigation so that screen readers announce it.
export function pageTitle(text, ...extra) {
  return h(
    'div',
    { class: 'page-head' },
    h('h1', { tabindex: '-1', 'data-testid': 'page-title' }, text),
    ...extra,
  );
}

// A table in a horizontally scrolling frame (narrow screens scroll the table, not the page).
// columns: [{label, cell(row) -> text|Node, class}], rowAttrs(row) -> attributes of the <tr>.
export function table({ caption, columns, rows, testid, rowAttrs, empty }) {
  if (!rows.length && empty) return h('p', { class: 'empty', 'data-testid': `${testid}-empty` }, empty);
  const captionId = uid('cap');
  return h(
    'div',
    { class: 'table-wrap', role: 'region', tabindex: '0', 'aria-labelledby': captionId },
    h(
      'table',
      { 'data-testid': testid },
      h('caption', { id: captionId, class: caption?.hidden ? 'sr-only' : null }, caption?.text ?? caption),
      h('thead', null, h('tr', null, columns.map((c) => h('th', { scope: 'col', class: c.class }, c.label)))),
      h(
        'tbody',
        null,
        rows.map((row) =>
          h(
            'tr',
            rowAttrs ? rowAttrs(row) : null,
            columns.map((c, i) =>
              i === 0
                ? h('th', { scope: 'row', class: c.class }, c.cell(row))
                : h('td', { class: c.class }, c.cell(row)),
            ),
          ),
        ),
      ),
    ),
  );
}

// <dl> of [label, value] pairs; pairs with value null are left out.
export function facts(pairs, attrs) {
  return h(
    'dl',
    { class: 'facts', ...attrs },
    pairs
      .filter((p) => p && p[1] !== null && p[1] !== undefined)
      .map(([label, value, testid]) =>
        h('div', { class: 'fact' }, h('dt', null, label), h('dd', { 'data-testid': testid }, value)),
      ),
  );
}

const KNOWN_STATES = ['pending', 'running', 'completed', 'failed', 'cancelled', 'preempted', 'lost', 'succeeded', 'skipped', 'waiting', 'submitting', 'open', 'resolved'];

export function stateBadge(state, attrs) {
  const known = KNOWN_STATES.includes(state);
  return h(
    'span',
    { class: ['badge', `state-${known ? state : 'other'}`], 'data-state': state, ...attrs },
    known ? t(`state.${state}`) : String(state ?? '\u2014'),
  );
}

export function severityBadge(severity) {
  const key = `severity.${severity}`;
  const known = ['critical', 'error', 'warning', 'info'].includes(severity);
  return h(
    'span',
    { class: ['badge', `sev-${known ? severity : 'other'}`] },
    has(key) ? t(key) : String(severity ?? '\u2014'),
  );
}

export function statusBadge(status) {
  const key = `doctor.status.${status}`;
  const known = ['ok', 'warn', 'fail', 'skip'].includes(status);
  return h(
    'span',
    { class: ['badge', `check-${known ? status : 'other'}`] },
    has(key) ? t(key) : String(status ?? '\u2014'),
  );
}

// An API error as the user should read it: the server's message, which says what to do.
export function errorBox(err, testid = 'error') {
  const message = err && err.message ? err.message : String(err);
  return h('p', { class: 'error', role: 'alert', 'data-testid': testid }, message);
}

export function loading() {
  return h('p', { class: 'loading', 'aria-busy': 'true' }, t('common.loading'));
}

// The job's name as the caller may see it: a token caller that does not own a job sees it
// without its name and command ("private").
export function jobName(job) {
  if (job.name) return job.name;
  if (job.private) return h('span', { class: 'muted' }, t('jobs.private'));
  return h('span', { class: 'muted' }, '\u2014');
}

export function jobLink(id) {
  return h('a', { href: `#/jobs/${id}`, 'data-testid': 'job-link' }, `#${id}`);
}

// Puts a short text into the page's polite live region for screen readers.
export function announce(text) {
  const region = document.getElementById('announce');
  if (!region) return;
  region.textContent = '';
  // A change the next frame makes is announced even when the text repeats.
  requestAnimationFrame(() => {
    region.textContent = text;
  });
}

// A select whose options are [value, label] pairs.
export function select(attrs, options, selected) {
  return h(
    'select',
    attrs,
    options.map(([value, label]) => h('option', { value, selected: value === selected }, label)),
  );
}
