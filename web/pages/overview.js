// The overview: the node's health, a card per accelerator with live utilization, memory,
// temperature and power (sparklines of the last 15 minutes, then the metric stream), the
// job counts and the latest incidents. Each part draws as soon as its own data arrives.

import { api } from '../api.js';
import { sparkline } from '../charts.js';
import { h, put } from '../dom.js';
import { bytes, duration, number, percent, time } from '../format.js';
import { has, t, tx } from '../i18n.js';
import { liveEvents, liveMetrics } from '../streams.js';
import { errorBox, facts, jobLink, loading, pageTitle, section, severityBadge, statusBadge } from '../ui.js';

const WINDOW_MS = 15 * 60 * 1000;
// Incidents asked for: the count shows up to this many ("100+" beyond), the list the first 5.
const INCIDENT_LIMIT = 100;
const M = {
  util: 'aion_gpu_utilization_ratio',
  memUsed: 'aion_gpu_memory_used_bytes',
  memTotal: 'aion_gpu_memory_total_bytes',
  temp: 'aion_gpu_temperature_celsius',
  power: 'aion_gpu_power_watts',
  powerLimit: 'aion_gpu_power_limit_watts',
  lost: 'aion_gpu_lost',
};

// The key that ties an accelerator of the inventory to its metric series: the PCI address
// (what both carry), else the index.
function keyOf(pci, index) {
  return pci ? String(pci).toLowerCase() : `#${index}`;
}

function seriesKey(labels) {
  return keyOf(labels?.pci, labels?.gpu);
}

// "NVIDIA A100-SXM4-80GB" -> "A100-SXM4-80GB": the vendor is said once, on its own line.
function shortModel(model, vendorName) {
  const m = String(model || '');
  const v = String(vendorName || '');
  return v && m.toLowerCase().startsWith(v.toLowerCase() + ' ') ? m.slice(v.length + 1) : m;
}

class GpuCard {
  constructor(acc) {
    this.acc = acc;
    this.values = {};
    this.util = [];
    this.power = [];
    const title = `${String(acc.kind || 'gpu').toUpperCase()} ${acc.index}`;
    this.utilText = h('span', { class: 'big', 'data-testid': 'gpu-util' }, '\u2014');
    this.utilSpark = sparkline({ label: t('overview.gpu.util_history'), width: 200, height: 36 });
    this.powerSpark = sparkline({ label: t('overview.gpu.power_history'), width: 200, height: 24 });
    this.powerSpark.dataset.testid = 'gpu-power-spark';
    this.memText = h('span', { 'data-testid': 'gpu-mem' }, '\u2014');
    this.memBar = h('span', { class: 'bar-fill' });
    this.tempText = h('span', { 'data-testid': 'gpu-temp' }, '\u2014');
    this.powerText = h('span', { 'data-testid': 'gpu-power' }, '\u2014');
    this.jobs = h('span', { 'data-testid': 'gpu-jobs' }, t('overview.gpu.idle'));
    this.stateBadge = h('span', { class: 'badge check-ok', 'data-testid': 'gpu-state' }, t('overview.gpu.ok'));
    this.el = h(
      'article',
      {
        class: 'gpu-card',
        'data-testid': 'gpu-card',
        'data-gpu': acc.index,
        'data-pci': acc.pci?.address || '',
        'aria-label': title,
      },
      h('header', null, h('h3', null, title, ' ', this.stateBadge), h('p', { class: 'model' }, shortModel(acc.model, acc.vendor_name))),
      h('p', { class: 'muted small' }, acc.pci?.address || '', ' \u00b7 ', t('overview.gpu.numa', { n: acc.numa_node ?? '?' })),
      h('div', { class: 'util' }, this.utilText, ' ', h('span', { class: 'muted' }, t('overview.gpu.util'))),
      this.utilSpark,
      facts([
        [t('overview.gpu.memory'), h('span', null, this.memText, h('span', { class: 'meter-bar', 'aria-hidden': 'true' }, this.memBar))],
        [t('overview.gpu.temperature'), this.tempText],
        [t('overview.gpu.power'), h('span', null, this.powerText, this.powerSpark)],
        [t('overview.gpu.jobs'), this.jobs],
      ]),
    );
  }

