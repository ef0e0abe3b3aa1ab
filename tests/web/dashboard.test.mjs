// Drives aiond's web dashboard in headless Chromium against a running daemon: logs in through
// the form, visits every page and checks it shows real data, submits and cancels a job,
// checks what a viewer may not do, watches a live metric change, switches language, and
// attacks the page (planted HTML in job and incident texts, cross-site requests from another
// origin). It measures the overview (bytes transferred, time until the GPU cards show),
// saves screenshots and writes a JSON report. Exits 0 when every check passed, 1 when one
// failed, 2 when it is misconfigured, 77 when Chromium is missing (the caller skips).
//
// Configuration comes from the environment (see README.md): AION_URL, AION_OPERATOR_TOKEN,
// AION_VIEWER_TOKEN, AION_ADMIN_TOKEN, AION_RUN_AS, AION_XSS_JOB_ID, AION_XSS_INCIDENT_ID,
// AION_SCREENSHOTS, AION_REPORT, CHROMIUM.

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';

import puppeteer from 'puppeteer-core';

// ---- configuration ----

const env = process.env;
const config = {
  url: (env.AION_URL || '').replace(/\/+$/, ''),
  operator: env.AION_OPERATOR_TOKEN || '',
  viewer: env.AION_VIEWER_TOKEN || '',
  admin: env.AION_ADMIN_TOKEN || '',
  runAs: env.AION_RUN_AS || '',
  xssJob: env.AION_XSS_JOB_ID || '',
  xssIncident: env.AION_XSS_INCIDENT_ID || '',
  shots: env.AION_SCREENSHOTS || '',
  report: env.AION_REPORT || '',
  chromium: env.CHROMIUM || '/usr/bin/chromium',
};
const EXPECTED_GPUS = Number(env.AION_EXPECT_GPUS || 8);
const WAIT_MS = Number(env.AION_WAIT_MS || 15000);

function misconfigured(message) {
  console.error(`dashboard test: ${message}`);
  process.exit(2);
}
if (!config.url) misconfigured('AION_URL is not set (e.g. http://127.0.0.1:7090)');
if (!config.operator) misconfigured('AION_OPERATOR_TOKEN is not set');
if (!config.viewer) misconfigured('AION_VIEWER_TOKEN is not set');
if (!config.runAs) misconfigured('AION_RUN_AS is not set (a user on the operator token\'s run-as list)');
if (!existsSync(config.chromium)) {
  console.log(`dashboard test: skipped: no Chromium at ${config.chromium} (set CHROMIUM)`);
  process.exit(77);
}

// ---- bookkeeping ----

const checks = [];
const screenshots = [];
const report = { url: config.url, started_at: new Date().toISOString() };

