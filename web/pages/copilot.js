// The copilot: a question about this node, answered from its facts with the sources the
// answer rests on. The answer streams in as server-sent events (the model's words as
// "token" frames, each tool it consulted as "tool", then "answer" with the text and its
// sources, then "done"); EventSource cannot POST, so the stream is read from fetch.

import { postStream } from '../api.js';
import { h, put } from '../dom.js';
import { t } from '../i18n.js';
import { announce, errorBox, pageTitle, section } from '../ui.js';

const EXAMPLES = ['copilot.example1', 'copilot.example2', 'copilot.example3'];

function sourceItem(src) {
  const v = String(src);
  return h('li', null, /^https?:\/\//i.test(v) ? h('a', { href: v, rel: 'noopener noreferrer', target: '_blank' }, v) : v);
}

export async function render(ctx) {
  const { root, signal } = ctx;
  const question = h('textarea', {
    id: 'ask-question',
    rows: '3',
    maxlength: '4096',
    required: true,
    'data-testid': 'ask-question',
  });
  const button = h('button', { type: 'submit', class: 'primary', 'data-testid': 'ask-submit' }, t('copilot.ask'));
  const status = h('p', { class: 'muted', 'data-testid': 'ask-status', 'aria-live': 'polite' });
  const answer = h('div', { class: 'answer', 'data-testid': 'ask-answer', 'aria-live': 'off' });
  const tools = h('ul', { class: 'tools-used', 'data-testid': 'ask-tools' });
  const sources = h('ul', { class: 'sources', 'data-testid': 'ask-sources' });
  const errors = h('div', { 'data-testid': 'ask-error-box' });
  const answerSection = section(
    t('copilot.answer'),
    { 'data-testid': 'ask-answer-section', hidden: true },
    status,
    errors,
    answer,
    h('h3', null, t('copilot.sources')),
    sources,
    h('h3', null, t('copilot.tools')),
    tools,
  );
  const form = h(
    'form',
    { class: 'ask-form', 'data-testid': 'ask-form', onsubmit: (e) => { e.preventDefault(); ask(); } },
    h('div', { class: 'field' }, h('label', { for: 'ask-question' }, t('copilot.question')), question),
    h(
      'p',
      { class: 'hint' },
      t('copilot.try'),
      ' ',
      EXAMPLES.map((k, i) => [
        i ? ' \u00b7 ' : '',
        h('button', { type: 'button', class: 'link-button', onclick: () => { question.value = t(k); question.focus(); } }, t(k)),
      ]),
    ),
    button,
  );
  root.append(
    pageTitle(t('nav.copilot')),
    h('p', null, t('copilot.intro')),
    form,
    answerSection,
  );

  let running = null;
  ctx.onCleanup(() => running?.abort());

  async function ask() {
    const text = question.value.trim();
    if (!text) return;
    running?.abort();
    const controller = new AbortController();
    running = controller;
    signal.addEventListener('abort', () => controller.abort(), { once: true });
    answerSection.hidden = false;
    put(answer);
    put(tools);
    put(sources);
    put(errors);
    answer.dataset.done = 'false';
    answer.setAttribute('aria-busy', 'true');
    status.textContent = t('copilot.thinking');
    button.disabled = true;
    let streamed = '';
    let final = null;
    try {
      await postStream(
        '/v1/ask?stream=1',
        { question: text },
        (frame) => {
          let data = {};
          try {
            data = frame.data ? JSON.parse(frame.data) : {};
          } catch {
            return;
          }
          if (frame.event === 'token') {
            streamed += String(data.text ?? '');
            answer.textContent = streamed;
          } else if (frame.event === 'tool') {
            tools.append(h('li', null, h('code', null, String(data.tool ?? '')), data.source ? ` \u2014 ${data.source}` : '', data.error ? h('span', { class: 'error-inline' }, ` (${data.error})`) : ''));
          } else if (frame.event === 'answer') {
            final = data;
          } else if (frame.event === 'error') {
            put(errors, errorBox({ message: data.message || data.error?.message || frame.data }, 'ask-error'));
          }
        },
        controller.signal,
      );
    } catch (err) {
      if (err.name === 'AbortError') return;
      put(errors, errorBox(err, 'ask-error'));
    } finally {
      if (running === controller) {
        button.disabled = false;
        answer.setAttribute('aria-busy', 'false');
      }
    }
    if (!ctx.alive() || running !== controller) return;
    if (final) {
      answer.textContent = String(final.answer ?? streamed);
      put(sources, (final.sources || []).map(sourceItem));
      if (!(final.sources || []).length) sources.append(h('li', { class: 'muted' }, t('copilot.no_sources')));
      if (final.commands?.length) {
        answer.append(h('h3', null, t('copilot.commands')), h('pre', { class: 'code' }, final.commands.map(String).join('\n')));
      }
      if (final.fallback) answer.append(h('p', { class: 'note' }, t('copilot.fallback', { why: String(final.fallback) })));
      status.textContent = final.answered === false ? t('copilot.not_answered') : t('copilot.done');
      announce(status.textContent);
    } else if (!errors.childNodes.length) {
      status.textContent = streamed ? t('copilot.done') : t('copilot.no_answer');
    } else {
      status.textContent = '';
    }
    answer.dataset.done = 'true';
  }
}
