// Small building blocks. Everything attacker-controlled goes through <Text>:
// rendered as text (Preact escapes it), control/bidi characters made
// visible, long values cut with an ellipsis and the whole value in `title`.
import { clean, cut, fmtAgo, fmtTime, fmtNum } from '../lib/format.js';
import { attackerHref } from '../lib/router.js';

const TITLE_MAX = 2000;

export function Text({ v, max = 80, empty = '—', className = '' }) {
  if (v === null || v === undefined || v === '') return <span class="muted">{empty}</span>;
  const full = clean(v);
  const shown = cut(full, max);
  return (
    <span class={`t ${className}`} title={shown !== full || full.length > 30 ? cut(full, TITLE_MAX) : undefined}>
      {shown}
    </span>
  );
}

export function IpLink({ ip }) {
  if (!ip) return <span class="muted">—</span>;
  const text = clean(ip);
  return (
    <a data-testid="ip-link" class="ip" href={attackerHref(ip)} title={`Everything from ${cut(text, 200)}`} onClick={(e) => e.stopPropagation()}>
      {cut(text, 45)}
    </a>
  );
}

export function Time({ iso, ago = false }) {
  if (!iso) return <span class="muted">—</span>;
  return (
    <time dateTime={iso} title={`${iso} (${fmtAgo(iso)})`}>
      {ago ? fmtAgo(iso) : fmtTime(iso)}
    </time>
  );
}

const STATUS_CLASS = {
  running: 'ok',
  connected: 'ok',
  answered: 'ok',
  installing: 'warn',
  deploying: 'warn',
  unknown: 'dim',
  stopped: 'dim',
  offline: 'dim',
  failed: 'bad',
  lost: 'bad',
  error: 'bad',
  timeout: 'bad',
  forbidden: 'bad',
  unknown_node: 'bad',
};

export function Badge({ s, testid, attrs = {} }) {
  const text = s === null || s === undefined || s === '' ? 'Unknown' : String(s);
  return (
    <span class={`badge ${STATUS_CLASS[text.toLowerCase()] || 'dim'}`} data-testid={testid} {...attrs}>
      {cut(clean(text), 24)}
    </span>
  );
}

export function Loading({ what = 'Loading' }) {
  return (
    <div class="loading" role="status">
      <span class="spinner" aria-hidden="true" /> {what}…
    </div>
  );
}

export function ErrorBox({ error, testid }) {
  if (!error) return null;
  const message = typeof error === 'string' ? error : error.message || String(error);
  return (
    <div class="error" role="alert" data-testid={testid}>
      {message}
    </div>
  );
}

export function Empty({ children, testid }) {
  return (
    <div class="empty" data-testid={testid}>
      {children}
    </div>
  );
}

export function Num({ n, testid }) {
  return (
    <span class="num" data-testid={testid} title={typeof n === 'number' ? fmtNum(n) : undefined}>
      {typeof n === 'number' ? n : '—'}
    </span>
  );
}

export function Panel({ title, right, children, testid, className = '' }) {
  return (
    <section class={`panel ${className}`} data-testid={testid}>
      {(title || right) && (
        <header class="panel-head">
          <h2>{title}</h2>
          {right && <div class="panel-tools">{right}</div>}
        </header>
      )}
      <div class="panel-body">{children}</div>
    </section>
  );
}