// Runs one named check; a failure is recorded and the run goes on, so that one broken page
// does not hide the state of the others. fatal=true stops the run (nothing after can work).
async function check(name, fn, { fatal = false } = {}) {
  const t0 = Date.now();
  try {
    const detail = await fn();
    checks.push({ name, ok: true, ms: Date.now() - t0, ...(detail !== undefined ? { detail } : {}) });
    console.log(`  ok    ${name}`);
    return detail;
  } catch (err) {
    checks.push({ name, ok: false, ms: Date.now() - t0, error: String(err?.message || err) });
    console.log(`  FAIL  ${name}: ${err?.message || err}`);
    if (fatal) throw new Error(`stopping: "${name}" failed, the checks after it depend on it`);
    return undefined;
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function shot(page, name) {
  if (!config.shots) return;
  const file = path.join(config.shots, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  screenshots.push(file);
}

// The API as a script sees it: a bearer token, no cookie.
async function api(token, method, urlPath, body) {
  const res = await fetch(config.url + urlPath, {
    method,
    headers: {
      Authorization: `Bearer ${token}`,
      ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
    },
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    // Not JSON; the status says enough.
  }
  return { status: res.status, json, text };
}

async function jobsVisibleTo(token) {
  const r = await api(token, 'GET', '/v1/jobs?limit=1000');
  assert.equal(r.status, 200, `GET /v1/jobs: ${r.text}`);
  return r.json.jobs;
}

// ---- browser helpers ----

let browser;

// A fresh browser context (its own cookies) with a page that records script errors and
// Content-Security-Policy violations: either one fails the run at the end.
const problems = [];
async function newPage(label, viewport = { width: 1280, height: 800 }) {
  const context = await browser.createBrowserContext();
  const page = await context.newPage();
  await page.setViewport(viewport);
  page.setDefaultTimeout(WAIT_MS);
  page.on('pageerror', (err) => problems.push(`${label}: script error: ${err.message}`));
  page.on('console', (msg) => {
    if (/Content Security Policy/i.test(msg.text())) problems.push(`${label}: ${msg.text()}`);
  });
  await page.evaluateOnNewDocument(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      (window.__cspViolations ||= []).push(`${e.violatedDirective} ${e.blockedURI}`);
    });
  });
  return { context, page };
}

async function cspViolations(page) {
  return page.evaluate(() => window.__cspViolations || []).catch(() => []);
}

async function go(page, hash) {
  await page.evaluate((h) => {
    location.hash = h;
  }, hash);
  await page.waitForFunction(
    (h) => {
      const main = document.getElementById('main');
      const want = h.split('/')[1].split('?')[0];
      const shown = main && main.querySelector('.page');
      return main && main.dataset.page === want && shown && shown.dataset.ready === 'true';
    },
    {},
    hash,
  );
}

async function text(page, selector) {
  return page.$eval(selector, (el) => el.textContent.trim());
}

async function count(page, selector) {
  return page.$$eval(selector, (els) => els.length);
}

async function loginThroughForm(page, token, expectedRole) {
  await page.goto(`${config.url}/`, { waitUntil: 'domcontentloaded' });
  await page.waitForSelector('[data-testid=login-form]');
  await page.type('[data-testid=login-token]', token);
  await page.click('[data-testid=login-submit]');
  await page.waitForSelector('[data-testid=user-role]');
  const role = await page.$eval('[data-testid=user-role]', (el) => el.dataset.role);
  assert.equal(role, expectedRole, `logged in as ${role}, expected ${expectedRole}`);
  await page.waitForSelector('[data-testid=gpu-cards][data-ready=true]');
  return role;
}

// ---- the evil origin: another port of the same host, so the session cookie (SameSite=Strict
// is per site, not per origin) goes along with its requests ----

function startEvilServer(target) {
  const formPage = (action, field, value) => `<!doctype html><meta charset="utf-8">
<title>evil</title>
<form id="f" method="POST" action="${action}" enctype="text/plain">
<input type="hidden" name='${field}' value='${value}'>
</form>
<script>document.getElementById('f').submit();</script>`;
  const server = http.createServer((req, res) => {
    const u = new URL(req.url, 'http://evil');
    const jobId = u.searchParams.get('job') || '0';
    let body;
    // enctype=text/plain sends "name=value": the name carries the JSON up to a string that
    // the "=" and the value close, so the server would see a valid job if it let it in.
    const job = `{"command":["sleep","300"],"user":${JSON.stringify(config.runAs)},"name":"csrf-evil-form`;
    if (u.pathname === '/form-submit') body = formPage(`${target}/v1/jobs`, job, 'x"}');
    else if (u.pathname === '/form-cancel') body = formPage(`${target}/v1/jobs/${jobId}/cancel`, '{"a":"', 'b"}');
    else if (u.pathname === '/form-login') body = formPage(`${target}/v1/session`, '{"token":"', `${u.searchParams.get('token')}"}`);
    else if (u.pathname === '/fetch') {
      body = `<!doctype html><meta charset="utf-8"><title>evil</title><script>
const t = ${JSON.stringify(target)};
const job = JSON.stringify({command: ["sleep", "300"], user: ${JSON.stringify(config.runAs)}, name: "csrf-evil-fetch"});
Promise.allSettled([
  fetch(t + "/v1/jobs", {method: "POST", mode: "no-cors", credentials: "include", headers: {"Content-Type": "text/plain"}, body: job}),
  fetch(t + "/v1/jobs/${jobId}/cancel", {method: "POST", mode: "no-cors", credentials: "include", body: "{}"}),
]).then(() => { document.title = "sent"; });
</script>`;
    } else {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' }).end(body);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

// ---- the checks ----

async function measureOverview() {
  // A context whose cookie comes from an API login, so that the load measured is the
  // overview's alone, from a cold cache.
  const login = await fetch(`${config.url}/v1/session`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ token: config.operator }),
  });
  assert.equal(login.status, 200, `POST /v1/session answered ${login.status}`);
  const cookie = (login.headers.get('set-cookie') || '').split(';')[0];
  const [name, ...rest] = cookie.split('=');
  assert.ok(name && rest.length, 'POST /v1/session set no cookie');
  const { context, page } = await newPage('measure');
  await page.setCookie({ name, value: rest.join('='), url: config.url, httpOnly: true, sameSite: 'Strict' });
  const cdp = await page.createCDPSession();
  await cdp.send('Network.enable');
  await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
  const urls = new Map();
  const sizes = [];
  cdp.on('Network.responseReceived', (e) => urls.set(e.requestId, e.response.url));
  cdp.on('Network.loadingFinished', (e) => sizes.push({ id: e.requestId, bytes: e.encodedDataLength }));
  await page.goto(`${config.url}/#/overview`, { waitUntil: 'domcontentloaded' });
  await page.waitForSelector('[data-testid=gpu-cards][data-ready=true]');
  const timing = await page.evaluate(() => {
    const mark = performance.getEntriesByName('aion-gpu-cards')[0];
    const nav = performance.getEntriesByType('navigation')[0];
    return {
      gpu_cards_ms: mark ? Math.round(mark.startTime) : null,
      dom_content_loaded_ms: nav ? Math.round(nav.domContentLoadedEventEnd) : null,
    };
  });
  await sleep(500);  // let the last responses finish so that their bytes are counted
  let assets = 0;
  let apiBytes = 0;
  const files = [];
  for (const { id, bytes } of sizes) {
    const u = urls.get(id) || '';
    const p = u.startsWith(config.url) ? u.slice(config.url.length) : u;
    if (p.startsWith('/v1/')) apiBytes += bytes;
    else {
      assets += bytes;
      files.push({ path: p, bytes });
    }
  }
  const cards = await count(page, '[data-testid=gpu-card]');
  await context.close();
  const result = {
    transferred_bytes: assets + apiBytes,
    asset_bytes: assets,
    api_bytes: apiBytes,
    requests: sizes.length,
    assets: files,
    gpu_cards: cards,
    ...timing,
  };
  report.overview = result;
  // The two numbers the C++ wrapper bounds: everything the load transferred, files and API
  // answers alike, and the time from navigation start until the GPU cards were drawn.
  report.overview_bytes = result.transferred_bytes;
  report.overview_render_ms = timing.gpu_cards_ms;
  assert.ok(timing.gpu_cards_ms !== null, 'the overview never marked its GPU cards as drawn');
  assert.ok(assets < 500 * 1024, `the overview's files weigh ${assets} bytes (limit 500 KiB)`);
  assert.ok(timing.gpu_cards_ms < 1000, `the GPU cards took ${timing.gpu_cards_ms} ms (limit 1000)`);
  return { asset_bytes: assets, api_bytes: apiBytes, gpu_cards_ms: timing.gpu_cards_ms };
}

async function checkPages(page) {
  await check('overview shows a card per GPU with live values', async () => {
    await go(page, '#/overview');
    await page.waitForFunction((n) => document.querySelectorAll('[data-testid=gpu-card]').length >= n, {}, EXPECTED_GPUS);
    const cards = await page.$$eval('[data-testid=gpu-card]', (els) =>
      els.map((c) => ({
        model: c.querySelector('.model')?.textContent || '',
        util: c.querySelector('[data-testid=gpu-util]')?.textContent || '',
        mem: c.querySelector('[data-testid=gpu-mem]')?.textContent || '',
      })),
    );
    assert.equal(cards.length, EXPECTED_GPUS, `${cards.length} GPU cards`);
    for (const c of cards) {
      assert.match(c.model, /A100/, `a card's model is "${c.model}"`);
      assert.match(c.util, /\d+%/, `a card's utilization is "${c.util}"`);
      assert.match(c.mem, /GiB/, `a card's memory is "${c.mem}"`);
    }
    const host = await text(page, '[data-testid=node-hostname]');
    assert.ok(host && host !== '—', 'no hostname in the node health');
    await page.waitForSelector('[data-testid=jobs-running]');
    await page.waitForSelector('[data-testid=incident-count]');
    await shot(page, 'overview');
    return { cards: cards.length, host };
  });

  await check('topology draws the GPUs, switches and NVLink to the NVSwitch', async () => {
    await go(page, '#/topology');
    await page.waitForSelector('[data-testid=topology-svg]');
    const gpus = await count(page, '[data-testid=topology-svg] [data-testid=topo-gpu]');
    const nvlinks = await count(page, '[data-testid=topo-link][data-kind=nvlink][data-peer=nvswitch]');
    const switches = await count(page, '[data-testid=topo-switch]');
    const numa = await count(page, '[data-testid=topo-numa]');
    const rows = await count(page, '[data-testid=topo-table] tbody tr');
    assert.equal(gpus, EXPECTED_GPUS, `${gpus} GPU boxes`);
    assert.ok(nvlinks >= EXPECTED_GPUS, `${nvlinks} NVLink lines to the NVSwitch`);
    assert.ok(switches >= 1, 'no PCIe switch drawn');
    assert.ok(rows >= EXPECTED_GPUS, `the device table has ${rows} rows`);
    await page.waitForSelector('[data-testid=topo-legend]');
    await shot(page, 'topology');
    return { gpus, nvlinks, switches, numa, rows };
  });

  await check('jobs page shows its tables', async () => {
    await go(page, '#/jobs');
    await page.waitForSelector('[data-testid=submit-form]');
    for (const t of ['pending', 'running', 'finished']) {
      await page.waitForSelector(`[data-testid=jobs-table-${t}], [data-testid=jobs-table-${t}-empty]`);
    }
    await shot(page, 'jobs');
  });

  await check('metrics explorer draws a chart', async () => {
    await go(page, '#/metrics?name=aion_gpu_utilization_ratio&range=15m&agg=avg');
    await page.waitForSelector('[data-testid=metric-chart-line]');
    const paths = await page.$$eval('[data-testid=metric-chart-line]', (els) => els.map((e) => e.getAttribute('d') || ''));
    assert.ok(paths.length >= 1, 'no line in the chart');
    assert.ok(paths.some((d) => /^M[\d.]+,[\d.]+(L|$)/.test(d)), `the lines have no points: ${paths[0]}`);
    await page.waitForSelector('[data-testid=metric-legend] li');
    await shot(page, 'metrics');
    return { lines: paths.length };
  });

  await check('incidents page lists incidents', async () => {
    await go(page, '#/incidents');
    await page.waitForSelector('[data-testid=incidents-table], [data-testid=incidents-table-empty]');
    const rows = await count(page, '[data-testid=incident-row]');
    await shot(page, 'incidents');
    return { rows };
  });

  await check('environment plans PyTorch with a Dockerfile', async () => {
    await go(page, '#/environment?framework=pytorch');
    await page.waitForSelector('[data-testid=env-dockerfile], [data-testid=env-error]');
    const error = await page.$('[data-testid=env-error]');
    if (error) throw new Error(`the plan failed: ${await text(page, '[data-testid=env-error]')}`);
    const dockerfile = await page.$eval('[data-testid=env-dockerfile]', (el) => el.textContent);
    const first = dockerfile.split('\n').find((l) => l.trim() && !l.trim().startsWith('#')) || '';
    assert.match(first, /^FROM \S+/, `the Dockerfile's first instruction is "${first}"`);
    await page.waitForSelector('[data-testid=env-summary]');
    await shot(page, 'environment');
    return { from: first };
  });

  await check('copilot answers with sources', async () => {
    await go(page, '#/copilot');
    await page.type('[data-testid=ask-question]', 'Which GPUs share an NVLink domain?');
    await page.click('[data-testid=ask-submit]');
    await page.waitForSelector('[data-testid=ask-answer][data-done=true]', { timeout: 30000 });
    const errorBox = await page.$('[data-testid=ask-error]');
    if (errorBox) throw new Error(`the copilot failed: ${await text(page, '[data-testid=ask-error]')}`);
    const answer = await text(page, '[data-testid=ask-answer]');
    const sources = await count(page, '[data-testid=ask-sources] li');
    assert.ok(answer.length > 10, `the answer is "${answer}"`);
    assert.ok(sources >= 1, 'no source listed');
    await shot(page, 'copilot');
    return { answer: answer.slice(0, 120), sources };
  });

  await check('guard page lists sandboxed jobs', async () => {
    await go(page, '#/guard');
    await page.waitForSelector('[data-testid=guard-jobs], [data-testid=guard-jobs-empty]');
    await shot(page, 'guard');
  });

  await check('pipelines page shows a run with its stages and artifacts', async () => {
    await go(page, '#/pipelines');
    await page.waitForSelector('[data-testid=pipeline-row]', { timeout: 15000 });
    await page.waitForSelector('[data-testid=pipeline-stage]', { timeout: 15000 });
    const stages = await page.$$eval('[data-testid=pipeline-stage]', (rows) => rows.map((r) => `${r.dataset.stage}:${r.dataset.state}`));
    assert.ok(stages.includes('prepare:succeeded') && stages.includes('train:succeeded'), `stages: ${stages.join(', ')}`);
    const artifacts = await count(page, '[data-testid=pipeline-artifacts] tbody tr');
    assert.ok(artifacts >= 2, `${artifacts} artifacts listed`);
    await shot(page, 'pipelines');
    return { stages, artifacts };
  });
}

async function submitAndCancel(page) {
  const name = `web-test-${Date.now()}`;
  await check('a form field focused while the page loads keeps its focus', async () => {
    await go(page, '#/overview');
    // Hold the queue's answer back so that the field is surely focused before the page is
    // done: a slow daemon or network makes the same window.
    let release;
    const held = new Promise((r) => (release = r));
    const hold = (request) => {
      if (request.isInterceptResolutionHandled()) return;
      if (new URL(request.url()).pathname === '/v1/queue') held.then(() => request.continue());
      else request.continue();
    };
    await page.setRequestInterception(true);
    page.on('request', hold);
    try {
      await page.evaluate(() => {
        location.hash = '#/jobs';
      });
      await page.waitForSelector('[data-testid=submit-command]');
      await page.focus('[data-testid=submit-command]');
      release();
      await page.waitForFunction(() => document.querySelector('#main .page')?.dataset.ready === 'true');
    } finally {
      release();
      page.off('request', hold);
      await page.setRequestInterception(false);
    }
    const focused = await page.evaluate(() => document.activeElement?.dataset?.testid || document.activeElement?.tagName);
    assert.equal(focused, 'submit-command', 'the heading took the focus from the field being typed in');
  });
  const id = await check('a job submitted through the form shows up running', async () => {
    await go(page, '#/jobs');
    await page.type('[data-testid=submit-command]', 'sleep 30');
    await page.type('[data-testid=submit-name]', name);
    const userTag = await page.$eval('[data-testid=submit-user]', (el) => el.tagName);
    if (userTag === 'SELECT') await page.select('[data-testid=submit-user]', config.runAs);
    else await page.type('[data-testid=submit-user]', config.runAs);
    await page.$eval('[data-testid=submit-gpus]', (el) => {
      el.value = '1';
    });
    await page.click('[data-testid=submit-button]');
    await page.waitForSelector('[data-testid=submit-result], [data-testid=submit-error]');
    const refused = await page.$('[data-testid=submit-error]');
    if (refused) throw new Error(`the submit was refused: ${await text(page, '[data-testid=submit-error]')}`);
    const jobId = await page.$eval('[data-testid=submit-result]', (el) => el.dataset.jobId);
    await page.waitForSelector(`[data-testid=jobs-table-running] [data-job-id="${jobId}"][data-state=running]`, { timeout: 20000 });
    return jobId;
  });
  if (!id) return;
  await check('cancelling it from its page turns it cancelled', async () => {
    await go(page, `#/jobs/${id}`);
    await page.waitForSelector('[data-testid=job-cancel]');
    await shot(page, 'job-detail');
    await page.click('[data-testid=job-cancel]');
    await page.waitForSelector('[data-testid=job-cancel-result], [data-testid=job-action-error]');
    const refused = await page.$('[data-testid=job-action-error]');
    if (refused) throw new Error(`the cancel was refused: ${await text(page, '[data-testid=job-action-error]')}`);
    await page.waitForSelector(`[data-testid=job-detail][data-state=cancelled]`, { timeout: 20000 });
    await go(page, '#/jobs');
    await page.waitForSelector(`[data-testid=jobs-table-finished] [data-job-id="${id}"][data-state=cancelled]`);
    return { job: id };
  });
}

// Runs after the viewer's checks, which need the planted incident open. The GPU's Xid and the
// failed job make one incident or two, depending on which the engine heard first: the newest
// open one is resolved.
async function resolveIncident(page) {
  await check('an operator resolves an incident with a note, and it leaves the open list', async () => {
    await go(page, '#/incidents');
    await page.waitForSelector('[data-testid=incidents-table] [data-testid=incident-row][data-state=open]');
    const open = await page.$$eval('[data-testid=incident-row]', (rows) => rows.map((r) => r.dataset.incidentId));
    const id = open[0];
    await go(page, '#/overview');
    await page.waitForSelector('[data-testid=incident-count]');
    const before = Number(await text(page, '[data-testid=incident-count]'));
    await go(page, `#/incidents/${id}`);
    await page.waitForSelector('[data-testid=resolve-form]');
    const note = `reseated the riser <b>${Date.now()}</b>`;
    await page.type('[data-testid=resolve-note]', note);
    await page.click('[data-testid=resolve-button]');
    await page.waitForSelector('[data-testid=incident-state][data-state=resolved], [data-testid=resolve-error]');
    const refused = await page.$('[data-testid=resolve-error]');
    if (refused) throw new Error(`the resolve was refused: ${await text(page, '[data-testid=resolve-error]')}`);
    assert.equal(await text(page, '[data-testid=incident-resolution]'), note);
    await page.waitForSelector('[data-testid=timeline-resolved]');
    assert.equal(await count(page, '[data-testid=resolve-form]'), 0, 'the resolve form stays on a resolved incident');
    await shot(page, 'incident-resolved');
    await go(page, '#/incidents');
    await page.waitForSelector('[data-testid=incidents-table], [data-testid=incidents-table-empty]');
    assert.equal(await count(page, `[data-testid=incident-row][data-incident-id="${id}"]`), 0, 'the resolved incident is still listed as open');
    await page.select('[data-testid=incident-filter]', 'resolved');
    await page.waitForSelector(`[data-testid=incident-row][data-incident-id="${id}"][data-state=resolved]`);
    await go(page, '#/overview');
    await page.waitForFunction((n) => Number(document.querySelector('[data-testid=incident-count]')?.textContent) === n, { timeout: 10000 }, before - 1);
    const again = await api(config.operator, 'POST', `/v1/incidents/${id}/resolve`, {});
    assert.equal(again.status, 409, `resolving twice answered ${again.status}: ${again.text}`);
    return { incident: id, open_before: before };
  });
}

async function liveMetric(page) {
  await check('the overview updates a GPU value without a reload', async () => {
    await go(page, '#/overview');
    await page.waitForSelector('[data-testid=gpu-cards][data-ready=true]');
    await page.evaluate(() => {
      window.__sameDocument = true;
    });
    const read = () =>
      page.$$eval('[data-testid=gpu-card]', (cards) =>
        cards.map((c) => [
          c.querySelector('[data-testid=gpu-util]')?.textContent,
          c.querySelector('[data-testid=gpu-power]')?.textContent,
          c.querySelector('[data-testid=gpu-temp]')?.textContent,
          c.querySelector('[data-testid=gpu-spark] [data-testid=spark-path]')?.getAttribute('d'),
        ].join('|')),
      );
    const before = await read();
    const frames0 = await page.$eval('[data-testid=gpu-cards]', (el) => Number(el.dataset.frames || 0));
    let after = before;
    const deadline = Date.now() + 20000;
    while (Date.now() < deadline) {
      await sleep(1000);
      after = await read();
      if (after.some((v, i) => v !== before[i])) break;
    }
    const frames1 = await page.$eval('[data-testid=gpu-cards]', (el) => Number(el.dataset.frames || 0));
    const changed = after.filter((v, i) => v !== before[i]).length;
    assert.ok(await page.evaluate(() => window.__sameDocument === true), 'the page reloaded');
    assert.ok(frames1 > frames0, 'no metric frame arrived from /v1/metrics/stream');
    assert.ok(changed > 0, 'no GPU card changed in 20 s');
    return { cards_changed: changed, frames: frames1 - frames0 };
  });
}

async function language(page) {
  await check('switching to 中文 translates the page, and back', async () => {
    await go(page, '#/overview');
    await page.select('[data-testid=lang-select]', 'zh-CN');
    await page.waitForFunction(() => document.documentElement.lang === 'zh-CN' && document.querySelector('[data-testid=page-title]')?.textContent === '概览');
    const nav = await text(page, '[data-testid=nav-jobs]');
    assert.equal(nav, '作业');
    await page.waitForSelector('[data-testid=gpu-cards][data-ready=true]');
    await sleep(300);
    await shot(page, 'overview-zh-CN');
    const stored = await page.evaluate(() => localStorage.getItem('aion.lang'));
    assert.equal(stored, 'zh-CN', 'the choice was not kept');
    await page.select('[data-testid=lang-select]', 'en');
    await page.waitForFunction(() => document.documentElement.lang === 'en' && document.querySelector('[data-testid=page-title]')?.textContent === 'Overview');
    return { zh_nav_jobs: nav };
  });
}

async function phone(page) {
  await check('at phone width the menu collapses and nothing overflows', async () => {
    await page.setViewport({ width: 390, height: 844, isMobile: true, hasTouch: true });
    await go(page, '#/overview');
    await page.waitForSelector('[data-testid=gpu-cards][data-ready=true]');
    const layout = await page.evaluate(() => ({
      toggle: getComputedStyle(document.querySelector('[data-testid=nav-toggle]')).display,
      list: getComputedStyle(document.getElementById('nav-list')).display,
      overflow: document.documentElement.scrollWidth - window.innerWidth,
    }));
    assert.notEqual(layout.toggle, 'none', 'no menu button');
    assert.equal(layout.list, 'none', 'the menu is open at start');
    assert.ok(layout.overflow <= 1, `the overview is ${layout.overflow}px wider than the screen`);
    await shot(page, 'overview-phone');
    await page.click('[data-testid=nav-toggle]');
    const open = await page.$eval('#nav-list', (el) => getComputedStyle(el).display);
    assert.notEqual(open, 'none', 'the menu button does not open the menu');
    await page.click('[data-testid=nav-jobs]');
    await page.waitForSelector('[data-testid=jobs-table-finished], [data-testid=jobs-table-finished-empty]');
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 1, `the jobs page is ${overflow}px wider than the screen (tables must scroll inside)`);
    await shot(page, 'jobs-phone');
    await page.setViewport({ width: 1280, height: 800 });
    return layout;
  });
}

// Planted "<img onerror>" and "<script>" payloads must show as text and never run.
async function xss(page, who) {
  if (config.xssJob) {
    await check(`planted HTML in a job shows as text (${who})`, async () => {
      await go(page, `#/jobs/${config.xssJob}`);
      await page.waitForSelector('[data-testid=job-detail][data-state]');
      await sleep(1000);  // an <img onerror> would fire by now
      const shown = await page.evaluate(() => ({
        name: document.querySelector('[data-testid=job-name]')?.textContent || '',
        command: document.querySelector('[data-testid=job-command]')?.textContent || '',
        log: document.querySelector('[data-testid=job-log]')?.textContent || '',
        imgs: document.querySelectorAll('#main img').length,
        scripts: document.querySelectorAll('#main script').length,
        xss: typeof window.__xss,
      }));
      assert.equal(shown.xss, 'undefined', 'a planted payload ran');
      assert.equal(shown.imgs + shown.scripts, 0, 'a planted payload became an element');
      if (who === 'admin') {
        const all = shown.name + shown.command + shown.log;
        assert.ok(/<img|<script/i.test(all), `the payload is not visible as text (name "${shown.name}")`);
      }
      await go(page, '#/jobs');
      await sleep(500);
      assert.equal(await page.evaluate(() => typeof window.__xss), 'undefined', 'a payload ran on the jobs list');
      if (who === 'admin') await shot(page, 'xss-jobs');
      return { name: shown.name.slice(0, 80) };
    });
  }
  if (config.xssIncident) {
    await check(`planted HTML in an incident shows as text (${who})`, async () => {
      await go(page, `#/incidents/${config.xssIncident}`);
      await page.waitForSelector('[data-testid=incident-title]');
      await sleep(1000);
      const shown = await page.evaluate(() => ({
        text: document.querySelector('[data-testid=incident-detail]')?.textContent + document.querySelector('[data-testid=incident-timeline]')?.textContent,
        imgs: document.querySelectorAll('#main img').length,
        scripts: document.querySelectorAll('#main script').length,
        xss: typeof window.__xss,
      }));
      assert.equal(shown.xss, 'undefined', 'a planted payload ran');
      assert.equal(shown.imgs + shown.scripts, 0, 'a planted payload became an element');
      if (who === 'admin') {
        assert.ok(/<img|<script/i.test(shown.text), 'the payload is not visible as text');
        await shot(page, 'xss-incident');
      }
      for (const hash of ['#/incidents', '#/overview']) {
        await go(page, hash);
        await sleep(500);
        assert.equal(await page.evaluate(() => typeof window.__xss), 'undefined', `a payload ran on ${hash}`);
      }
    });
  }
}

// A POST made by the logged-in page itself, with its session cookie and its CSRF token, as the
// page's own scripts would: what the server answers the role, not the CSRF check.
async function postAsPage(page, urlPath, body) {
  return page.evaluate(
    async (path, text) => {
      const who = await (await fetch('/v1/session')).json();
      const r = await fetch(path, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': who.csrf },
        body: text,
      });
      return { status: r.status, body: await r.text(), csrf: !!who.csrf };
    },
    urlPath,
    body,
  );
}

