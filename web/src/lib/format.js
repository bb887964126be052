// Pure helpers: formatting, cleaning attacker-controlled text for display,
// time parameters and bucket filling. No browser globals here (unit-tested
// under node --test).

const pad = (n, w = 2) => String(n).padStart(w, '0');

/** "2026-11-30 13:05:00" in local time; "" for missing, the input when unparsable. */
export function fmtTime(iso) {
  if (iso === null || iso === undefined || iso === '') return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** "12 s ago", "5 min ago", "3 h ago", "2 d ago". */
export function fmtAgo(iso, nowMs = Date.now()) {
  if (!iso) return 'never';
  const t = new Date(iso).getTime();
  if (Number.isNaN(t)) return String(iso);
  const s = Math.round((nowMs - t) / 1000);
  if (s < -5) return 'in the future';
  if (s < 60) return `${Math.max(s, 0)} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

export function fmtNum(n) {
  if (typeof n !== 'number') return n === null || n === undefined ? '' : String(n);
  return n.toLocaleString('en-US');
}

export function fmtBytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

// Control characters, and invisible or direction-changing code points that
// could make one value look like another; shown as escapes instead.
const INVISIBLE = /[\u0000-\u001f\u007f-\u009f\u00ad\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u2069\ufeff]/g;

/** Text of any value, with control and bidi characters made visible (\n, \x1b, \u202e). */
export function clean(value) {
  if (value === null || value === undefined) return '';
  const s = typeof value === 'string' ? value : typeof value === 'object' ? JSON.stringify(value) : String(value);
  return s.replace(INVISIBLE, (c) => {
    if (c === '\n') return '\\n';
    if (c === '\r') return '\\r';
    if (c === '\t') return '\\t';
    const code = c.charCodeAt(0);
    return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

/** Cuts `s` to `max` characters with an ellipsis. */
export function cut(s, max) {
  return s.length > max ? s.slice(0, Math.max(1, max - 1)) + '…' : s;
}

/**
 * A time parameter as the API takes it: ISO 8601 and unix seconds pass
 * through; relative forms "-90s", "-15m", "-24h", "-7d" (or without the
 * minus) become unix seconds before `nowMs`. Returns null when empty,
 * undefined when not understood.
 */
export function timeParam(text, nowMs = Date.now()) {
  const s = String(text ?? '').trim();
  if (!s) return null;
  const rel = /^-?(\d+(?:\.\d+)?)\s*(s|m|min|h|d|w)$/i.exec(s);
  if (rel) {
    const mult = { s: 1, m: 60, min: 60, h: 3600, d: 86400, w: 604800 }[rel[2].toLowerCase()];
    return String(Math.floor(nowMs / 1000 - Number(rel[1]) * mult));
  }
  if (/^\d+(\.\d+)?$/.test(s)) return s;
  if (/^\d{4}-\d{2}-\d{2}([Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|z|UTC|[+-]\d{2}(:?\d{2})?)?$/.test(s)) return s;
  return undefined;
}

/**
 * Zero-filled series for a chart: every bucket from the one containing
 * `sinceSec` to the one containing `nowSec`, in seconds.
 * `counts` maps a bucket start (unix seconds) to its count.
 */
export function fillBuckets(counts, bucket, sinceSec, nowSec) {
  const first = Math.floor(sinceSec / bucket) * bucket;
  const last = Math.floor(nowSec / bucket) * bucket;
  const xs = [];
  const ys = [];
  for (let t = first; t <= last; t += bucket) {
    xs.push(t);
    ys.push(counts.get(t) || 0);
  }
  return [xs, ys];
}

/** Query string from an object, leaving out empty values (null, undefined, ""). */
export function queryString(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v === null || v === undefined || v === '') continue;
    q.set(k, String(v));
  }
  const s = q.toString();
  return s ? '?' + s : '';
}

/** Parses "key=value" lines (blank lines and # comments skipped). Throws with the line number. */
export function parseKeyValues(text) {
  const out = {};
  const lines = String(text || '').split(/\r?\n/);
  lines.forEach((line, i) => {
    const l = line.trim();
    if (!l || l.startsWith('#')) return;
    const eq = l.indexOf('=');
    if (eq <= 0) throw new Error(`line ${i + 1}: expected key=value`);
    out[l.slice(0, eq).trim()] = l.slice(eq + 1).trim();
  });
  return out;
}

// Printable JSON: JSON.stringify escapes C0 controls; the other invisible or
// direction-changing code points (only ever inside strings) become \uXXXX
// too, so the text stays valid JSON and shows what is really there.
const INVISIBLE_NON_C0 = /[\u007f-\u009f\u00ad\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u2069\ufeff]/g;

export function prettyJSON(value) {
  return JSON.stringify(value, null, 2).replace(INVISIBLE_NON_C0, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
