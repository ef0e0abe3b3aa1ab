// The dashboard's languages: one catalog per language under i18n/, the same keys in each.
// t('nav.jobs') looks a key up in the current catalog; "{name}" in a text is replaced by
// params.name. A key missing from a catalog shows as the key itself, so a gap is visible
// rather than silent.

export const LANGUAGES = ['en', 'zh-CN'];
const STORAGE_KEY = 'aion.lang';

let current = 'en';
let catalog = {};
const loaded = new Map();

// The language to start with: the one chosen before in this browser, else the first of the
// browser's languages we have (any Chinese variant reads the Simplified catalog), else English.
export function initialLanguage() {
  try {
    const saved = localStorage.getItem(STORAGE_KEY);
    if (LANGUAGES.includes(saved)) return saved;
  } catch {
    // Storage can be off (private mode, policy): fall back to the browser's preference.
  }
  const wanted = navigator.languages?.length ? navigator.languages : [navigator.language || 'en'];
  for (const tag of wanted) {
    const lower = String(tag).toLowerCase();
    if (lower.startsWith('zh')) return 'zh-CN';
    if (lower.startsWith('en')) return 'en';
  }
  return 'en';
}

async function fetchCatalog(lang) {
  if (loaded.has(lang)) return loaded.get(lang);
  const res = await fetch(`/ui/i18n/${lang}.json`, { credentials: 'same-origin' });
  if (!res.ok) throw new Error(`the ${lang} catalog could not be loaded (HTTP ${res.status})`);
  const data = await res.json();
  loaded.set(lang, data);
  return data;
}

// Loads and switches to `lang`; remember=true keeps the choice for the next visit.
export async function setLanguage(lang, remember = false) {
  if (!LANGUAGES.includes(lang)) lang = 'en';
  catalog = await fetchCatalog(lang);
  current = lang;
  document.documentElement.lang = lang;
  if (remember) {
    try {
      localStorage.setItem(STORAGE_KEY, lang);
    } catch {
      // Not kept across visits, but switched for this one.
    }
  }
}

export function language() {
  return current;
}

export function t(key, params) {
  let text = catalog[key];
  if (typeof text !== 'string') return key;
  if (params) {
    text = text.replace(/\{(\w+)\}/g, (m, name) => (name in params ? String(params[name]) : m));
  }
  return text;
}

// Whether the catalog has `key` (for optional texts such as a state's description).
export function has(key) {
  return typeof catalog[key] === 'string';
}

// Like t(), for a text with elements in it: with params {n: h('b', null, '3')}, the text's
// pieces and the elements in order, ready for h() or put() (no HTML is parsed).
export function tx(key, params) {
  const text = typeof catalog[key] === 'string' ? catalog[key] : key;
  const out = [];
  let last = 0;
  for (const m of text.matchAll(/\{(\w+)\}/g)) {
    out.push(text.slice(last, m.index));
    const v = params && m[1] in params ? params[m[1]] : m[0];
    out.push(v instanceof Node ? v : String(v));
    last = m.index + m[0].length;
  }
  out.push(text.slice(last));
  return out.filter((x) => x !== '');
}
