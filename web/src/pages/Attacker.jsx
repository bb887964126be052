import { useEffect, useMemo, useState } from 'preact/hooks';
import { api } from '../lib/api.js';
import { clean } from '../lib/format.js';
import { useStore } from '../lib/store.js';
import { nodesStore } from '../lib/nodes.js';
import { EventDetail, EventTable } from '../components/events.jsx';
import { Empty, ErrorBox, Loading, Panel, Text, Time } from '../components/common.jsx';

const EVENTS_LIMIT = 50;

function CountTable({ rows, cols, testid, rowTestid, empty }) {
  if (!rows || rows.length === 0) return <div class="empty small" data-testid={testid}>{empty}</div>;
  return (
    <div class="table-wrap">
      <table data-testid={testid} class="compact">
        <thead>
          <tr>{cols.map(([label, , cls]) => <th key={label} class={cls || ''}>{label}</th>)}</tr>
        </thead>
        <tbody>
          {rows.map((r, i) => (
            <tr key={i} data-testid={rowTestid}>
              {cols.map(([label, render, cls]) => <td key={label} class={cls || ''}>{render(r)}</td>)}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function Attacker({ ip }) {
  const { nodes } = useStore(nodesStore);
  const nodeNames = useMemo(() => new Map(nodes.map((n) => [String(n.node_id), n.name])), [nodes]);
  const [summary, setSummary] = useState(null);
  const [summaryError, setSummaryError] = useState(null);
  const [events, setEvents] = useState(null);
  const [eventsError, setEventsError] = useState(null);
  const [selected, setSelected] = useState(null);

  useEffect(() => {
    let stale = false;
    setSummary(null);
    setSummaryError(null);
    setEvents(null);
    setEventsError(null);
    setSelected(null);
    api(`/api/v1/attackers/${encodeURIComponent(ip)}`)
      .then((s) => !stale && setSummary(s))
      .catch((e) => {
        if (stale) return;
        setSummaryError(e.status === 404 ? new Error('This core has no attacker summary endpoint (/api/v1/attackers): update the core. The latest events are below.') : e);
      });
    api('/api/v1/events', { params: { src: ip, limit: EVENTS_LIMIT } })
      .then((r) => !stale && setEvents(r.events || []))
      .catch((e) => !stale && setEventsError(e));
    return () => {
      stale = true;
    };
  }, [ip]);

  const s = summary;
  return (
    <div class="page attacker">
      <div class="attacker-head">
        <h1>
          <span class="muted">Source</span> <span data-testid="attacker-ip" class="mono">{clean(ip)}</span>
        </h1>
        <a class="btn" href={`#/search?src=${encodeURIComponent(ip)}`}>Search all its events →</a>
      </div>
      <ErrorBox error={summaryError} />
      {!s && !summaryError && <Loading what="Loading the summary" />}
      {s && (
        <>
          <div class="cards">
            <div class="card">
              <div class="card-label">Events</div>
              <div class="card-value" data-testid="attacker-event-count">{s.event_count}</div>
            </div>
            <div class="card">
              <div class="card-label">First seen</div>
              <div class="card-value small" data-testid="attacker-first-seen">{s.first_seen ? <Time iso={s.first_seen} /> : 'never'}</div>
            </div>
            <div class="card">
              <div class="card-label">Last seen</div>
              <div class="card-value small" data-testid="attacker-last-seen">{s.last_seen ? <Time iso={s.last_seen} /> : 'never'}</div>
            </div>
            <div class="card">
              <div class="card-label">Nodes · pots</div>
              <div class="card-value">{(s.nodes || []).length} · {(s.pots || []).length}</div>
            </div>
          </div>
          {s.event_count === 0 && <Empty>No event from this address is stored.</Empty>}
          {s.summarised_events !== undefined && s.summarised_events < s.event_count && (
            <div class="notice small" data-testid="attacker-summarised">
              The lists below count its newest {s.summarised_events.toLocaleString('en-US')} of{' '}
              {s.event_count.toLocaleString('en-US')} events (Search has them all).
            </div>
          )}
          <div class="grid3">
            <Panel title="Nodes">
              <CountTable
                rows={s.nodes}
                empty="None"
                cols={[
                  ['Node', (r) => <Text v={r.node_name || nodeNames.get(String(r.node_id)) || r.node_id} max={30} />],
                  ['Events', (r) => r.count, 'r'],
                ]}
              />
            </Panel>
            <Panel title="Pots">
              <CountTable
                rows={s.pots}
                empty="None"
                cols={[
                  ['Pot', (r) => <Text v={r.pot_id} max={24} />],
                  ['Type', (r) => <Text v={r.pot_type} max={16} />],
                  ['Events', (r) => r.count, 'r'],
                ]}
              />
            </Panel>
            <Panel title="Event types">
              <CountTable
                rows={s.event_types}
                empty="None"
                cols={[
                  ['Type', (r) => <Text v={r.value} max={34} />],
                  ['Events', (r) => r.count, 'r'],
                ]}
              />
            </Panel>
          </div>
          <div class="grid2">
            <Panel title={`Credentials tried (${(s.credentials || []).length})`}>
              <CountTable
                testid="attacker-credentials"
                rowTestid="credential-row"
                rows={s.credentials}
                empty="No credentials tried"
                cols={[
                  ['Username', (r) => <Text v={r.username} max={40} empty="(empty)" />],
                  ['Password', (r) => (r.password === null || r.password === undefined ? <span class="muted">(none)</span> : <Text v={r.password} max={40} empty="(empty)" />)],
                  ['Tries', (r) => r.count, 'r'],
                ]}
              />
            </Panel>
            <Panel title={`Commands (${(s.commands || []).length})`}>
              <CountTable
                testid="attacker-commands"
                rowTestid="command-row"
                rows={s.commands}
                empty="No commands typed"
                cols={[
                  ['Command', (r) => <code><Text v={r.value} max={90} /></code>],
                  ['Times', (r) => r.count, 'r'],
                ]}
              />
            </Panel>
          </div>
          <Panel title={`Sessions (${(s.sessions || []).length})`}>
            <CountTable
              testid="attacker-sessions"
              rowTestid="session-row"
              rows={s.sessions}
              empty="No sessions"
              cols={[
                ['Session', (r) => <Text v={r.session} max={36} />],
                ['Pot', (r) => <Text v={r.pot_id} max={24} />],
                ['Node', (r) => <Text v={nodeNames.get(String(r.node_id)) || r.node_id} max={24} />],
                ['First', (r) => <Time iso={r.first} />],
                ['Last', (r) => <Time iso={r.last} />],
                ['Events', (r) => r.events, 'r'],
              ]}
            />
          </Panel>
        </>
      )}
      <Panel title={`Latest events (at most ${EVENTS_LIMIT})`} right={<a href={`#/search?src=${encodeURIComponent(ip)}`}>All events →</a>}>
        <div data-testid="attacker-events">
          <ErrorBox error={eventsError} />
          {!events && !eventsError && <Loading what="Loading events" />}
          {events && events.length === 0 && <Empty>No events from this address.</Empty>}
          {events && events.length > 0 && (
            <EventTable events={events} nodeNames={nodeNames} selected={selected && selected.key} onSelect={(e, key) => setSelected({ key, event: e })} />
          )}
        </div>
      </Panel>
      {selected && <EventDetail event={selected.event} nodeNames={nodeNames} onClose={() => setSelected(null)} />}
    </div>
  );
}
