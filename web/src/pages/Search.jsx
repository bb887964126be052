import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { api, download } from '../lib/api.js';
import { fmtBytes, queryString, timeParam } from '../lib/format.js';
import { useStore } from '../lib/store.js';
import { nodesStore } from '../lib/nodes.js';
import { EventDetail, EventTable } from '../components/events.jsx';
import { Empty, ErrorBox, Loading } from '../components/common.jsx';

const FIELDS = [
  ['since', 'Since', '-24h, ISO or unix s'],
  ['until', 'Until', 'ISO or unix s'],
  ['node', 'Node', 'id or name'],
  ['pot', 'Pot id', ''],
  ['pot_type', 'Pot type', 'cowrie'],
  ['event_type', 'Event type', 'login'],
  ['src', 'Source IP / CIDR', '10.0.0.0/8'],
  ['q', 'Free text (raw record)', 'wget'],
];
const KEYS = [...FIELDS.map(([k]) => k), 'limit'];
const LIMITS = ['50', '100', '250', '500', '1000'];
const EXPORT_LIMIT = 100000;

function stamp() {
  const d = new Date();
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}

/** API parameters from the hash's filters; throws on a time it cannot read. */
function apiParams(filters, nodes) {
  const out = {};
  for (const [k, label] of FIELDS) {
    const v = (filters[k] || '').trim();
    if (!v) continue;
    if (k === 'since' || k === 'until') {
      const t = timeParam(v);
      if (t === undefined) throw new Error(`${label}: use ISO 8601 (2024-01-15T10:30:00Z), unix seconds or a relative time such as -24h, -15m, -7d.`);
      out[k] = t;
    } else if (k === 'node' && !/^\d+$/.test(v)) {
      const n = nodes.find((x) => x.name === v);
      if (!n) throw new Error(`Node: no node is named "${v.slice(0, 80)}" (give its id or its exact name).`);
      out.node = String(n.node_id);
    } else {
      out[k] = v;
    }
  }
  return out;
}

