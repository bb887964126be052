import { useEffect, useState } from 'preact/hooks';
import { api, auth, hasScope } from '../lib/api.js';
import { useStore } from '../lib/store.js';
import { actionsStore, clearActions } from '../lib/actions.js';
import { Badge, Empty, ErrorBox, Loading, Panel, Text, Time } from '../components/common.jsx';

const AUDIT_PAGE = 100;

function AuditLog() {
  const [pages, setPages] = useState([]); // each {records, next_before}
  const [before, setBefore] = useState(null);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState(null);
  const [reload, setReload] = useState(0);

  useEffect(() => {
    let stale = false;
    setLoading(true);
    setError(null);
    api('/api/v1/audit', { params: { limit: AUDIT_PAGE, before } })
      .then((r) => {
        if (!stale) setPages((p) => (before === null ? [r] : [...p, r]));
      })
      .catch((e) => !stale && setError(e))
      .finally(() => !stale && setLoading(false));
    return () => {
      stale = true;
    };
  }, [before, reload]);

  const records = pages.flatMap((p) => p.records || []);
  const next = pages.length ? pages[pages.length - 1].next_before : null;
  return (
    <>
      <ErrorBox error={error && error.status === 403 ? `The audit log needs an admin token (${error.message}).` : error} />
      <div data-testid="audit-log">
        {records.length === 0 && !loading && !error && <Empty>The audit log is empty.</Empty>}
        {records.length > 0 && (
          <div class="table-wrap">
            <table class="compact">
              <thead>
                <tr>
                  <th>#</th>
                  <th>Time</th>
                  <th>Actor</th>
                  <th>Action</th>
                  <th>Target</th>
                  <th>Outcome</th>
                </tr>
              </thead>
              <tbody>
                {records.map((r) => (
                  <tr key={r.id} data-testid="audit-row">
                    <td class="muted">{r.id}</td>
                    <td><Time iso={r.time} /></td>
                    <td><Text v={r.actor} max={30} /></td>
                    <td><Text v={r.action} max={30} /></td>
                    <td><Text v={r.target} max={70} /></td>
                    <td><Text v={r.outcome} max={40} /></td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </div>
      {loading && <Loading what="Loading the audit log" />}
      <div class="toolbar">
        <button class="btn" disabled={loading || next === null || next === undefined} onClick={() => setBefore(next)} data-testid="audit-more">
          Older records
        </button>
        <button class="btn ghost" disabled={loading} onClick={() => {
            setPages([]);
            setBefore(null);
            setReload((n) => n + 1);
          }}>
          Refresh
        </button>
      </div>
    </>
  );
}

export function Actions() {
  const { list } = useStore(actionsStore);
  const { info } = useStore(auth);
  const admin = hasScope(info, 'admin');

  return (
    <div class="page actions">
      <Panel
        title="Commands sent from this browser tab"
        right={list.length > 0 && <button class="btn ghost small" onClick={clearActions}>Clear</button>}
      >
        <div data-testid="actions-log">
          {list.length === 0 ? (
            <Empty>No commands sent yet in this session — the Fleet page sends them.</Empty>
          ) : (
            <div class="table-wrap">
              <table class="compact">
                <thead>
                  <tr>
                    <th>Time</th>
                    <th>Node</th>
                    <th>Command</th>
                    <th>Pot</th>
                    <th>Outcome</th>
                    <th>Answer</th>
                  </tr>
                </thead>
                <tbody>
                  {list.map((a, i) => (
                    <tr key={`${a.time}-${i}`} data-testid="action-row">
                      <td><Time iso={a.time} /></td>
                      <td><Text v={a.node_name || a.node_id} max={24} /></td>
                      <td>{a.command}</td>
                      <td><Text v={a.pot_id} max={24} empty="" /></td>
                      <td><Badge s={a.outcome} /></td>
                      <td><Text v={a.summary} max={90} /></td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </div>
      </Panel>
      <Panel title="Audit log (every client, newest first)">
        {admin === false ? (
          <Empty>The audit log is shown to admin tokens only; this token's scope is {info.token.scope}.</Empty>
        ) : (
          <AuditLog />
        )}
      </Panel>
    </div>
  );
}