  // One sample of one of the card's series.
  set(name, v, tMs) {
    this.values[name] = v;
    if (name === M.util) pushPoint(this.util, tMs, v);
    if (name === M.power) pushPoint(this.power, tMs, v);
  }

  draw(now = Date.now()) {
    const v = this.values;
    this.utilText.textContent = percent(v[M.util]);
    const total = v[M.memTotal] ?? this.acc.memory_bytes;
    this.memText.textContent = t('overview.gpu.mem_of', { used: bytes(v[M.memUsed]), total: bytes(total) });
    this.memBar.style.width = total ? `${Math.min(100, (100 * (v[M.memUsed] || 0)) / total).toFixed(1)}%` : '0%';
    this.tempText.textContent = v[M.temp] === undefined ? '\u2014' : `${number(v[M.temp])} \u00b0C`;
    this.powerText.textContent =
      v[M.power] === undefined
        ? '\u2014'
        : v[M.powerLimit]
          ? t('overview.gpu.power_of', { w: number(v[M.power]), limit: number(v[M.powerLimit]) })
          : `${number(v[M.power])} W`;
    const lost = v[M.lost] > 0 || this.acc.state === 'lost';
    this.stateBadge.className = `badge ${lost ? 'check-fail' : 'check-ok'}`;
    this.stateBadge.textContent = lost ? t('overview.gpu.lost') : t('overview.gpu.ok');
    this.utilSpark.update(this.util, { min: 0, max: 1, now, windowMs: WINDOW_MS });
    this.powerSpark.update(this.power, { min: 0, max: v[M.powerLimit] || null, now, windowMs: WINDOW_MS });
  }

  setJobs(jobs) {
    put(
      this.jobs,
      jobs.length
        ? jobs.map((j, i) => [i ? ', ' : '', jobLink(j.id)])
        : t('overview.gpu.idle'),
    );
  }
}

// Appends a sample unless it is not newer than the last one, and forgets what left the window.
function pushPoint(list, tMs, v) {
  if (!Number.isFinite(tMs) || !Number.isFinite(v)) return;
  if (list.length && list[list.length - 1][0] >= tMs) return;
  list.push([tMs, v]);
  const from = tMs - WINDOW_MS - 60000;
  while (list.length && list[0][0] < from) list.shift();
}

function doctorSummary(doc) {
  const counts = {};
  for (const c of doc.checks || []) counts[c.status] = (counts[c.status] || 0) + 1;
  const problems = (doc.checks || []).filter((c) => c.status === 'fail' || c.status === 'warn');
  return [
    h(
      'p',
      null,
      h('span', { 'data-testid': 'doctor-status' }, statusBadge(doc.status)),
      ' ',
      h(
        'span',
        { class: 'muted' },
        ['ok', 'warn', 'fail', 'skip']
          .filter((k) => counts[k])
          .map((k) => t(`doctor.count.${k}`, { n: counts[k] }))
          .join(' \u00b7 '),
      ),
    ),
    problems.length
      ? h(
          'ul',
          { class: 'checks' },
          problems.slice(0, 6).map((c) =>
            h(
              'li',
              null,
              statusBadge(c.status),
              ' ',
              h('strong', null, c.subject || c.name),
              ': ',
              c.found,
              c.action ? h('span', { class: 'muted' }, ' \u2014 ', c.action) : null,
            ),
          ),
        )
      : null,
  ];
}

