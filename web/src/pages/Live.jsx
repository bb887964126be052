import { useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks';
import { useStore } from '../lib/store.js';
import { socket, socketState } from '../lib/socket.js';
import { nodesStore } from '../lib/nodes.js';
import { EventDetail, EventTable } from '../components/events.jsx';
import { Empty } from '../components/common.jsx';

const MAX_ROWS = 500;
const FILTER_KEYS = [
  ['pot_type', 'Pot type', 'cowrie'],
  ['event_type', 'Event type', 'login'],
  ['node', 'Node (id or name)', 'any'],
  ['src', 'Source IP or CIDR', '203.0.113.0/24'],
];

let seq = 0;

export function Live() {
  const { state } = useStore(socketState);
  const { nodes } = useStore(nodesStore);
  const [rows, setRows] = useState([]);
  const [paused, setPaused] = useState(false);
  const [pausedCount, setPausedCount] = useState(0);
  const [received, setReceived] = useState(0);
  const [missed, setMissed] = useState(0);
  const [form, setForm] = useState({ pot_type: '', event_type: '', node: '', src: '' });
  const [filterMsg, setFilterMsg] = useState({ error: '', active: {} });
  const [selected, setSelected] = useState(null);

  const pending = useRef([]); // arrived, not yet shown (flushed every 250 ms)
  const held = useRef([]); // arrived while paused
  const heldCount = useRef(0);
  const pausedRef = useRef(false);
  const awaitingFilter = useRef(false);
  const helloSeen = useRef(socketState.get().state === 'live');

  const nodeNames = useMemo(() => new Map(nodes.map((n) => [String(n.node_id), n.name])), [nodes]);

  // Subscribed in a layout effect, in the same task as the feed's first
  // render: useEffect waits for the next animation frame (up to 100 ms), and
  // an event the stream delivered in between was never shown.
  useLayoutEffect(() => {
    const unsubscribe = socket.subscribe((msg) => {
      if (msg.type === 'event' && msg.data) {
        pending.current.push({ ...msg.data, __key: `e${++seq}` });
      } else if (msg.type === 'missed') {
        pending.current.push({ __missed: true, count: msg.count, key: `m${++seq}` });
      } else if (msg.type === 'hello') {
        if (helloSeen.current) {
          pending.current.push({ __notice: 'The stream reconnected: events that arrived while it was down are not shown here (Search has them).', key: `h${++seq}` });
        }
        helloSeen.current = true;
      } else if (msg.type === 'filter') {
        awaitingFilter.current = false;
        setFilterMsg({ error: '', active: msg.filter || {} });
        // Items come in order: everything after this confirmation matches the
        // new filter, nothing before it need. Start the feed over.
        pending.current = [{ __notice: 'Filter applied: events that match it from now on.', key: `f${++seq}` }];
        held.current = [];
        heldCount.current = 0;
        setPausedCount(0);
        setRows([]);
      } else if (msg.type === 'error' && awaitingFilter.current) {
        awaitingFilter.current = false;
        setFilterMsg((f) => ({ ...f, error: `The core refused the filter: ${msg.message}` }));
      } else if (msg.type === 'error') {
        setFilterMsg((f) => ({ ...f, error: `The core answered: ${msg.message}` }));
      }
    });
    const timer = setInterval(() => {
      if (!pending.current.length) return;
      const batch = pending.current.reverse(); // newest first
      pending.current = [];
      const events = batch.filter((x) => !x.__missed && !x.__notice).length;
      const lost = batch.filter((x) => x.__missed).reduce((a, x) => a + (x.count || 0), 0);
      setReceived((n) => n + events);
      if (lost) setMissed((n) => n + lost);
      if (pausedRef.current) {
        held.current = [...batch, ...held.current].slice(0, MAX_ROWS);
        heldCount.current += events;
        setPausedCount(heldCount.current);
      } else {
        setRows((r) => [...batch, ...r].slice(0, MAX_ROWS));
      }
    }, 250);
    return () => {
      unsubscribe();
      clearInterval(timer);
      socket.setFilter({}); // the other pages see everything
    };
  }, []);

  function togglePause() {
    if (pausedRef.current) {
      pausedRef.current = false;
      const h = held.current;
      held.current = [];
      heldCount.current = 0;
      setRows((r) => [...h, ...r].slice(0, MAX_ROWS));
      setPausedCount(0);
      setPaused(false);
    } else {
      pausedRef.current = true;
      setPaused(true);
    }
  }

  function buildFilter() {
    const f = {};
    for (const [k] of FILTER_KEYS) {
      let v = form[k].trim();
      if (!v) continue;
      if (k === 'node' && !/^\d+$/.test(v)) {
        const byName = nodes.find((n) => n.name === v);
        if (byName) v = String(byName.node_id);
      }
      f[k] = v;
    }
    return f;
  }

  function apply(e) {
    e.preventDefault();
    const f = buildFilter();
    setFilterMsg((m) => ({ ...m, error: '' }));
    awaitingFilter.current = true;
    if (!socket.sendFilter(f)) {
      awaitingFilter.current = false;
      setFilterMsg((m) => ({ ...m, error: 'Not connected: the filter will be sent when the stream is live again.' }));
    }
  }

  function clear() {
    setForm({ pot_type: '', event_type: '', node: '', src: '' });
    awaitingFilter.current = true;
    if (!socket.sendFilter({})) awaitingFilter.current = false;
    setFilterMsg({ error: '', active: {} });
  }

  const active = Object.entries(filterMsg.active || {}).filter(([, v]) => v !== '' && v !== null && !(Array.isArray(v) && !v.length));

  return (
    <div class="page live">
      <form class="toolbar filters" onSubmit={apply}>
        {FILTER_KEYS.map(([k, label, ph]) => (
          <label key={k} class="field">
            <span>{label}</span>
            <input
              data-testid={`filter-${k}`}
              value={form[k]}
              placeholder={ph}
              list={k === 'node' ? 'live-nodes' : undefined}
              onInput={(e) => setForm({ ...form, [k]: e.currentTarget.value })}
            />
          </label>
        ))}
        <datalist id="live-nodes">
          {nodes.map((n) => (
            <option key={n.node_id} value={String(n.node_id)}>{n.name}</option>
          ))}
        </datalist>
        <button class="btn primary" type="submit" data-testid="filter-apply">Apply filter</button>
        <button class="btn" type="button" onClick={clear}>Clear</button>
        <span class="spacer" />
        <button class={`btn ${paused ? 'warn' : ''}`} type="button" data-testid="pause" onClick={togglePause}>
          {paused ? 'Resume' : 'Pause'}
        </button>
      </form>
      {filterMsg.error && (
        <div class="error" role="alert" data-testid="filter-error">{filterMsg.error}</div>
      )}
      <div class="statusline">
        <span>{state === 'live' ? 'Streaming' : state === 'connecting' ? 'Connecting…' : 'Stream offline (reconnecting)'}</span>
        <span>· {received} received</span>
        {missed > 0 && <span class="warn-text">· {missed} missed (the browser fell behind)</span>}
        <span>· showing the newest {Math.min(rows.length, MAX_ROWS)} (at most {MAX_ROWS})</span>
        {active.length > 0 && (
          <span data-testid="filter-active">· filter: {active.map(([k, v]) => `${k}=${Array.isArray(v) ? v.join(',') : v}`).join(', ')}</span>
        )}
        {paused && (
          <span class="paused">
            · paused: <strong data-testid="paused-count">{pausedCount}</strong> new event{pausedCount === 1 ? '' : 's'} held — Resume shows them
          </span>
        )}
      </div>
      <div data-testid="live-feed" class="feed">
        {rows.length === 0 ? (
          <Empty>
            {state === 'live'
              ? 'Waiting for events… They appear here as the honeypots report them.'
              : 'The stream is not connected yet; events appear here once it is live.'}
          </Empty>
        ) : (
          <EventTable events={rows} nodeNames={nodeNames} selected={selected && selected.key} onSelect={(e, key) => setSelected({ key, event: e })} />
        )}
      </div>
      {selected && <EventDetail event={selected.event} nodeNames={nodeNames} onClose={() => setSelected(null)} />}
    </div>
  );
}
