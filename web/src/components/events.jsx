// The events table (live feed, search, attacker) and the detail drawer.
import { useLayoutEffect, useRef } from 'preact/hooks';
import { Text, IpLink, Time } from './common.jsx';
import { clean, prettyJSON } from '../lib/format.js';

/** What an event is about, in one cell: credentials, command, URL or message. */
function Summary({ e }) {
  if (e.username !== undefined || e.password !== undefined) {
    return (
      <span class="cred">
        <Text v={e.username} max={28} empty="" />
        <span class="muted"> / </span>
        <Text v={e.password} max={28} empty="" />
      </span>
    );
  }
  if (e.command !== undefined) return <code><Text v={e.command} max={90} /></code>;
  if (e.url !== undefined) return <Text v={e.url} max={90} />;
  return <Text v={e.message} max={90} empty="" />;
}

export function eventKey(e) {
  return `${e.node_id}:${e.id ?? ''}:${e.event_id ?? ''}:${e.time ?? e.received ?? ''}`;
}

export function EventTable({ events, nodeNames, onSelect, selected, testid, compact = false }) {
  return (
    <div class="table-wrap">
      <table class="events" data-testid={testid}>
        <thead>
          <tr>
            <th class="c-time">Time</th>
            <th>Source</th>
            {!compact && <th>Node</th>}
            <th>Pot</th>
            <th>Event</th>
            <th class="c-sum">Details</th>
          </tr>
        </thead>
        <tbody>
          {events.map((e) => {
            if (e.__missed || e.__notice) {
              return (
                <tr key={e.key} class="missed-row" data-testid={e.__missed ? 'missed-row' : 'notice-row'}>
                  <td colSpan={compact ? 5 : 6}>
                    ⚠ {e.__missed ? `${e.count} event${e.count === 1 ? '' : 's'} missed here: the browser did not read fast enough.` : e.__notice}
                  </td>
                </tr>
              );
            }
            const key = e.__key || eventKey(e);
            const name = nodeNames ? nodeNames.get(String(e.node_id)) : null;
            return (
              <tr
                key={key}
                data-testid="event-row"
                data-event-type={e.event_type ?? ''}
                data-src-ip={e.src_ip ?? ''}
                data-pot-id={e.pot_id ?? ''}
                class={selected === key ? 'sel' : ''}
                tabIndex={0}
                onClick={() => onSelect && onSelect(e, key)}
                onKeyDown={(ev) => ev.key === 'Enter' && onSelect && onSelect(e, key)}
              >
                <td class="c-time"><Time iso={e.time ?? e.received} /></td>
                <td>
                  <IpLink ip={e.src_ip} />
                  {e.src_port ? <span class="muted small">:{e.src_port}</span> : null}
                </td>
                {!compact && <td><Text v={name || e.node_id} max={18} /></td>}
                <td>
                  <Text v={e.pot_id} max={18} />
                  {e.pot_type && <span class="muted small"> {clean(e.pot_type).slice(0, 16)}</span>}
                </td>
                <td><Text v={e.event_type} max={28} /></td>
                <td class="c-sum"><Summary e={e} /></td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

const FIELDS = [
  'time', 'received', 'node_id', 'id', 'event_id', 'pot_id', 'pot_type', 'event_type', 'src_ip', 'src_port',
  'dst_ip', 'dst_port', 'username', 'password', 'command', 'session', 'url', 'message',
];

export function EventDetail({ event, nodeNames, onClose }) {
  // Esc must work from the moment the drawer is on screen: a layout effect is
  // attached before the browser paints it (useEffect waits for the next frame,
  // so a key pressed at once was lost), and it is attached once — the pages
  // pass a new onClose on every render, which the ref follows.
  const close = useRef(onClose);
  close.current = onClose;
  useLayoutEffect(() => {
    const onKey = (e) => e.key === 'Escape' && close.current();
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, []);
  if (!event) return null;
  const name = nodeNames ? nodeNames.get(String(event.node_id)) : null;
  let raw;
  try {
    raw = event.raw === undefined ? '(no original record)' : prettyJSON(event.raw);
  } catch {
    raw = String(event.raw);
  }
  return (
    <aside class="drawer" data-testid="event-detail" aria-label="Event detail">
      <header class="drawer-head">
        <h2>Event {event.id !== undefined ? `#${event.id}` : ''}</h2>
        <button class="btn ghost" onClick={onClose} title="Close (Esc)" data-testid="detail-close">✕</button>
      </header>
      <div class="drawer-body">
        <table class="kv">
          <tbody>
            {FIELDS.filter((f) => event[f] !== undefined && event[f] !== null && event[f] !== '').map((f) => (
              <tr key={f}>
                <th>{f}</th>
                <td>
                  {f === 'src_ip' ? (
                    <IpLink ip={event.src_ip} />
                  ) : f === 'time' || f === 'received' ? (
                    <span><Time iso={event[f]} /> <span class="muted small">{event[f]}</span></span>
                  ) : f === 'node_id' ? (
                    <span>{event.node_id}{name ? <span class="muted"> ({clean(name)})</span> : null}</span>
                  ) : (
                    <span class="wrap">{clean(event[f])}</span>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        <h3>Original record</h3>
        <pre class="raw" data-testid="event-raw">{raw}</pre>
      </div>
    </aside>
  );
}