function healthSection(statusP, snapP, ctx) {
  const body = h('div', { 'data-testid': 'node-health' }, loading());
  const doctorBox = h('div', { class: 'doctor', 'data-testid': 'doctor' });
  Promise.all([statusP, snapP]).then(
    ([status, snap]) => {
      if (!ctx.alive()) return;
      const inv = snap?.inventory || {};
      const started = Date.now() - (status.uptime_seconds || 0) * 1000;
      const uptime = h('span', { 'data-testid': 'node-uptime' }, duration(status.uptime_seconds));
      const timer = setInterval(() => {
        uptime.textContent = duration((Date.now() - started) / 1000);
      }, 1000);
      ctx.onCleanup(() => clearInterval(timer));
      put(
        body,
        facts([
          [t('overview.host'), inv.hostname || '\u2014', 'node-hostname'],
          [t('overview.kernel'), inv.kernel || '\u2014', 'node-kernel'],
          [t('overview.cpu'), inv.cpu ? `${inv.cpu.model} \u00d7 ${inv.cpu.sockets}` : '\u2014'],
          [t('overview.memory'), inv.memory ? bytes(inv.memory.total_bytes) : '\u2014'],
          [t('overview.daemon'), `aiond ${status.version} \u00b7 ${has(`daemon.${status.state}`) ? t(`daemon.${status.state}`) : status.state}`, 'node-state'],
          [t('overview.uptime'), uptime],
        ]),
      );
    },
    (err) => ctx.alive() && put(body, errorBox(err)),
  );
  // The checks run on demand: they query every device now, which is not what a page that
  // refreshes itself should do on each visit.
  const runDoctor = async () => {
    button.disabled = true;
    put(doctorResult, loading());
    try {
      const doc = await api('/v1/doctor', { signal: ctx.signal });
      if (ctx.alive()) put(doctorResult, doctorSummary(doc));
    } catch (err) {
      if (err.name !== 'AbortError' && ctx.alive()) put(doctorResult, errorBox(err));
    } finally {
      button.disabled = false;
    }
  };
  const button = h('button', { type: 'button', 'data-testid': 'doctor-run', onclick: runDoctor }, t('overview.doctor_run'));
  const doctorResult = h('div', { 'aria-live': 'polite', 'data-testid': 'doctor-result' });
  put(doctorBox, h('div', { class: 'actions' }, h('span', null, t('overview.doctor')), button), doctorResult);
  return section(t('overview.health'), { 'data-testid': 'health-section' }, body, doctorBox);
}