async function viewer(targetJob) {
  const { context, page } = await newPage('viewer');
  try {
    await check('viewer logs in and sees no submit form', async () => {
      await loginThroughForm(page, config.viewer, 'viewer');
      await go(page, '#/jobs');
      await page.waitForSelector('[data-testid=submit-not-allowed]');
      assert.equal(await count(page, '[data-testid=submit-form]'), 0, 'a viewer sees the submit form');
    });
    if (targetJob) {
      await check('viewer gets no cancel button, and the server refuses a cancel', async () => {
        await go(page, `#/jobs/${targetJob}`);
        await page.waitForSelector('[data-testid=job-detail][data-state]');
        assert.equal(await count(page, '[data-testid=job-cancel]'), 0, 'a viewer sees the cancel button');
        const res = await postAsPage(page, `/v1/jobs/${targetJob}/cancel`, '{}');
        assert.ok(res.csrf, 'GET /v1/session gave the viewer no CSRF token');
        assert.equal(res.status, 403, `a viewer's cancel answered ${res.status}: ${res.body}`);
        assert.match(JSON.parse(res.body).error.message, /\w/, 'the refusal has no message');
        return { refusal: JSON.parse(res.body).error.message };
      });
    }
    if (config.xssIncident) {
      await check('viewer gets no resolve form, and the server refuses a resolve', async () => {
        await go(page, `#/incidents/${config.xssIncident}`);
        await page.waitForSelector('[data-testid=resolve-not-allowed]');
        assert.equal(await count(page, '[data-testid=resolve-form]'), 0, 'a viewer sees the resolve form');
        const res = await postAsPage(page, `/v1/incidents/${config.xssIncident}/resolve`, '{"note":"not mine to close"}');
        assert.equal(res.status, 403, `a viewer's resolve answered ${res.status}: ${res.body}`);
        const still = await api(config.operator, 'GET', `/v1/incidents/${config.xssIncident}`);
        assert.equal(still.json?.state, 'open', 'the incident changed state');
      });
    }
    await check('no script error or blocked resource for the viewer', async () => {
      const v = await cspViolations(page);
      assert.deepEqual(v, [], `CSP violations: ${v.join('; ')}`);
    });
  } finally {
    await context.close();
  }
}

