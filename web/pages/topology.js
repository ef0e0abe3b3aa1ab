// The topology: the machine as the scheduler sees it. NUMA nodes are columns (with their
// CPUs and memory); under each, the PCIe switches, found as the bridges devices share; under
// each switch its GPUs, NICs and NVMe drives; below, the accelerator interconnect (NVLink,
// xGMI, HCCS, ...) as a fabric bar or as arcs between peers, coloured by kind. Each GPU says
// which running jobs hold it. A table repeats all of it for screen readers and for copying.

import { api } from '../api.js';
import { h, put, s } from '../dom.js';
import { bytes, number } from '../format.js';
import { has, t } from '../i18n.js';
import { liveEvents } from '../streams.js';
import { errorBox, jobLink, loading, pageTitle, section, table } from '../ui.js';

const BOX_W = 156;
const BOX_H = 64;
const GAP_X = 28;     // between the two device columns of a switch: the bus runs there
const GAP_Y = 16;
const GROUP_PAD = 10;
const COL_GAP = 28;
const NUMA_Y = 12;
const NUMA_H = 62;
const SWITCH_Y = 112;
const SWITCH_H = 40;
const DEV_Y = 186;
const KNOWN_LINKS = ['nvlink', 'xgmi', 'hccs', 'pcie'];

function shortPci(addr) {
  return String(addr || '').replace(/^0000:/, '');
}

function linkClass(kind) {
  const k = String(kind || '').toLowerCase();
  return KNOWN_LINKS.includes(k) ? `link-${k}` : 'link-other';
}

function linkName(kind) {
  const key = `topology.link.${String(kind || '').toLowerCase()}`;
  return has(key) ? t(key) : String(kind || '?');
}

// Cuts a text to fit a box; the full text stays in the element's <title>.
function fit(text, max) {
  const v = String(text ?? '');
  return v.length > max ? `${v.slice(0, max - 1)}\u2026` : v;
}

// The switch a device hangs off: the first bridge under its root port is the switch's
// upstream port (devices that share it share the switch); a device right on a root port
// forms a group of its own with that port.
function switchOf(pci) {
  const b = pci?.bridges || [];
  if (b.length >= 2) return { key: b[1], label: t('topology.switch', { addr: shortPci(b[1]) }) };
  if (b.length === 1) return { key: b[0], label: t('topology.root_port', { addr: shortPci(b[0]) }) };
  const hb = pci?.host_bridge || '';
  return { key: `host:${hb}`, label: hb ? t('topology.host_bridge', { addr: hb }) : t('topology.no_pci') };
}

// The devices of the inventory with what the drawing needs, grouped NUMA -> switch.
function model(inv, jobsByPci) {
  const devices = [];
  for (const a of inv.accelerators || []) {
    const pci = a.pci?.address || '';
    devices.push({
      type: 'gpu',
      order: 2,
      sort: a.index,
      name: `${String(a.kind || 'gpu').toUpperCase()} ${a.index}`,
      line2: String(a.model || '').replace(/^NVIDIA /, ''),
      numa: a.numa_node ?? a.pci?.numa_node ?? -1,
      pci,
      sw: switchOf(a.pci),
      acc: a,
      detail: a.model,
      jobs: jobsByPci.get(pci.toLowerCase()) || [],
    });
  }
  for (const n of inv.nics || []) {
    if (!n.pci?.address) continue;  // virtual interfaces have no place on the PCIe tree
    const speed = n.speed_mbps > 0 ? `${number(n.speed_mbps / 1000)} Gb/s` : '';
    devices.push({
      type: 'nic',
      order: 0,
      sort: n.pci.address,
      name: n.name,
      line2: [n.rdma ? `${n.rdma_device || ''} RDMA`.trim() : t('topology.nic'), speed].filter(Boolean).join(' \u00b7 '),
      numa: n.numa_node ?? n.pci?.numa_node ?? -1,
      pci: n.pci.address,
      sw: switchOf(n.pci),
      detail: [n.rdma_device, n.rdma ? 'RDMA' : '', speed, n.mac].filter(Boolean).join(' \u00b7 '),
    });
  }
  for (const d of inv.nvme || []) {
    devices.push({
      type: 'nvme',
      order: 1,
      sort: d.pci?.address || d.name,
      name: d.name,
      line2: `${fit(d.model, 14)} \u00b7 ${bytes(d.size_bytes)}`,
      numa: d.numa_node ?? d.pci?.numa_node ?? -1,
      pci: d.pci?.address || '',
      sw: switchOf(d.pci),
      detail: `${d.model} \u00b7 ${bytes(d.size_bytes)}`,
    });
  }
  const numaIds = new Set((inv.numa_nodes || []).map((n) => n.id));
  for (const d of devices) if (!numaIds.has(d.numa)) d.numa = -1;
  const columns = (inv.numa_nodes || []).map((n) => ({ id: n.id, node: n, groups: new Map() }));
  if (devices.some((d) => d.numa === -1)) columns.push({ id: -1, node: null, groups: new Map() });
  const byId = new Map(columns.map((c) => [c.id, c]));
  devices.sort((a, b) => a.order - b.order || (a.sort < b.sort ? -1 : a.sort > b.sort ? 1 : 0));
  for (const d of devices) {
    const col = byId.get(d.numa);
    if (!col.groups.has(d.sw.key)) col.groups.set(d.sw.key, { label: d.sw.label, devices: [] });
    col.groups.get(d.sw.key).devices.push(d);
  }
  return { devices, columns };
}

