// Environment: the software stack a framework needs on this node (version, build, runtime,
// base image, install lines, and why), from aiond's compatibility tables, with the Dockerfile
// that builds it.

import { api } from '../api.js';
import { h, put } from '../dom.js';
import { t } from '../i18n.js';
import { announce, errorBox, facts, loading, pageTitle, section } from '../ui.js';

const SUGGESTIONS = ['pytorch', 'tensorflow', 'jax', 'vllm', 'sglang', 'onnxruntime', 'paddle', 'cuda'];

// Warnings and failures are texts or {text, source} objects, depending on the table.
function itemText(x) {
  if (x === null || x === undefined) return '';
  if (typeof x !== 'object') return String(x);
  return String(x.text ?? x.message ?? x.reason ?? JSON.stringify(x));
}

function list(items, testid, cls) {
  return h('ul', { class: cls, 'data-testid': testid }, items.map((x) => h('li', null, itemText(x))));
}

// Copies a text; where the clipboard API is off (a plain-http page on another host), it
// selects the text so that the user can copy it by hand.
async function copy(text, pre, status) {
  try {
    await navigator.clipboard.writeText(text);
    status.textContent = t('env.copied');
  } catch {
    const range = document.createRange();
    range.selectNodeContents(pre);
    const sel = getSelection();
    sel.removeAllRanges();
    sel.addRange(range);
    status.textContent = t('env.copy_selected');
  }
  announce(status.textContent);
}

function planView(res) {
  const plan = res.plan || {};
  const image = plan.image || {};
  const parts = [];
  parts.push(
    h(
      'p',
      { class: plan.ok ? 'ok' : 'error', 'data-testid': 'env-verdict', 'data-ok': String(!!plan.ok) },
      plan.ok ? t('env.fits', { framework: plan.framework || plan.request || '', version: plan.version || '' }) : t('env.no_fit'),
    ),
    facts(
      [
        [t('env.framework'), [plan.framework, plan.version].filter(Boolean).join(' ') || '\u2014', 'env-framework-version'],
        plan.variant ? [t('env.variant'), plan.variant] : null,
        plan.runtime ? [t('env.runtime'), `${plan.kind || ''} ${plan.runtime}`.trim()] : null,
        plan.python ? [t('env.python'), plan.python] : null,
        plan.cudnn ? [t('env.cudnn'), plan.cudnn] : null,
        image.ref ? [t('env.image'), h('code', null, image.ref)] : null,
        image.run_note ? [t('env.run_note'), image.run_note] : null,
        [t('env.machine'), res.machine || '\u2014'],
        plan.tables_as_of ? [t('env.tables'), plan.tables_as_of] : null,
      ],
      { 'data-testid': 'env-summary' },
    ),
  );
  if (plan.install?.length) {
    parts.push(h('h3', null, t('env.install')), h('pre', { class: 'code', 'data-testid': 'env-install' }, plan.install.map(itemText).join('\n')));
  }
  if (plan.failures?.length) parts.push(h('h3', null, t('env.failures')), list(plan.failures, 'env-failures', 'errors'));
  if (plan.warnings?.length) parts.push(h('h3', null, t('env.warnings')), list(plan.warnings, 'env-warnings', 'warnings'));
  if (plan.reasons?.length) {
    parts.push(
      h('h3', null, t('env.reasons')),
      h(
        'ul',
        { class: 'reasons', 'data-testid': 'env-reasons' },
        plan.reasons.map((r) =>
          h(
            'li',
            null,
            r.topic ? h('span', { class: 'badge' }, r.topic) : null,
            ' ',
            itemText(r),
            r.source ? h('div', { class: 'muted small' }, t('env.source', { source: r.source })) : null,
          ),
        ),
      ),
    );
  }
  return parts;
}

export async function render(ctx) {
  const { root, signal, query } = ctx;
  const input = h('input', {
    id: 'env-framework',
    type: 'text',
    list: 'env-suggestions',
    required: true,
    autocomplete: 'off',
    spellcheck: 'false',
    value: query.get('framework') || 'pytorch',
    'data-testid': 'env-framework',
    'aria-describedby': 'env-hint',
  });
  const out = h('div', { 'data-testid': 'env-result', 'aria-live': 'polite' });
  const dockerBox = h('div');
  const form = h(
    'form',
    { class: 'inline-form', 'data-testid': 'env-form', onsubmit: (e) => { e.preventDefault(); run(); } },
    h('div', { class: 'field grow' }, h('label', { for: 'env-framework' }, t('env.framework_label')), input, h('p', { class: 'hint', id: 'env-hint' }, t('env.hint'))),
    h('datalist', { id: 'env-suggestions' }, SUGGESTIONS.map((s) => h('option', { value: s }))),
    h('div', { class: 'field end' }, h('button', { type: 'submit', class: 'primary', 'data-testid': 'env-submit' }, t('env.plan'))),
  );
  root.append(pageTitle(t('nav.environment')), form, section(t('env.plan_title'), null, out), dockerBox);

  let seq = 0;
  async function run() {
    const framework = input.value.trim();
    if (!framework) return;
    const mine = ++seq;
    history.replaceState(null, '', `#/environment?framework=${encodeURIComponent(framework)}`);
    put(out, loading());
    put(dockerBox);
    let res;
    try {
      res = await api('/v1/env/plan', { query: { framework }, signal });
    } catch (err) {
      if (err.name !== 'AbortError' && mine === seq) put(out, errorBox(err, 'env-error'));
      return;
    }
    if (mine !== seq || !ctx.alive()) return;
    put(out, planView(res));
    if (typeof res.dockerfile === 'string' && res.dockerfile) {
      const pre = h('pre', { class: 'code', 'data-testid': 'env-dockerfile', tabindex: '0' }, res.dockerfile);
      const status = h('span', { class: 'muted', 'data-testid': 'env-copy-status' });
      put(
        dockerBox,
        section(
          t('env.dockerfile'),
          null,
          h('div', { class: 'actions' }, h('button', { type: 'button', 'data-testid': 'env-copy', onclick: () => copy(res.dockerfile, pre, status) }, t('env.copy')), status),
          pre,
        ),
      );
    } else if (res.dockerfile_error) {
      put(dockerBox, section(t('env.dockerfile'), null, errorBox({ message: res.dockerfile_error }, 'env-dockerfile-error')));
    }
  }
  await run();
}