async function csrf(page, targetJob) {
  const evil = await startEvilServer(config.url);
  const evilUrl = `http://127.0.0.1:${evil.address().port}`;
  report.evil_origin = evilUrl;
  try {
    const before = config.admin ? (await jobsVisibleTo(config.admin)).length : (await jobsVisibleTo(config.operator)).length;
    const targetBefore = (await api(config.operator, 'GET', `/v1/jobs/${targetJob}`)).json?.state;
    await check('cross-site form posts and no-cors fetches from another origin change nothing', async () => {
      const attacker = await page.browserContext().newPage();
      // What reached aiond, with or without the cookie, and what it answered (opaque to the
      // attacking page, not to CDP): each request must have arrived with the cookie and been
      // refused, not lost on the way. The cookie is in the "extra info" event, which may come
      // before or after the request's own.
      const cdp = await attacker.createCDPSession();
      await cdp.send('Network.enable');
      const seen = new Map();
      const entry = (id) => {
        if (!seen.has(id)) seen.set(id, { url: null, status: null, cookie: false });
        return seen.get(id);
      };
      cdp.on('Network.requestWillBeSent', (e) => {
        if (e.request.method === 'POST' && e.request.url.startsWith(config.url)) entry(e.requestId).url = e.request.url.slice(config.url.length);
      });
      cdp.on('Network.requestWillBeSentExtraInfo', (e) => {
        const sent = (e.associatedCookies || []).some((c) => c.cookie?.name === 'aion_session' && !(c.blockedReasons || []).length);
        entry(e.requestId).cookie ||= sent || /aion_session=/.test(e.headers?.Cookie || e.headers?.cookie || '');
      });
      cdp.on('Network.responseReceived', (e) => {
        entry(e.requestId).status = e.response.status;
      });
      const answers = () => [...seen.values()].filter((a) => a.url && a.status);
      const waitFor = async (n) => {
        for (let i = 0; i < 50 && answers().length < n; i++) await sleep(100);
        assert.ok(answers().length >= n, `only ${answers().length} of ${n} cross-site requests reached aiond`);
      };
      try {
        const pages = ['/form-submit', `/form-cancel?job=${targetJob}`, `/form-login?token=${encodeURIComponent(config.viewer)}`];
        for (const [i, p] of pages.entries()) {
          await attacker.goto(evilUrl + p, { waitUntil: 'domcontentloaded' });
          await waitFor(i + 1);  // the form posts itself
        }
        await attacker.goto(`${evilUrl}/fetch?job=${targetJob}`, { waitUntil: 'domcontentloaded' });
        await attacker.waitForFunction(() => document.title === 'sent', { timeout: 10000 });
        await waitFor(pages.length + 2);
      } finally {
        await attacker.close();
      }
      await sleep(200);  // the last extra-info events
      const attempts = answers();
      report.csrf_attempts = attempts;
      for (const a of attempts) {
        assert.equal(a.status, 403, `the cross-site POST ${a.url} answered ${a.status}`);
      }
      const bare = attempts.filter((a) => a.url !== '/v1/session' && !a.cookie).map((a) => a.url);
      assert.deepEqual(bare, [], `cross-site request(s) went without the session cookie, so they tested nothing`);
      const token = config.admin || config.operator;
      const jobs = await jobsVisibleTo(token);
      const evilJobs = jobs.filter((j) => /csrf-evil/.test(j.name || '') || /csrf-evil/.test(JSON.stringify(j.spec?.command || '')));
      assert.equal(evilJobs.length, 0, `a cross-site request created job(s) ${evilJobs.map((j) => j.id).join(', ')}`);
      if (config.admin) assert.equal(jobs.length, before, `the job count went from ${before} to ${jobs.length}`);
      // Running, or still queued behind other work: anything but cancelled.
      const target = await api(token, 'GET', `/v1/jobs/${targetJob}`);
      assert.ok(['running', 'pending'].includes(target.json?.state), `the target job went from ${targetBefore} to ${target.json?.state}`);
      // The login form of the evil page must not have swapped the operator's session.
      const who = await page.evaluate(async () => (await fetch('/v1/session')).json());
      assert.equal(who.role, 'operator', `the session is now ${who.role}'s`);
      return { refused: attempts.map((a) => `${a.url} ${a.status}${a.cookie ? ' (with the cookie)' : ''}`) };
    });
    await check('the session cookie without the right X-CSRF-Token is refused', async () => {
      const cdp = await page.createCDPSession();
      const { cookies } = await cdp.send('Network.getCookies', { urls: [config.url] });
      await cdp.detach();
      const session = cookies.find((c) => c.name === 'aion_session');
      assert.ok(session, 'no aion_session cookie in the browser');
      assert.ok(session.httpOnly, 'the session cookie is not HttpOnly');
      assert.equal(session.sameSite, 'Strict', `the session cookie is SameSite=${session.sameSite}`);
      const cookie = `${session.name}=${session.value}`;
      const body = JSON.stringify({ command: ['sleep', '300'], user: config.runAs, name: 'csrf-no-token' });
      const results = {};
      for (const [label, headers] of [
        ['missing', {}],
        ['wrong', { 'X-CSRF-Token': 'deadbeef'.repeat(8) }],
      ]) {
        const res = await fetch(`${config.url}/v1/jobs`, {
          method: 'POST',
          headers: { Cookie: cookie, 'Content-Type': 'application/json', ...headers },
          body,
        });
        results[label] = res.status;
        assert.equal(res.status, 403, `POST /v1/jobs with the cookie and a ${label} X-CSRF-Token answered ${res.status}`);
        const cancel = await fetch(`${config.url}/v1/jobs/${targetJob}/cancel`, {
          method: 'POST',
          headers: { Cookie: cookie, 'Content-Type': 'application/json', ...headers },
          body: '{}',
        });
        assert.equal(cancel.status, 403, `a cancel with the cookie and a ${label} X-CSRF-Token answered ${cancel.status}`);
      }
      // A page of the dashboard's own origin without the header is refused the same way.
      const inPage = await page.evaluate(async (b) => (await fetch('/v1/jobs', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: b })).status, body);
      assert.equal(inPage, 403, `a same-origin POST without the header answered ${inPage}`);
      return { ...results, same_origin_without_header: inPage };
    });
  } finally {
    evil.close();
  }
}