// Places columns, switches and devices; fills in x/y of each.
function layout(columns) {
  let x = 16;
  let bottom = DEV_Y;
  for (const col of columns) {
    const groups = [...col.groups.values()];
    let gx = 0;
    for (const g of groups) {
      g.cols = Math.min(2, g.devices.length);
      g.rows = Math.ceil(g.devices.length / 2);
      g.w = g.cols * BOX_W + (g.cols - 1) * GAP_X + 2 * GROUP_PAD;
      g.dx = gx;
      gx += g.w + 16;
    }
    const inner = Math.max(0, gx - 16);
    col.w = Math.max(200, inner);
    col.x = x;
    const offset = (col.w - inner) / 2;
    for (const g of groups) {
      g.x = col.x + offset + g.dx;
      g.devices.forEach((d, i) => {
        const c = g.cols === 1 ? 0 : i % 2;
        const r = Math.floor(i / g.cols);
        d.x = g.x + GROUP_PAD + c * (BOX_W + GAP_X);
        d.y = DEV_Y + r * (BOX_H + GAP_Y);
        bottom = Math.max(bottom, d.y + BOX_H);
      });
    }
    x += col.w + COL_GAP;
  }
  return { width: x - COL_GAP + 16, bottom };
}

function box(cls, x, y, w, hgt, lines, attrs, tip) {
  return s(
    'g',
    { class: cls, ...attrs },
    s('title', null, tip),
    s('rect', { x, y, width: w, height: hgt, rx: 6 }),
    lines.map(([text, lineCls, testid], i) =>
      s('text', { x: x + 8, y: y + 18 + i * 17, class: lineCls, 'data-testid': testid }, text),
    ),
  );
}

// The accelerator links: peers on a shared fabric (an NVSwitch) and peer-to-peer pairs.
function interconnect(devices) {
  const byPci = new Map(devices.filter((d) => d.type === 'gpu').map((d) => [d.pci.toLowerCase(), d]));
  const fabrics = new Map();  // "kind|peer" -> {kind, peer, members: [{dev, count}]}
  const pairs = new Map();    // "a|b|kind" -> {a, b, kind, count}
  for (const d of byPci.values()) {
    for (const l of d.acc.links || []) {
      const peer = String(l.peer || '').toLowerCase();
      const other = byPci.get(peer);
      if (other) {
        const [a, b] = [d, other].sort((p, q) => (p.pci < q.pci ? -1 : 1));
        const key = `${a.pci}|${b.pci}|${l.kind}`;
        if (!pairs.has(key)) pairs.set(key, { a, b, kind: l.kind, count: l.count });
      } else {
        const key = `${l.kind}|${peer}`;
        if (!fabrics.has(key)) fabrics.set(key, { kind: l.kind, peer: l.peer, members: [] });
        fabrics.get(key).members.push({ dev: d, count: l.count });
      }
    }
  }
  return { fabrics: [...fabrics.values()], pairs: [...pairs.values()] };
}

