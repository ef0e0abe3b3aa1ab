// The dashboard's shell: it checks the session, draws the header and navigation, routes
// "#/page/..." hashes to the page modules (loaded when first visited, so the overview only
// pays for itself) and redraws everything when the language changes.
//
// The scripts and the stylesheet are ASCII, other characters written as \u escapes: aiond
// compiles these files in as string pieces of a fixed byte length, and a cut must never fall
// inside a character. Texts in other scripts live in the catalogs (i18n/*.json).

import { api, ApiError, setCsrf, setUnauthenticatedHandler } from './api.js';
import { h, put } from './dom.js';
import { initialLanguage, language, LANGUAGES, setLanguage, t } from './i18n.js';
import { closeSharedStreams, onStreamState } from './streams.js';
import { errorBox, loading } from './ui.js';

const PAGES = {
  overview: () => import('./pages/overview.js'),
  topology: () => import('./pages/topology.js'),
  jobs: () => import('./pages/jobs.js'),
  metrics: () => import('./pages/metrics.js'),
  incidents: () => import('./pages/incidents.js'),
  environment: () => import('./pages/environment.js'),
  copilot: () => import('./pages/copilot.js'),
  guard: () => import('./pages/guard.js'),
  pipelines: () => import('./pages/pipelines.js'),
};

const NAV = ['overview', 'topology', 'jobs', 'metrics', 'incidents', 'environment', 'copilot', 'guard', 'pipelines'];

// "#/jobs/12?x=1" -> {page: 'jobs', id: '12', query}
function parseHash() {
  const raw = location.hash.startsWith('#/') ? location.hash.slice(2) : '';
  const [path, search] = raw.split('?', 2);
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  return { page: parts[0] || '', id: parts[1] || null, query: new URLSearchParams(search || '') };
}

const state = {
  session: null,   // {name, role, run_as, csrf}; null: logged out
  leave: null,     // ends the current page (closes its streams, aborts its requests)
  streamState: 'off',
  firstRender: true,
};

const root = {
  header: document.getElementById('top'),
  main: document.getElementById('main'),
  skip: document.getElementById('skip-link'),
};

function canOperate() {
  return state.session && (state.session.role === 'operator' || state.session.role === 'admin');
}

function leavePage() {
  if (state.leave) {
    const leave = state.leave;
    state.leave = null;
    leave();
  }
}

// ---- header ----

function languageControl() {
  const id = 'lang-select';
  const sel = h(
    'select',
    {
      id,
      'data-testid': 'lang-select',
      onchange: async (e) => {
        await setLanguage(e.target.value, true);
        redraw();
      },
    },
    LANGUAGES.map((code) => h('option', { value: code, selected: code === language() }, t(`lang.${code}`))),
  );
  return h('div', { class: 'lang' }, h('label', { for: id }, t('header.language')), sel);
}

function liveIndicator() {
  const text = state.streamState === 'reconnecting' ? t('live.reconnecting') : t('live.live');
  return h(
    'span',
    {
      class: ['live', `live-${state.streamState}`],
      'data-testid': 'live-status',
      'data-state': state.streamState,
      hidden: state.streamState === 'off',
    },
    text,
  );
}

