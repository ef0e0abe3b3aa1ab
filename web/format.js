// How numbers, sizes, times and durations read, in the current language.

import { language, t } from './i18n.js';

export function number(v, digits = 0) {
  if (v === null || v === undefined || !Number.isFinite(Number(v))) return '\u2014';
  return Number(v).toLocaleString(language(), {
    maximumFractionDigits: digits,
    minimumFractionDigits: 0,
  });
}

// 85899345920 -> "80 GiB" (powers of 1024, as memory is sold and as aion's CLI prints it).
export function bytes(v) {
  if (v === null || v === undefined || !Number.isFinite(Number(v))) return '\u2014';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let x = Number(v);
  let i = 0;
  while (Math.abs(x) >= 1024 && i < units.length - 1) {
    x /= 1024;
    i++;
  }
  return `${number(x, i === 0 || x >= 100 ? 0 : 1)} ${units[i]}`;
}

export function percent(ratio, digits = 0) {
  if (ratio === null || ratio === undefined || !Number.isFinite(Number(ratio))) return '\u2014';
  return `${number(Number(ratio) * 100, digits)}%`;
}

// Seconds -> "3 d 4 h", "5 h 12 min", "42 s".
export function duration(seconds) {
  if (!Number.isFinite(seconds) || seconds < 0) return '\u2014';
  const s = Math.floor(seconds);
  const d = Math.floor(s / 86400);
  const hh = Math.floor((s % 86400) / 3600);
  const mm = Math.floor((s % 3600) / 60);
  if (d > 0) return t('unit.days_hours', { d, h: hh });
  if (hh > 0) return t('unit.hours_minutes', { h: hh, m: mm });
  if (mm > 0) return t('unit.minutes_seconds', { m: mm, s: s % 60 });
  return t('unit.seconds', { s });
}

// Milliseconds since the epoch -> a local date and time; 0 or missing -> "-".
export function time(ms) {
  if (!ms || !Number.isFinite(Number(ms))) return '\u2014';
  return new Date(Number(ms)).toLocaleString(language(), {
    dateStyle: 'short',
    timeStyle: 'medium',
  });
}

export function clock(ms) {
  return new Date(ms).toLocaleTimeString(language(), { hour: '2-digit', minute: '2-digit' });
}

// A metric value by the unit its name ends with (Prometheus naming: _bytes, _ratio, ...).
export function metricValue(name, v) {
  if (v === null || v === undefined || !Number.isFinite(Number(v))) return '\u2014';
  const n = String(name);
  if (n.endsWith('_bytes')) return bytes(v);
  if (n.endsWith('_ratio')) return percent(v, 1);
  if (n.endsWith('_celsius')) return `${number(v, 1)} \u00b0C`;
  if (n.endsWith('_watts')) return `${number(v, 1)} W`;
  if (n.endsWith('_hertz')) return `${number(v / 1e6, 0)} MHz`;
  if (n.endsWith('_seconds')) return `${number(v, 2)} s`;
  return number(v, Math.abs(v) < 10 ? 3 : 1);
}

// A command's argv as one line a reader can copy into a shell: words with spaces or shell
// characters are single-quoted.
export function argvText(argv) {
  if (!Array.isArray(argv)) return '';
  return argv
    .map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${String(a).replace(/'/g, `'\\''`)}'`))
    .join(' ');
}

// The reverse for the submit form: "python train.py --lr '1e-3 x'" -> argv, with single and
// double quotes and backslash escapes; nothing is expanded (no shell runs it).
export function parseArgv(text) {
  const out = [];
  let word = null;
  let quote = null;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote) {
      if (c === quote) quote = null;
      else if (c === '\\' && quote === '"' && i + 1 < text.length) word += text[++i];
      else word += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      word ??= '';
    } else if (c === '\\' && i + 1 < text.length) {
      word = (word ?? '') + text[++i];
    } else if (/\s/.test(c)) {
      if (word !== null) out.push(word);
      word = null;
    } else {
      word = (word ?? '') + c;
    }
  }
  if (quote) throw new Error(t('jobs.form.unclosed_quote'));
  if (word !== null) out.push(word);
  return out;
}