function drawSvg(m, links) {
  const { width, bottom } = layout(m.columns);
  const edges = s('g', { class: 'edges' });
  const boxes = s('g', { class: 'boxes' });
  const linkLayer = s('g', { class: 'links' });
  let y = bottom + 40;

  for (const col of m.columns) {
    const n = col.node;
    const cx = col.x + col.w / 2;
    boxes.append(
      box(
        'topo-numa',
        col.x,
        NUMA_Y,
        col.w,
        NUMA_H,
        [
          [n ? t('topology.numa', { id: n.id }) : t('topology.numa_unknown'), 'title'],
          [n ? t('topology.cpus', { cpus: n.cpus }) : '', 'sub'],
          [n ? bytes(n.memory_bytes) : '', 'sub'],
        ],
        { 'data-testid': 'topo-numa', 'data-numa': col.id },
        n ? `${t('topology.numa', { id: n.id })}: ${t('topology.cpus', { cpus: n.cpus })}, ${bytes(n.memory_bytes)}` : t('topology.numa_unknown'),
      ),
    );
    for (const g of col.groups.values()) {
      const gx = g.x + g.w / 2;
      edges.append(s('path', { class: 'edge', d: `M${cx},${NUMA_Y + NUMA_H}V${SWITCH_Y - 14}H${gx}V${SWITCH_Y}` }));
      boxes.append(
        box('topo-switch', g.x, SWITCH_Y, g.w, SWITCH_H, [[fit(g.label, Math.floor(g.w / 7)), 'sub']], { 'data-testid': 'topo-switch' }, g.label),
      );
      const last = g.devices[g.devices.length - 1];
      if (g.cols === 1) {
        edges.append(s('path', { class: 'edge', d: `M${gx},${SWITCH_Y + SWITCH_H}V${g.devices[0].y}` }));
        for (let i = 1; i < g.devices.length; i++) {
          edges.append(s('path', { class: 'edge', d: `M${gx},${g.devices[i - 1].y + BOX_H}V${g.devices[i].y}` }));
        }
      } else {
        // A bus down the gap between the two device columns, a stub to each device's side.
        edges.append(s('path', { class: 'edge', d: `M${gx},${SWITCH_Y + SWITCH_H}V${last.y + BOX_H / 2}` }));
        for (const d of g.devices) {
          const side = d.x < gx ? d.x + BOX_W : d.x;
          edges.append(s('path', { class: 'edge', d: `M${gx},${d.y + BOX_H / 2}H${side}` }));
        }
      }
      for (const d of g.devices) boxes.append(deviceBox(d));
    }
  }

  // Shared fabrics: a bar under all GPUs, one line from each member.
  for (const f of links.fabrics) {
    const xs = f.members.map(({ dev }) => dev.x + BOX_W / 2);
    const x0 = Math.min(...xs) - 60;
    const x1 = Math.max(...xs) + 60;
    const cls = linkClass(f.kind);
    const peerName = String(f.peer).toLowerCase() === 'nvswitch' ? t('topology.nvswitch') : String(f.peer);
    for (const { dev, count } of f.members) {
      const lx = dev.x + BOX_W / 2;
      linkLayer.append(
        s(
          'path',
          { class: `link ${cls}`, d: `M${lx},${dev.y + BOX_H}V${y}`, 'data-testid': 'topo-link', 'data-kind': f.kind, 'data-peer': f.peer },
          s('title', null, t('topology.link_to', { dev: dev.name, kind: linkName(f.kind), count, peer: peerName })),
        ),
        s('text', { class: 'link-count', x: lx + 4, y: y - 6 }, `\u00d7${count}`),
      );
    }
    boxes.append(
      s(
        'g',
        { class: `topo-fabric ${cls}`, 'data-testid': 'topo-fabric', 'data-kind': f.kind },
        s('title', null, `${peerName} (${linkName(f.kind)})`),
        s('rect', { x: x0, y, width: x1 - x0, height: 28, rx: 6 }),
        s('text', { x: (x0 + x1) / 2, y: y + 19, 'text-anchor': 'middle' }, `${peerName} \u00b7 ${linkName(f.kind)}`),
      ),
    );
    y += 60;
  }

  // Peer-to-peer links: arcs under the boxes, deeper for peers further apart.
  const arcTop = links.fabrics.length ? y : bottom;
  let deepest = arcTop;
  for (const p of links.pairs) {
    const ax = p.a.x + BOX_W / 2 + 10;
    const bx = p.b.x + BOX_W / 2 - 10;
    const ay = p.a.y + BOX_H;
    const by = p.b.y + BOX_H;
    const depth = 20 + Math.min(120, Math.abs(bx - ax) / 6);
    deepest = Math.max(deepest, Math.max(ay, by) + depth);
    linkLayer.append(
      s(
        'path',
        {
          class: `link ${linkClass(p.kind)}`,
          d: `M${ax},${ay}C${ax},${ay + depth} ${bx},${by + depth} ${bx},${by}`,
          'data-testid': 'topo-link',
          'data-kind': p.kind,
          'data-peer': p.b.pci,
        },
        s('title', null, t('topology.link_pair', { a: p.a.name, b: p.b.name, kind: linkName(p.kind), count: p.count })),
      ),
    );
  }
  const height = Math.max(y, deepest) + 16;
  const titleId = 'topo-title';
  const descId = 'topo-desc';
  const svg = s(
    'svg',
    {
      class: 'topology',
      viewBox: `0 0 ${width} ${height}`,
      width,
      height,
      role: 'img',
      'aria-labelledby': `${titleId} ${descId}`,
      'data-testid': 'topology-svg',
    },
    s('title', { id: titleId }, t('topology.svg_title')),
    s('desc', { id: descId }, t('topology.svg_desc')),
    edges,
    linkLayer,
    boxes,
  );
  // Shrunk to fit the page, but not below three quarters of its size (its frame scrolls
  // instead), so that its text stays readable on a wide machine.
  svg.style.minWidth = `${Math.round(width * 0.75)}px`;
  return svg;
}

