// Live data for the pages: aiond's event log and its latest metric samples, as server-sent
// events. The session cookie authenticates them (same origin). aiond lets one client hold a
// few streams only (4 by default), so a page opens the ones it shows and closes them when it
// is left; the event log, which most pages follow, is shared by all of them.
//
// EventSource retries by itself after a dropped connection, but gives up for good on an HTTP
// error; so every error closes the stream and a timer opens a new one, waiting longer after
// each failure (1 s doubling to 30 s, with jitter so that many tabs do not retry together).

import { api } from './api.js';

const MIN_DELAY_MS = 1000;
const MAX_DELAY_MS = 30000;

// Open streams and their states, for the header's indicator.
const states = new Map();
let stateListener = () => {};

export function onStreamState(fn) {
  stateListener = fn;
}

function report(id, state) {
  if (state === null) states.delete(id);
  else states.set(id, state);
  let overall = 'off';
  for (const s of states.values()) {
    if (s === 'reconnecting') {
      overall = 'reconnecting';
      break;
    }
    overall = 'live';
  }
  stateListener(overall);
}

let nextId = 1;

// Opens url() as an EventSource with `listeners` ({eventName: fn(MessageEvent)}) and keeps it
// open until the returned function is called. url is called for each (re)connection, so it
// can resume from what was seen.
function reconnecting(url, listeners) {
  const id = nextId++;
  let source = null;
  let timer = null;
  let delay = MIN_DELAY_MS;
  let closed = false;

  const connect = () => {
    timer = null;
    if (closed) return;
    source = new EventSource(url());
    source.onopen = () => {
      delay = MIN_DELAY_MS;
      report(id, 'live');
    };
    source.onerror = () => {
      source.close();
      source = null;
      if (closed) return;
      report(id, 'reconnecting');
      const wait = delay * (0.75 + Math.random() * 0.5);
      delay = Math.min(delay * 2, MAX_DELAY_MS);
      // An ended session also shows up here (EventSource hides the 401): ask, so that the
      // app can return to its login page instead of retrying forever.
      api('/v1/session').catch(() => {});
      timer = setTimeout(connect, wait);
    };
    for (const [name, fn] of Object.entries(listeners)) source.addEventListener(name, fn);
  };

  connect();
  return () => {
    closed = true;
    if (timer) clearTimeout(timer);
    if (source) source.close();
    report(id, null);
  };
}

// The event log, one stream for the whole tab: most pages follow it, and aiond only notices
// a closed stream when its next write fails (up to its keepalive period later), so a stream
// per page would leave stale ones counted against the per-client limit while the user clicks
// through pages. The stream stays open while a page listens and LINGER_MS after the last one
// stopped, then closes.
const LINGER_MS = 20000;
const eventListeners = new Set();
let closeEventStream = null;
let lingerTimer = null;

function openEventStream() {
  let lastId = null;
  return reconnecting(
    () => (lastId === null ? '/v1/events/stream' : `/v1/events/stream?since_id=${lastId}`),
    {
      message: (e) => {
        let event;
        try {
          event = JSON.parse(e.data);
        } catch {
          return;
        }
        if (Number.isFinite(event.id)) lastId = event.id;
        for (const fn of [...eventListeners]) {
          try {
            fn(event);
          } catch (err) {
            console.error(err);
          }
        }
      },
    },
  );
}

// Calls onEvent(event object) for each new event of the log until the returned function is
// called. Resumes after the last event seen when the stream reconnects.
export function liveEvents(onEvent) {
  eventListeners.add(onEvent);
  if (lingerTimer) {
    clearTimeout(lingerTimer);
    lingerTimer = null;
  }
  if (!closeEventStream) closeEventStream = openEventStream();
  return () => {
    eventListeners.delete(onEvent);
    if (eventListeners.size || !closeEventStream || lingerTimer) return;
    lingerTimer = setTimeout(() => {
      lingerTimer = null;
      if (eventListeners.size || !closeEventStream) return;
      closeEventStream();
      closeEventStream = null;
    }, LINGER_MS);
  };
}

// Closes the shared streams now (at logout: the next session opens its own).
export function closeSharedStreams() {
  eventListeners.clear();
  if (lingerTimer) clearTimeout(lingerTimer);
  lingerTimer = null;
  if (closeEventStream) closeEventStream();
  closeEventStream = null;
}

// The latest sample of each series whose name starts with `prefix`, about every 2 s:
// onFrame({t_ms, series: [{series, name, labels, t_ms, value}]}).
export function liveMetrics(prefix, onFrame) {
  const url = `/v1/metrics/stream?prefix=${encodeURIComponent(prefix)}`;
  return reconnecting(() => url, {
    metrics: (e) => {
      try {
        onFrame(JSON.parse(e.data));
      } catch {
        // A frame cut short by a dropped connection: the next one comes in 2 s.
      }
    },
  });
}