async function logout(page) {
  await check('logging out returns to the login form and ends the session', async () => {
    await page.click('[data-testid=logout]');
    await page.waitForSelector('[data-testid=login-form]');
    const status = await page.evaluate(async () => (await fetch('/v1/session')).status);
    assert.equal(status, 401, `GET /v1/session after logout answered ${status}`);
  });
}

// ---- main ----

async function main() {
  if (config.shots) await fs.mkdir(config.shots, { recursive: true });
  browser = await puppeteer.launch({
    executablePath: config.chromium,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--lang=en-US'],
  });
  report.browser = await browser.version();
  console.log(`dashboard test against ${config.url} with ${report.browser}`);

  await check('login page renders before any session', async () => {
    const { context, page } = await newPage('anonymous');
    await page.goto(`${config.url}/`, { waitUntil: 'domcontentloaded' });
    await page.waitForSelector('[data-testid=login-form]');
    await page.type('[data-testid=login-token]', 'aion_00000000_not-a-token');
    await page.click('[data-testid=login-submit]');
    await page.waitForSelector('[data-testid=login-error]');
    const message = await text(page, '[data-testid=login-error]');
    await shot(page, 'login');
    await context.close();
    return { bad_token_message: message };
  });

  await check('the overview loads light and fast', measureOverview);

  const { context, page } = await newPage('operator');
  await check('operator logs in through the form', () => loginThroughForm(page, config.operator, 'operator'), { fatal: true });
  await liveMetric(page);
  await checkPages(page);
  await submitAndCancel(page);
  await language(page);
  await phone(page);
  await xss(page, 'operator');

  if (config.admin) {
    const admin = await newPage('admin');
    await check('admin logs in through the form', () => loginThroughForm(admin.page, config.admin, 'admin'));
    await xss(admin.page, 'admin');
    await admin.context.close();
  }

  // A job for the viewer and the cross-site requests to aim at, submitted as a script would.
  const target = await api(config.operator, 'POST', '/v1/jobs', { command: ['sleep', '120'], name: 'web-test-target', user: config.runAs });
  const targetJob = target.status === 201 ? String(target.json.id) : null;
  if (!targetJob) {
    await check('a target job can be submitted over the API', async () => {
      throw new Error(`POST /v1/jobs answered ${target.status}: ${target.text}`);
    });
  } else {
    for (let i = 0; i < 20; i++) {
      const j = await api(config.operator, 'GET', `/v1/jobs/${targetJob}`);
      if (j.json?.state === 'running') break;
      await sleep(500);
    }
  }
  await viewer(targetJob);
  if (targetJob) await csrf(page, targetJob);
  await resolveIncident(page);

  await check('no script error or blocked resource for the operator', async () => {
    const v = await cspViolations(page);
    assert.deepEqual(v, [], `CSP violations: ${v.join('; ')}`);
  });
  await logout(page);
  await context.close();

  if (targetJob && config.admin) await api(config.admin, 'POST', `/v1/jobs/${targetJob}/cancel`, {});
  await check('no script error on any page', async () => {
    assert.deepEqual(problems, [], problems.join('\n'));
  });
}

let crashed = null;
try {
  await main();
} catch (err) {
  crashed = err;
  console.log(`  FAIL  ${err.message}`);
} finally {
  await browser?.close().catch(() => {});
}

const failed = checks.filter((c) => !c.ok);
report.finished_at = new Date().toISOString();
report.ok = !crashed && failed.length === 0;
report.passed = checks.length - failed.length;
report.failed = failed.length;
report.checks = checks;
report.screenshots = screenshots;
if (crashed) report.error = crashed.message;
if (config.report) {
  await fs.mkdir(path.dirname(path.resolve(config.report)), { recursive: true });
  await fs.writeFile(config.report, JSON.stringify(report, null, 2) + '\n');
}

console.log('');
console.log(`dashboard: ${report.passed} passed, ${report.failed} failed${crashed ? ' (stopped early)' : ''}`);
if (report.overview) {
  const o = report.overview;
  console.log(`overview: ${o.asset_bytes} bytes of files + ${o.api_bytes} bytes of API in ${o.requests} requests; GPU cards after ${o.gpu_cards_ms} ms`);
}
for (const f of failed) console.log(`failed: ${f.name}: ${f.error}`);
process.exit(report.ok ? 0 : 1);