function jobsText(d) {
  if (!d.jobs.length) return t('topology.idle');
  return d.jobs.map((j) => `#${j.id}${j.name ? ` ${j.name}` : ''}`).join(', ');
}

function deviceBox(d) {
  if (d.type === 'gpu') {
    const busy = d.jobs.length > 0;
    return box(
      `topo-dev topo-gpu${busy ? ' busy' : ''}`,
      d.x,
      d.y,
      BOX_W,
      BOX_H,
      [
        [d.name, 'title'],
        [fit(d.line2, 22), 'sub'],
        [fit(jobsText(d), 22), busy ? 'job' : 'sub', 'topo-gpu-job'],
      ],
      { 'data-testid': 'topo-gpu', 'data-gpu': d.acc.index, 'data-pci': d.pci, 'data-jobs': d.jobs.map((j) => j.id).join(',') },
      `${d.name} ${d.acc.model} ${d.pci} \u2014 ${jobsText(d)}`,
    );
  }
  const testid = d.type === 'nic' ? 'topo-nic' : 'topo-nvme';
  return box(
    `topo-dev topo-${d.type}`,
    d.x,
    d.y,
    BOX_W,
    BOX_H,
    [
      [fit(d.name, 20), 'title'],
      [fit(d.line2, 24), 'sub'],
      [shortPci(d.pci), 'sub'],
    ],
    { 'data-testid': testid },
    `${d.name} ${d.line2} ${d.pci}`,
  );
}

function legend(links) {
  const kinds = new Set([...links.fabrics.map((f) => f.kind), ...links.pairs.map((p) => p.kind)]);
  const item = (cls, label) =>
    h('li', null, h('span', { class: `swatch ${cls}`, 'aria-hidden': 'true' }), label);
  return h(
    'ul',
    { class: 'legend', 'data-testid': 'topo-legend', 'aria-label': t('topology.legend') },
    item('edge-swatch', t('topology.legend_pcie')),
    [...kinds].map((k) => item(linkClass(k), linkName(k))),
    item('busy-swatch', t('topology.legend_busy')),
  );
}