function drawHeader() {
  const current = parseHash().page || 'overview';
  const items = [];
  let navList = null;
  if (state.session) {
    const toggle = h(
      'button',
      {
        type: 'button',
        class: 'nav-toggle',
        'aria-expanded': 'false',
        'aria-controls': 'nav-list',
        'data-testid': 'nav-toggle',
        onclick: () => {
          const open = toggle.getAttribute('aria-expanded') !== 'true';
          toggle.setAttribute('aria-expanded', String(open));
          navList.classList.toggle('open', open);
        },
      },
      t('header.menu'),
    );
    navList = h(
      'ul',
      {
        id: 'nav-list',
        class: 'nav-list',
        // Escape closes the phone menu and returns to its button, as a disclosure should.
        onkeydown: (e) => {
          if (e.key !== 'Escape' || !navList.classList.contains('open')) return;
          navList.classList.remove('open');
          toggle.setAttribute('aria-expanded', 'false');
          toggle.focus();
        },
      },
      NAV.map((name) =>
        h(
          'li',
          null,
          h(
            'a',
            {
              href: `#/${name}`,
              'data-testid': `nav-${name}`,
              'aria-current': name === current ? 'page' : null,
            },
            t(`nav.${name}`),
          ),
        ),
      ),
    );
    items.push(h('nav', { class: 'nav', 'aria-label': t('header.nav_label') }, toggle, navList));
  }
  const user = state.session
    ? h(
        'div',
        { class: 'user' },
        h('span', { class: 'user-name', 'data-testid': 'user-name' }, state.session.name),
        ' ',
        h(
          'span',
          { class: ['badge', `role-${state.session.role}`], 'data-testid': 'user-role', 'data-role': state.session.role },
          t(`role.${state.session.role}`),
        ),
        state.session.csrf
          ? h('button', { type: 'button', class: 'link-button', 'data-testid': 'logout', onclick: logout }, t('header.logout'))
          : h('a', { href: '#/login', 'data-testid': 'login-link' }, t('header.login')),
      )
    : null;
  put(
    root.header,
    h(
      'div',
      { class: 'bar' },
      h('a', { class: 'brand', href: '#/overview', 'aria-label': t('header.home') }, 'aion'),
      ...items,
      h('div', { class: 'tools' }, liveIndicator(), user, languageControl()),
    ),
  );
}

onStreamState((s) => {
  if (s === state.streamState) return;
  state.streamState = s;
  const el = root.header.querySelector('[data-testid="live-status"]');
  if (!el) return;
  el.hidden = s === 'off';
  el.dataset.state = s;
  el.className = `live live-${s}`;
  el.textContent = s === 'reconnecting' ? t('live.reconnecting') : t('live.live');
});

// ---- pages ----

async function route() {
  leavePage();
  if (!state.session) return showLogin();
  const { page, id, query } = parseHash();
  if (page === 'login' && !state.session.csrf) return showLogin();
  if (!page || !PAGES[page]) {
    if (!page || page === 'login') {
      history.replaceState(null, '', '#/overview');
      return route();
    }
  }
  drawHeader();
  const controller = new AbortController();
  const cleanups = [];
  state.leave = () => {
    controller.abort();
    for (const fn of cleanups) {
      try {
        fn();
      } catch (err) {
        console.error(err);
      }
    }
  };
  const container = h('div', { class: 'page', 'data-testid': 'page', 'data-page': page });
  put(root.main, container);
  root.main.dataset.page = page;
  if (!PAGES[page]) {
    document.title = `${t('notfound.title')} \u00b7 aion`;
    put(container, h('h1', { tabindex: '-1', 'data-testid': 'page-title' }, t('notfound.title')), h('p', null, t('notfound.text')));
    container.dataset.ready = 'true';
    return;
  }
  document.title = `${t(`nav.${page}`)} \u00b7 aion`;
  container.append(loading());
  const ctx = {
    root: container,
    id,
    query,
    session: state.session,
    canOperate: canOperate(),
    signal: controller.signal,
    // What to undo when the page is left; run at once when it was left already (a page that
    // was still awaiting its data when the user moved on).
    onCleanup: (fn) => (controller.signal.aborted ? fn() : cleanups.push(fn)),
    // True while the page is still the one shown (async work checks before drawing).
    alive: () => !controller.signal.aborted,
  };
  try {
    const mod = await PAGES[page]();
    if (!ctx.alive()) return;
    put(container);
    // "#/jobs/12": the page's detail view, when it has one.
    await (id && mod.renderDetail ? mod.renderDetail(ctx) : mod.render(ctx));
  } catch (err) {
    if (!ctx.alive() || err?.name === 'AbortError') return;
    if (err instanceof ApiError && err.status === 401) return;
    console.error(err);
    container.append(errorBox(err));
  }
  if (!ctx.alive()) return;
  // Focus the heading so that screen readers announce the new page, unless the user has
  // already moved into it (typing into a form while its data loaded): never steal focus.
  if (!state.firstRender && !container.contains(document.activeElement)) container.querySelector('h1')?.focus();
  state.firstRender = false;
  container.dataset.ready = 'true';
}

