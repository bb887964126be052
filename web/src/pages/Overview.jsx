import { useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks';
import { api } from '../lib/api.js';
import { fillBuckets } from '../lib/format.js';
import { useStore } from '../lib/store.js';
import { nodesStore, refreshNodes } from '../lib/nodes.js';
import { socket } from '../lib/socket.js';
import { BarChart } from '../components/chart.jsx';
import { Badge, Empty, ErrorBox, IpLink, Loading, Num, Panel, Text, Time } from '../components/common.jsx';

const TOP = 10;
const REFETCH_MIN_MS = 10000; // live events re-fetch the statistics at most this often
const REFRESH_MS = 60000; // and the windows slide at least this often
const TOP_LISTS = [
  ['top_src_ips', 'Top source IPs', 'top-src-ips', 'src_ip'],
  ['top_usernames', 'Top usernames', 'top-usernames', 'username'],
  ['top_passwords', 'Top passwords', 'top-passwords', 'password'],
  ['top_commands', 'Top commands', 'top-commands', 'command'],
  ['by_pot_type', 'Events by pot type', 'by-pot-type', 'pot_type'],
];

/** The windows: 60 one-minute buckets and 24 one-hour buckets, the last one the current. */
function windows(nowSec) {
  return {
    hourSince: Math.floor(nowSec / 60) * 60 - 59 * 60,
    daySince: Math.floor(nowSec / 3600) * 3600 - 23 * 3600,
  };
}

function toMap(buckets) {
  return new Map((buckets || []).map((b) => [b.start_unix, b.count]));
}

function bump(list, value) {
  if (value === undefined || value === null || value === '') return list;
  const i = list.findIndex((x) => x.value === value);
  const next = i >= 0 ? list.map((x, j) => (j === i ? { ...x, count: x.count + 1 } : x)) : [...list, { value, count: 1 }];
  return next.sort((a, b) => b.count - a.count).slice(0, TOP);
}

function eventSec(e, nowSec) {
  const t = Date.parse(e.time || e.received || '');
  return Number.isNaN(t) ? nowSec : t / 1000;
}

function useStats() {
  const [stats, setStats] = useState(null);
  const [error, setError] = useState(null);
  const last = useRef(0);
  const inflight = useRef(false);

  async function load() {
    if (inflight.current) return;
    inflight.current = true;
    last.current = Date.now();
    const nowSec = Date.now() / 1000;
    const w = windows(nowSec);
    try {
      const [day, hour] = await Promise.all([
        api('/api/v1/stats', { params: { since: w.daySince, bucket: 3600, top: TOP } }),
        api('/api/v1/stats', { params: { since: w.hourSince, bucket: 60, top: 1 } }),
      ]);
      setStats({
        ...w,
        total: day.total || 0,
        hourTotal: hour.total || 0,
        day: toMap(day.buckets),
        hour: toMap(hour.buckets),
        tops: Object.fromEntries(TOP_LISTS.map(([k]) => [k, day[k] || []])),
      });
      setError(null);
    } catch (e) {
      if (e.status !== 401) setError(e);
    } finally {
      inflight.current = false;
    }
  }

  /** Counts live events into the current figures. */
  function addEvents(events) {
    setStats((s) => {
      if (!s) return s;
      const nowSec = Date.now() / 1000;
      const day = new Map(s.day);
      const hour = new Map(s.hour);
      const tops = { ...s.tops };
      let total = s.total;
      let hourTotal = s.hourTotal;
      for (const e of events) {
        const t = eventSec(e, nowSec);
        if (t < s.daySince) continue;
        total += 1;
        const d = Math.floor(t / 3600) * 3600;
        day.set(d, (day.get(d) || 0) + 1);
        if (t >= s.hourSince) {
          hourTotal += 1;
          const m = Math.floor(t / 60) * 60;
          hour.set(m, (hour.get(m) || 0) + 1);
        }
        for (const [k, , , field] of TOP_LISTS) tops[k] = bump(tops[k], e[field]);
      }
      return { ...s, day, hour, tops, total, hourTotal };
    });
  }

  return { stats, error, load, addEvents, last };
}

function TopList({ title, testid, items, field }) {
  const max = items && items.length ? items[0].count : 1;
  return (
    <Panel title={title} testid={testid} className="toplist-panel">
      {items === null ? (
        <div class="empty small">Loading…</div>
      ) : items.length === 0 ? (
        <div class="empty small">None in the last 24 h</div>
      ) : (
        <ol class="toplist">
          {items.map((it) => (
            <li key={it.value} data-testid="top-item">
              <span class="bar" style={{ width: `${Math.max(2, (it.count / max) * 100)}%` }} />
              <span class="v">{field === 'src_ip' ? <IpLink ip={it.value} /> : <Text v={it.value} max={34} empty="(empty)" />}</span>
              <span class="c">{it.count}</span>
            </li>
          ))}
        </ol>
      )}
    </Panel>
  );
}

function NodesTable() {
  const { nodes, loaded, error } = useStore(nodesStore);
  if (!loaded && error) return <ErrorBox error={error} />;
  if (!loaded) return <Loading what="Loading nodes" />;
  if (nodes.length === 0) {
    return (
      <Empty testid="nodes-empty">
        No nodes yet — start one with <code>honeycomb node --core HOST:9001</code> (or <code>honeycomb up</code> on this machine).
      </Empty>
    );
  }
  return (
    <div class="table-wrap">
      <table data-testid="nodes-table" class="nodes">
        <thead>
          <tr>
            <th>Node</th>
            <th>Status</th>
            <th>Address</th>
            <th>Last seen</th>
            <th class="r">Events</th>
            <th>Pots</th>
          </tr>
        </thead>
        <tbody>
          {nodes.map((n) => (
            <tr key={n.node_id} data-testid="node-row" data-node-name={n.name}>
              <td>
                <Text v={n.name} max={28} />
                <div class="muted small mono" title="node id">{n.node_id}</div>
              </td>
              <td><Badge s={n.status} /></td>
              <td class="mono"><Text v={n.address ? `${n.address}${n.port ? ':' + n.port : ''}` : ''} max={30} /></td>
              <td><Time iso={n.last_seen} ago /></td>
              <td class="r">{n.events_received ?? '—'}</td>
              <td>
                {(n.pots || []).length === 0 ? (
                  <span class="muted">no pots</span>
                ) : (
                  <div class="chips">
                    {n.pots.map((p) => (
                      <span class="chip" key={p.pot_id} title={p.message ? String(p.message).slice(0, 500) : undefined}>
                        <Text v={p.pot_id} max={22} />
                        {p.pot_type && <span class="muted"> {String(p.pot_type).slice(0, 20)}</span>}{' '}
                        <Badge s={p.status} testid="pot-status" attrs={{ 'data-pot-id': p.pot_id }} />
                      </span>
                    ))}
                  </div>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function Overview() {
  const { stats, error, load, addEvents, last } = useStats();
  const { nodes } = useStore(nodesStore);
  const [tick, setTick] = useState(0);
  const pending = useRef([]);
  const dirty = useRef(false);

  // A layout effect, as on the live feed: subscribed with the first render,
  // not a frame later, so no event falls in between.
  useLayoutEffect(() => {
    load();
    refreshNodes();
    const unsubscribe = socket.subscribe((msg) => {
      if (msg.type === 'event' && msg.data) pending.current.push(msg.data);
      else if (msg.type === 'missed' || msg.type === 'hello') dirty.current = true; // a gap: re-fetch
    });
    const flush = setInterval(() => {
      if (pending.current.length) {
        const batch = pending.current;
        pending.current = [];
        addEvents(batch);
        dirty.current = true;
      }
      const age = Date.now() - last.current;
      if ((dirty.current && age >= REFETCH_MIN_MS) || age >= REFRESH_MS) {
        dirty.current = false;
        load();
      }
      setTick((t) => t + 1);
    }, 1000);
    const nodesTimer = setInterval(refreshNodes, 30000);
    return () => {
      unsubscribe();
      clearInterval(flush);
      clearInterval(nodesTimer);
    };
  }, []);

  const nowSec = Math.floor(Date.now() / 1000);
  const hourSeries = useMemo(() => (stats ? fillBuckets(stats.hour, 60, windows(nowSec).hourSince, nowSec) : [[], []]), [stats, Math.floor(nowSec / 60)]);
  const daySeries = useMemo(() => (stats ? fillBuckets(stats.day, 3600, windows(nowSec).daySince, nowSec) : [[], []]), [stats, Math.floor(nowSec / 3600)]);
  const connected = nodes.filter((n) => n.connected).length;
  const pots = nodes.flatMap((n) => n.pots || []);
  const running = pots.filter((p) => p.status === 'Running').length;
  void tick;

  return (
    <div class="page overview">
      <div class="cards">
        <div class="card">
          <div class="card-label">Events, last 24 h</div>
          <div class="card-value"><Num n={stats ? stats.total : null} testid="events-total" /></div>
        </div>
        <div class="card">
          <div class="card-label">Events, last hour</div>
          <div class="card-value"><Num n={stats ? stats.hourTotal : null} /></div>
        </div>
        <div class="card">
          <div class="card-label">Nodes connected</div>
          <div class="card-value">{connected}<span class="muted small"> / {nodes.length}</span></div>
        </div>
        <div class="card">
          <div class="card-label">Pots running</div>
          <div class="card-value">{running}<span class="muted small"> / {pots.length}</span></div>
        </div>
      </div>
      <ErrorBox error={error} />
      <div class="charts" data-testid="events-chart">
        <Panel title="Events per minute — last hour">
          {stats ? <BarChart xs={hourSeries[0]} ys={hourSeries[1]} bucket={60} /> : <Loading what="Loading statistics" />}
          {stats && stats.hourTotal === 0 && <div class="chart-note muted">No events in the last hour</div>}
        </Panel>
        <Panel title="Events per hour — last 24 h">
          {stats ? <BarChart xs={daySeries[0]} ys={daySeries[1]} bucket={3600} /> : <Loading what="Loading statistics" />}
          {stats && stats.total === 0 && <div class="chart-note muted">No events in the last 24 h</div>}
        </Panel>
      </div>
      <Panel title="Nodes and pots" right={<a href="#/fleet">Manage in Fleet →</a>}>
        <NodesTable />
      </Panel>
      <div class="tops">
        {TOP_LISTS.map(([key, title, testid, field]) => (
          <TopList key={key} title={title} testid={testid} field={field} items={stats ? stats.tops[key] : null} />
        ))}
      </div>
    </div>
  );
}