export function Search({ route }) {
  const { nodes } = useStore(nodesStore);
  const qsKey = route.query.toString();
  const filters = useMemo(() => Object.fromEntries(KEYS.map((k) => [k, route.query.get(k) || ''])), [qsKey]);
  const [form, setForm] = useState(filters);
  const [nav, setNav] = useState({ qs: qsKey, cursors: [null] });
  const [reload, setReload] = useState(0);
  const [result, setResult] = useState(null);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState(null);
  const [selected, setSelected] = useState(null);
  const [exporting, setExporting] = useState(null);
  const exportAbort = useRef(null);
  const nodeNames = useMemo(() => new Map(nodes.map((n) => [String(n.node_id), n.name])), [nodes]);

  // The form follows the address when it changes (back, a link), not at
  // mount: the form starts from it already, and what was typed between the
  // first paint and this effect would be lost.
  const formKey = useRef(qsKey);
  useEffect(() => {
    if (formKey.current !== qsKey) {
      formKey.current = qsKey;
      setForm(filters);
    }
  }, [qsKey]);

  const cursors = nav.qs === qsKey ? nav.cursors : [null];
  const cursor = cursors[cursors.length - 1];
  const limit = /^\d{1,4}$/.test(filters.limit) && +filters.limit >= 1 && +filters.limit <= 1000 ? String(+filters.limit) : '100';

  useEffect(() => {
    let stale = false;
    const ctrl = new AbortController();
    (async () => {
      setLoading(true);
      setError(null);
      try {
        const params = { ...apiParams(filters, nodes), limit, cursor };
        const page = await api('/api/v1/events', { params, signal: ctrl.signal });
        if (!stale) setResult(page);
      } catch (e) {
        if (!stale && e.name !== 'AbortError') {
          setError(e);
          setResult(null);
        }
      } finally {
        if (!stale) setLoading(false);
      }
    })();
    return () => {
      stale = true;
      ctrl.abort();
    };
  }, [qsKey, cursor, reload, filters.node && !/^\d+$/.test(filters.node) ? nodes.length : 0]);

  function submit(e) {
    e.preventDefault();
    const q = {};
    for (const k of KEYS) if ((form[k] || '').trim()) q[k] = form[k].trim();
    if (q.limit === '100') delete q.limit;
    const hash = '#/search' + queryString(q);
    setSelected(null);
    if (location.hash === hash) {
      setNav({ qs: qsKey, cursors: [null] });
      setReload((n) => n + 1);
    } else {
      location.hash = hash;
    }
  }

  async function exportAs(format) {
    let params;
    try {
      params = { ...apiParams(filters, nodes), format, limit: EXPORT_LIMIT };
    } catch (e) {
      setError(e);
      return;
    }
    const ctrl = new AbortController();
    exportAbort.current = ctrl;
    setExporting({ format, bytes: 0, done: false, error: null });
    try {
      const { bytes, name } = await download('/api/v1/events/export', params, `honeycomb-events-${stamp()}.${format}`, {
        signal: ctrl.signal,
        onProgress: (b) => setExporting((x) => (x ? { ...x, bytes: b } : x)),
      });
      setExporting({ format, bytes, done: true, name, error: null });
    } catch (e) {
      setExporting({ format, bytes: 0, done: true, error: e.name === 'AbortError' ? 'Export cancelled.' : e.message });
    } finally {
      exportAbort.current = null;
    }
  }

  const events = result ? result.events || [] : [];
  const pageNo = cursors.length;

  return (
    <div class="page search">
      <form class="search-form" onSubmit={submit}>
        {FIELDS.map(([k, label, ph]) => (
          <label key={k} class="field">
            <span>{label}</span>
            <input
              data-testid={`search-${k}`}
              value={form[k] || ''}
              placeholder={ph}
              list={k === 'node' ? 'search-nodes' : undefined}
              onInput={(e) => setForm({ ...form, [k]: e.currentTarget.value })}
            />
          </label>
        ))}
        <datalist id="search-nodes">
          {nodes.map((n) => (
            <option key={n.node_id} value={String(n.node_id)}>{n.name}</option>
          ))}
        </datalist>
        <label class="field narrow">
          <span>Per page</span>
          <select value={form.limit || '100'} onChange={(e) => setForm({ ...form, limit: e.currentTarget.value })}>
            {(LIMITS.includes(form.limit || '100') ? LIMITS : [form.limit, ...LIMITS]).map((l) => <option key={l} value={l}>{l}</option>)}
          </select>
        </label>
        <div class="field actions">
          <button class="btn primary" type="submit" data-testid="search-submit">Search</button>
        </div>
      </form>

      <div class="toolbar">
        <button class="btn" data-testid="prev-page" disabled={pageNo <= 1 || loading} onClick={() => setNav({ qs: qsKey, cursors: cursors.slice(0, -1) })}>
          ← Newer
        </button>
        <button
          class="btn"
          data-testid="next-page"
          disabled={!result || !result.next_cursor || loading}
          onClick={() => setNav({ qs: qsKey, cursors: [...cursors, result.next_cursor] })}
        >
          Older →
        </button>
        <span class="muted">
          Page {pageNo}
          {result && ` · ${events.length} event${events.length === 1 ? '' : 's'}, newest first`}
        </span>
        <span class="spacer" />
        <span class="muted small" title="The export streams the events of the current filters (not only this page), newest first">
          Export current filters (at most {EXPORT_LIMIT.toLocaleString('en-US')} rows):
        </span>
        <button class="btn" data-testid="export-jsonl" disabled={!!(exporting && !exporting.done)} onClick={() => exportAs('jsonl')}>JSON lines</button>
        <button class="btn" data-testid="export-csv" disabled={!!(exporting && !exporting.done)} onClick={() => exportAs('csv')}>CSV</button>
      </div>
      {exporting && (
        <div class={exporting.error ? 'error' : 'notice'} role="status">
          {exporting.error
            ? `Export failed: ${exporting.error}`
            : exporting.done
              ? `Saved ${exporting.name} (${fmtBytes(exporting.bytes)}).`
              : `Exporting ${exporting.format.toUpperCase()}… ${fmtBytes(exporting.bytes)}`}
          {!exporting.done && (
            <button class="btn ghost small" onClick={() => exportAbort.current && exportAbort.current.abort()}>Cancel</button>
          )}
          {exporting.done && (
            <button class="btn ghost small" onClick={() => setExporting(null)}>Dismiss</button>
          )}
        </div>
      )}
      {result && result.partial && (
        <div class="notice" data-testid="search-partial">
          Searched part of the history (free text has no index; each request scans for a moment) — <strong>Older →</strong> continues the search further back.
        </div>
      )}
      <ErrorBox error={error} />
      {loading && !result && <Loading what="Searching" />}
      <div data-testid="search-results" class={loading ? 'busy' : ''}>
        {result && events.length === 0 && (
          <Empty testid="search-empty">
            {result.partial
              ? 'No matches in the part of the history searched so far — Older → continues the search.'
              : pageNo > 1
                ? 'No more events.'
                : 'No events match these filters.'}
          </Empty>
        )}
        {events.length > 0 && (
          <EventTable events={events} nodeNames={nodeNames} selected={selected && selected.key} onSelect={(e, key) => setSelected({ key, event: e })} />
        )}
      </div>
      {selected && <EventDetail event={selected.event} nodeNames={nodeNames} onClose={() => setSelected(null)} />}
    </div>
  );
}