function redraw() {
  if (state.session) route();
  else showLogin();
}

// ---- session ----

function showLogin(message) {
  leavePage();
  closeSharedStreams();
  state.session = null;
  setCsrf(null);
  drawHeader();
  document.title = `${t('login.title')} \u00b7 aion`;
  root.main.dataset.page = 'login';
  const input = h('input', {
    id: 'login-token',
    name: 'token',
    type: 'password',
    autocomplete: 'off',
    spellcheck: 'false',
    required: true,
    'data-testid': 'login-token',
    'aria-describedby': 'login-hint',
  });
  const status = h('div', { 'aria-live': 'assertive', 'data-testid': 'login-status' });
  if (message) status.append(errorBox(message, 'login-error'));
  const button = h('button', { type: 'submit', class: 'primary', 'data-testid': 'login-submit' }, t('login.submit'));
  const form = h(
    'form',
    {
      class: 'login',
      'data-testid': 'login-form',
      onsubmit: async (e) => {
        e.preventDefault();
        put(status);
        button.disabled = true;
        try {
          const who = await api('/v1/session', { method: 'POST', body: { token: input.value.trim() }, quiet401: true });
          input.value = '';
          startSession(who);
        } catch (err) {
          put(status, errorBox(err, 'login-error'));
          input.focus();
        } finally {
          button.disabled = false;
        }
      },
    },
    h('h1', { 'data-testid': 'page-title' }, t('login.title')),
    h('p', null, t('login.intro')),
    h('label', { for: 'login-token' }, t('login.token')),
    input,
    h('p', { id: 'login-hint', class: 'hint' }, t('login.hint'), ' ', h('code', null, 'aion admin token create --role operator --run-as USER')),
    status,
    button,
  );
  put(root.main, h('div', { class: 'page', 'data-testid': 'page', 'data-page': 'login' }, form));
  input.focus();
}

function startSession(who) {
  state.session = who;
  setCsrf(who.csrf);
  if (parseHash().page === 'login' || !location.hash.startsWith('#/')) history.replaceState(null, '', '#/overview');
  route();
}

async function logout() {
  try {
    await api('/v1/session', { method: 'DELETE' });
  } catch (err) {
    // The session may be gone already; the login page is the right place either way.
    console.warn(err);
  }
  showLogin();
}

setUnauthenticatedHandler((err) => {
  if (state.session) showLogin(err);
});

// ---- start ----

async function boot() {
  const lang = initialLanguage();
  const [, who] = await Promise.all([
    setLanguage(lang),
    api('/v1/session', { quiet401: true }).catch((err) => err),
  ]);
  put(root.skip, t('header.skip'));
  root.skip.addEventListener('click', (e) => {
    e.preventDefault();
    root.main.focus();
  });
  window.addEventListener('hashchange', () => {
    // "#main" and other plain anchors are not routes.
    if (location.hash.startsWith('#/') || location.hash === '') route();
  });
  if (who instanceof ApiError) {
    if (who.status === 401) return showLogin();
    drawHeader();
    return put(root.main, errorBox(who));
  }
  if (who instanceof Error) {
    drawHeader();
    return put(root.main, errorBox(who));
  }
  startSession(who);
}

boot().catch((err) => {
  console.error(err);
  put(root.main, h('p', { class: 'error', role: 'alert' }, String(err.message || err)));
});
