// Calls to aiond's API from the dashboard. The browser holds a session cookie (HttpOnly, set
// by POST /v1/session), so requests carry no token; every request that changes something
// also carries the session's CSRF token in X-CSRF-Token, which a page of another origin
// cannot read. Errors arrive as {"error": {"code", "message"}} and become ApiError.

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

let csrfToken = null;
let onUnauthenticated = () => {};

export function setCsrf(token) {
  csrfToken = token || null;
}

// Called when a request answers 401 (the session ended): the app shows its login page.
export function setUnauthenticatedHandler(fn) {
  onUnauthenticated = fn;
}

function headersFor(method, extra) {
  const headers = { Accept: 'application/json', ...extra };
  if (method !== 'GET' && method !== 'HEAD') {
    headers['Content-Type'] = 'application/json';
    if (csrfToken) headers['X-CSRF-Token'] = csrfToken;
  }
  return headers;
}

async function errorFrom(res) {
  let code = 'http_' + res.status;
  let message = res.statusText || `HTTP ${res.status}`;
  try {
    const body = await res.json();
    if (body && body.error) {
      code = String(body.error.code ?? code);
      message = String(body.error.message ?? message);
    }
  } catch {
    // Not the JSON envelope (a proxy's page, a cut connection): keep the status line.
  }
  return new ApiError(res.status, code, message);
}

// path with a query object: query('/v1/jobs', {state: 'running'}) -> "/v1/jobs?state=running".
export function withQuery(path, query) {
  if (!query) return path;
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  }
  const text = q.toString();
  return text ? `${path}?${text}` : path;
}

// api('/v1/jobs', {method: 'POST', body: {...}, query: {...}, signal}) -> parsed JSON.
// options.quiet401 leaves a 401 to the caller (the session check at start).
export async function api(path, options = {}) {
  const method = options.method || 'GET';
  const init = {
    method,
    headers: headersFor(method),
    credentials: 'same-origin',
    signal: options.signal,
  };
  if (options.body !== undefined) init.body = JSON.stringify(options.body);
  const res = await fetch(withQuery(path, options.query), init);
  if (!res.ok) {
    const err = await errorFrom(res);
    if (res.status === 401 && !options.quiet401) onUnauthenticated(err);
    throw err;
  }
  if (res.status === 204) return null;
  const type = res.headers.get('Content-Type') || '';
  return type.includes('json') ? res.json() : res.text();
}

// Splits a server-sent-event byte stream into frames ({event, data, id}) as text arrives.
// The format: lines "field: value", a blank line ends a frame, "data" lines join with "\n".
export class SseParser {
  constructor() {
    this.buffer = '';
  }

  push(text) {
    this.buffer += text.replace(/\r\n?/g, '\n');
    const frames = [];
    let end;
    while ((end = this.buffer.indexOf('\n\n')) >= 0) {
      const block = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + 2);
      const frame = { event: 'message', data: '', id: null };
      const data = [];
      for (const line of block.split('\n')) {
        if (!line || line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        let value = colon < 0 ? '' : line.slice(colon + 1);
        if (value.startsWith(' ')) value = value.slice(1);
        if (field === 'event') frame.event = value;
        else if (field === 'data') data.push(value);
        else if (field === 'id') frame.id = value;
      }
      frame.data = data.join('\n');
      if (data.length || frame.event !== 'message') frames.push(frame);
    }
    return frames;
  }
}

// POSTs `body` and reads the answer as server-sent events (EventSource cannot POST): calls
// onFrame({event, data}) for each frame as it arrives; resolves when the stream ends.
export async function postStream(path, body, onFrame, signal) {
  const res = await fetch(path, {
    method: 'POST',
    headers: headersFor('POST', { Accept: 'text/event-stream' }),
    credentials: 'same-origin',
    body: JSON.stringify(body),
    signal,
  });
  if (!res.ok) {
    const err = await errorFrom(res);
    if (res.status === 401) onUnauthenticated(err);
    throw err;
  }
  const type = res.headers.get('Content-Type') || '';
  if (!type.includes('text/event-stream')) {
    // A server that answered in one piece: hand it over as a single answer frame.
    onFrame({ event: 'answer', data: await res.text(), id: null });
    return;
  }
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  const parser = new SseParser();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    for (const frame of parser.push(decoder.decode(value, { stream: true }))) onFrame(frame);
  }
  for (const frame of parser.push(decoder.decode() + '\n\n')) onFrame(frame);
}
