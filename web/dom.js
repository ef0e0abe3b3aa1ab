// DOM construction for the dashboard. Every element is made here, and data only ever reaches
// the page as text nodes or attribute values: there is no path from API data to HTML parsing,
// so a job name such as "<img onerror=...>" shows as those characters and never runs.

const SVG_NS = 'http://www.w3.org/2000/svg';

// Links may point inside the dashboard ("#/jobs/3", "/v1/...") or to an http(s) page; any
// other scheme (javascript:, data:) is dropped, whatever string reached us.
function safeHref(value) {
  const v = String(value);
  return /^(#|\/(?!\/)|https?:\/\/)/i.test(v) ? v : null;
}

// Properties that must be set as properties for form controls to behave (an attribute only
// sets the default value).
const PROPS = new Set(['value', 'checked', 'selected', 'indeterminate']);

function setAttrs(el, attrs, svg) {
  if (!attrs) return;
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'style') {
      // The Content-Security-Policy refuses style attributes; callers set el.style.x instead.
      throw new Error('h(): use el.style.<prop> from script, not a style attribute');
    }
    if (key.startsWith('on')) {
      if (typeof value !== 'function') throw new Error(`h(): ${key} must be a function`);
      el.addEventListener(key.slice(2).toLowerCase(), value);
      continue;
    }
    if (key === 'class') {
      const names = Array.isArray(value) ? value.filter(Boolean).join(' ') : String(value);
      if (svg) el.setAttribute('class', names);
      else el.className = names;
      continue;
    }
    if (!svg && PROPS.has(key)) {
      el[key] = value;
      continue;
    }
    if (key === 'href') {
      const href = safeHref(value);
      if (href !== null) el.setAttribute('href', href);
      continue;
    }
    el.setAttribute(key, value === true ? '' : String(value));
  }
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else if (child instanceof Node) el.appendChild(child);
    else el.appendChild(document.createTextNode(String(child)));
  }
}

// h('a', {href: '#/jobs/3', 'data-testid': 'job-link'}, 'job ', name): an HTML element.
// Strings and numbers become text nodes; arrays are flattened; null and false are skipped.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs, false);
  append(el, children);
  return el;
}

// The same for SVG elements (created in the SVG namespace).
export function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  setAttrs(el, attrs, true);
  append(el, children);
  return el;
}

// Replaces an element's children.
export function put(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

// A text that visual users do not see but screen readers read.
export function srOnly(text) {
  return h('span', { class: 'sr-only' }, text);
}