function linksText(d, links) {
  if (d.type !== 'gpu') return '\u2014';
  const out = [];
  for (const f of links.fabrics) {
    const mine = f.members.find((x) => x.dev === d);
    if (mine) out.push(`${linkName(f.kind)} \u00d7${mine.count} \u2192 ${String(f.peer).toLowerCase() === 'nvswitch' ? t('topology.nvswitch') : f.peer}`);
  }
  for (const p of links.pairs) {
    if (p.a === d) out.push(`${linkName(p.kind)} \u00d7${p.count} \u2192 ${p.b.name}`);
    if (p.b === d) out.push(`${linkName(p.kind)} \u00d7${p.count} \u2192 ${p.a.name}`);
  }
  return out.join('; ') || '\u2014';
}

function deviceTable(m, links) {
  const kindName = { gpu: t('topology.kind.gpu'), nic: t('topology.kind.nic'), nvme: t('topology.kind.nvme') };
  return table({
    caption: t('topology.table_caption'),
    testid: 'topo-table',
    rows: m.devices,
    columns: [
      { label: t('topology.col.device'), cell: (d) => d.name },
      { label: t('topology.col.kind'), cell: (d) => kindName[d.type] },
      { label: t('topology.col.detail'), cell: (d) => d.detail },
      { label: t('topology.col.numa'), cell: (d) => (d.numa >= 0 ? String(d.numa) : '?') },
      { label: t('topology.col.pci'), cell: (d) => d.pci || '\u2014' },
      { label: t('topology.col.switch'), cell: (d) => d.sw.label },
      { label: t('topology.col.links'), cell: (d) => linksText(d, links) },
      {
        label: t('topology.col.jobs'),
        cell: (d) => (d.type !== 'gpu' ? '\u2014' : d.jobs.length ? d.jobs.map((j, i) => [i ? ', ' : '', jobLink(j.id)]) : t('topology.idle')),
      },
    ],
  });
}

export async function render(ctx) {
  const { root, signal } = ctx;
  const cpuLine = h('p', { class: 'muted', 'data-testid': 'topo-cpu' });
  const drawing = h('div', { class: 'topo-wrap', 'data-testid': 'topo-drawing' }, loading());
  const tableBox = h('div');
  const jobsError = h('div');
  root.append(
    pageTitle(t('nav.topology')),
    cpuLine,
    jobsError,
    section(t('topology.drawing'), null, drawing),
    section(t('topology.devices'), null, tableBox),
  );
  const snap = await api('/v1/hw/snapshot', { signal });
  if (!ctx.alive()) return;
  const inv = snap.inventory || {};
  if (inv.cpu) {
    cpuLine.textContent = t('topology.cpu_line', {
      model: inv.cpu.model,
      sockets: inv.cpu.sockets,
      cores: inv.cpu.cores,
      threads: inv.cpu.threads,
    });
  }
  const draw = async () => {
    let byPci = new Map();
    let failure = null;
    try {
      const [sched, running] = await Promise.all([
        api('/v1/sched', { signal }),
        api('/v1/jobs', { query: { state: 'running' }, signal }),
      ]);
      for (const j of running.jobs || []) {
        for (const idx of j.allocation?.gpus || []) {
          const pci = String(sched.gpus?.[idx]?.pci_address || '').toLowerCase();
          if (!byPci.has(pci)) byPci.set(pci, []);
          byPci.get(pci).push(j);
        }
      }
    } catch (err) {
      if (err.name === 'AbortError') return;
      byPci = new Map();  // the drawing stands without the jobs, the error says why
      failure = err;
    }
    if (!ctx.alive()) return;
    put(jobsError, failure ? errorBox(failure) : null);
    const m = model(inv, byPci);
    const links = interconnect(m.devices);
    put(drawing, legend(links), h('div', { class: 'svg-scroll', tabindex: '0', role: 'region', 'aria-label': t('topology.drawing') }, drawSvg(m, links)));
    put(tableBox, deviceTable(m, links));
  };
  await draw();
  const timer = setInterval(draw, 10000);
  ctx.onCleanup(() => clearInterval(timer));
  ctx.onCleanup(liveEvents((e) => e.kind === 'job' && draw()));
}