export async function render(ctx) {
  const { root, signal } = ctx;
  const q = (path, query) => api(path, { query, signal });
  const statusP = q('/v1/status');
  const snapP = q('/v1/hw/snapshot');
  const latestP = q('/v1/metrics', { match: '{gpu!=""}' });
  const schedP = q('/v1/sched');
  const runningP = q('/v1/jobs', { state: 'running' });
  const incidentsP = q('/v1/incidents', { limit: INCIDENT_LIMIT, state: 'open' });
  const utilP = q('/v1/metrics/query', { q: M.util, since: '15m', step: '15s', agg: 'avg' });
  const powerP = q('/v1/metrics/query', { q: M.power, since: '15m', step: '15s', agg: 'avg' });
  for (const p of [statusP, snapP, latestP, schedP, runningP, incidentsP, utilP, powerP]) p.catch(() => {});

  const cardsBox = h('div', { class: 'gpu-grid', 'data-testid': 'gpu-cards', 'aria-busy': 'true' }, loading());
  const countsBox = h('div', { class: 'counts' });
  const incidentsBox = h('div', { 'data-testid': 'incident-list' }, loading());
  root.append(
    pageTitle(t('nav.overview')),
    h(
      'div',
      { class: 'overview-top' },
      healthSection(statusP, snapP, ctx),
      section(t('overview.jobs'), { 'data-testid': 'jobs-section' }, countsBox),
      section(t('overview.incidents'), { 'data-testid': 'incidents-section' }, incidentsBox),
    ),
    section(t('overview.accelerators'), { 'data-testid': 'gpu-section' }, cardsBox),
  );

  // ---- accelerator cards ----
  const cards = new Map();
  let schedGpus = [];
  const drawCards = () => {
    const now = Date.now();
    for (const c of cards.values()) c.draw(now);
  };
  const [snap, latest] = await Promise.all([snapP, latestP.catch(() => ({ series: [] }))]).catch((err) => {
    put(cardsBox, errorBox(err));
    throw err;
  });
  if (!ctx.alive()) return;
  const accs = snap?.inventory?.accelerators || [];
  for (const acc of accs) cards.set(keyOf(acc.pci?.address, acc.index), new GpuCard(acc));
  if (!cards.size) {
    put(cardsBox, h('p', { class: 'empty', 'data-testid': 'gpu-cards-empty' }, t('overview.no_accelerators')));
  } else {
    for (const s of latest.series || []) cards.get(seriesKey(s.labels))?.set(s.name, s.value, s.t_ms);
    drawCards();
    put(cardsBox, [...cards.values()].map((c) => c.el));
  }
  cardsBox.setAttribute('aria-busy', 'false');
  cardsBox.dataset.ready = 'true';
  // For measuring how long the overview takes to show its cards (the browser test reads it).
  performance.mark('aion-gpu-cards');

  // History for the sparklines, then the live stream on top of it.
  Promise.all([utilP, powerP]).then(
    ([util, power]) => {
      if (!ctx.alive()) return;
      for (const [res, list] of [[util, 'util'], [power, 'power']]) {
        for (const sr of res.result || []) {
          const card = cards.get(seriesKey(sr.labels));
          if (!card) continue;
          const live = card[list];
          const firstLive = live.length ? live[0][0] : Infinity;
          const older = (sr.points || []).filter(([tm]) => tm < firstLive);
          card[list] = older.concat(live);
        }
      }
      drawCards();
    },
    () => {},  // no history yet (a fresh daemon): the stream fills the lines
  );
  if (cards.size) {
    let frames = 0;
    ctx.onCleanup(
      liveMetrics('aion_gpu_', (frame) => {
        for (const s of frame.series || []) cards.get(seriesKey(s.labels))?.set(s.name, s.value, s.t_ms);
        frames += 1;
        cardsBox.dataset.frames = String(frames);
        drawCards();
      }),
    );
  }

  // ---- jobs and incidents, redrawn on events and every 10 s (a job's start logs no event) ----
  const drawCounts = async (sp = q('/v1/sched'), rp = q('/v1/jobs', { state: 'running' })) => {
    const [sched, running] = await Promise.all([sp, rp]);
    if (!ctx.alive()) return;
    schedGpus = sched.gpus || [];
    put(
      countsBox,
      facts([
        [t('overview.running'), h('a', { href: '#/jobs', 'data-testid': 'jobs-running' }, number(sched.running))],
        [t('overview.pending'), h('a', { href: '#/jobs', 'data-testid': 'jobs-pending' }, number(sched.pending))],
        [t('overview.held'), sched.held ? t('common.yes') : t('common.no')],
        [t('overview.isolation'), sched.isolation || '\u2014'],
      ]),
    );
    const byGpu = new Map();
    for (const j of running.jobs || []) {
      for (const idx of j.allocation?.gpus || []) {
        const pci = schedGpus[idx]?.pci_address;
        const key = keyOf(pci, idx);
        if (!byGpu.has(key)) byGpu.set(key, []);
        byGpu.get(key).push(j);
      }
    }
    for (const [key, card] of cards) card.setJobs(byGpu.get(key) || []);
  };
  const drawIncidents = async (p = q('/v1/incidents', { limit: INCIDENT_LIMIT, state: 'open' })) => {
    let list;
    try {
      list = (await p).incidents || [];
    } catch (err) {
      if (ctx.alive()) put(incidentsBox, errorBox(err));
      return;
    }
    if (!ctx.alive()) return;
    put(
      incidentsBox,
      h(
        'p',
        null,
        tx('overview.incident_count', {
          n: h('span', { 'data-testid': 'incident-count' }, list.length >= INCIDENT_LIMIT ? `${INCIDENT_LIMIT}+` : String(list.length)),
        }),
      ),
      list.length
        ? h(
            'ul',
            { class: 'incident-list' },
            list.slice(0, 5).map((i) =>
              h(
                'li',
                { 'data-testid': 'incident-item' },
                severityBadge(i.severity),
                ' ',
                h('a', { href: `#/incidents/${i.id}` }, i.title),
                h('span', { class: 'muted small' }, ' \u00b7 ', time(i.updated_ms)),
              ),
            ),
          )
        : h('p', { class: 'muted' }, t('overview.no_incidents')),
      h('p', null, h('a', { href: '#/incidents?state=all' }, t('overview.all_incidents'))),
    );
  };
  drawCounts(schedP, runningP).catch((err) => ctx.alive() && put(countsBox, errorBox(err)));
  drawIncidents(incidentsP);
  const poll = setInterval(() => drawCounts().catch(() => {}), 10000);
  ctx.onCleanup(() => clearInterval(poll));
  ctx.onCleanup(
    liveEvents((e) => {
      if (e.kind === 'job') drawCounts().catch(() => {});
      if (e.kind === 'incident' || e.kind === 'gpu') drawIncidents();
    }),
  );
}
