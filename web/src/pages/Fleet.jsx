import { useEffect, useState } from 'preact/hooks';
import { auth, hasScope } from '../lib/api.js';
import { parseKeyValues } from '../lib/format.js';
import { useStore } from '../lib/store.js';
import { nodesStore, refreshNodes } from '../lib/nodes.js';
import { describeReplies, sendCommand } from '../lib/commands.js';
import { clean, prettyJSON } from '../lib/format.js';
import { Badge, Empty, ErrorBox, Loading, Text, Time } from '../components/common.jsx';

const POT_TYPES = ['simple_http', 'http', 'ssh', 'telnet', 'ftp', 'banner', 'cowrie'];
const POT_BUTTONS = [
  ['DeployPot', 'Start', 'pot-start'],
  ['StopPot', 'Stop', 'pot-stop'],
  ['RestartPot', 'Restart', 'pot-restart'],
  ['GetPotLogs', 'Logs', 'pot-logs'],
];

/** A pot's status message: the error of a {"error": ...} document, nothing for other documents, else the text. */
function messageText(m) {
  if (typeof m !== 'string' || !m.startsWith('{')) return m;
  try {
    const v = JSON.parse(m);
    if (v && typeof v.error === 'string') return v.error;
    return v && typeof v === 'object' ? '' : m; // a command's answer document (logs, info), not a status message
  } catch {
    return m;
  }
}

function Doc({ doc }) {
  // GetPotLogs: {"stdout","stderr"}; {"error"}: its text; other documents pretty-printed.
  if (doc && typeof doc.error === 'string' && Object.keys(doc).length === 1) {
    return <div class="error small">{clean(doc.error)}</div>;
  }
  if (doc && typeof doc.stdout === 'string' && typeof doc.stderr === 'string') {
    return (
      <div class="logs">
        <h4>stderr</h4>
        <pre class="raw">{doc.stderr || '(empty)'}</pre>
        <h4>stdout</h4>
        <pre class="raw">{doc.stdout || '(empty)'}</pre>
      </div>
    );
  }
  return <pre class="raw">{prettyJSON(doc)}</pre>;
}

function CommandResult({ result, onClose }) {
  const lines = describeReplies(result.replies);
  return (
    <div class={`result ${result.outcome === 'answered' && !lines.some((l) => l.status === 'Failed') ? 'ok' : 'bad'}`} data-testid="command-result" data-outcome={result.outcome}>
      <div class="result-head">
        <strong>{result.command}</strong>
        {result.pot_id && <span> {result.pot_id}</span>} <span class="muted">on</span> <Text v={result.node_name || result.node_id} max={30} />
        {' → '}
        <Badge s={result.outcome} />
        <span class="spacer" />
        <button class="btn ghost small" onClick={onClose} title="Dismiss">✕</button>
      </div>
      {result.error && <div class="result-line">{result.error}</div>}
      {!result.error && lines.length === 0 && <div class="result-line muted">The node answered with no message.</div>}
      {lines.map((l, i) => (
        <div class="result-line" key={i}>
          <span class="muted">{l.title}:</span> {l.status && <Badge s={l.status} />} {l.text && <Text v={l.text} max={400} />}
          {l.doc && <Doc doc={l.doc} />}
        </div>
      ))}
    </div>
  );
}

function InstallForm({ nodes, disabled, onResult }) {
  const connected = nodes.filter((n) => n.connected);
  const [nodeId, setNodeId] = useState('');
  const [potId, setPotId] = useState('');
  const [type, setType] = useState('');
  const [config, setConfig] = useState('');
  const [auto, setAuto] = useState(true);
  const [gitUrl, setGitUrl] = useState('');
  const [gitBranch, setGitBranch] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const target = nodes.find((n) => String(n.node_id) === nodeId) || connected[0] || nodes[0];

  async function submit(e) {
    e.preventDefault();
    setError('');
    if (!target) return setError('No node to install on.');
    if (!potId.trim() || !type.trim()) return setError('A pot id and a honeypot type are needed.');
    let cfg;
    try {
      cfg = parseKeyValues(config);
    } catch (err) {
      return setError(`Configuration, ${err.message}`);
    }
    const install = { pot_id: potId.trim(), honeypot_type: type.trim(), config: cfg, auto_start: auto };
    if (gitUrl.trim()) install.git_url = gitUrl.trim();
    if (gitBranch.trim()) install.git_branch = gitBranch.trim();
    setBusy(true);
    try {
      onResult(await sendCommand(target, { command: 'InstallPot', install }));
    } finally {
      setBusy(false);
    }
  }

  return (
    <form class="install" onSubmit={submit}>
      <h3>Install a pot</h3>
      <div class="install-grid">
        <label class="field">
          <span>Node</span>
          <select data-testid="install-node" value={target ? String(target.node_id) : ''} onChange={(e) => setNodeId(e.currentTarget.value)} disabled={disabled}>
            {nodes.map((n) => (
              <option key={n.node_id} value={String(n.node_id)}>
                {n.name} {n.connected ? '' : '(offline)'}
              </option>
            ))}
          </select>
        </label>
        <label class="field">
          <span>Pot id</span>
          <input data-testid="install-pot-id" value={potId} placeholder="web-02" onInput={(e) => setPotId(e.currentTarget.value)} disabled={disabled} />
        </label>
        <label class="field">
          <span>Honeypot type</span>
          <input data-testid="install-type" value={type} list="pot-types" placeholder="simple_http" onInput={(e) => setType(e.currentTarget.value)} disabled={disabled} />
          <datalist id="pot-types">{POT_TYPES.map((t) => <option key={t} value={t} />)}</datalist>
        </label>
        <label class="field">
          <span>Git URL (optional)</span>
          <input value={gitUrl} placeholder="https://…" onInput={(e) => setGitUrl(e.currentTarget.value)} disabled={disabled} />
        </label>
        <label class="field">
          <span>Git branch</span>
          <input value={gitBranch} placeholder="main" onInput={(e) => setGitBranch(e.currentTarget.value)} disabled={disabled} />
        </label>
        <label class="field config">
          <span>Configuration, one key=value a line</span>
          <textarea data-testid="install-config" rows={3} value={config} placeholder={'port=8088\nversion=nginx/1.24.0'} onInput={(e) => setConfig(e.currentTarget.value)} disabled={disabled} />
        </label>
        <label class="check">
          <input type="checkbox" data-testid="install-autostart" checked={auto} onChange={(e) => setAuto(e.currentTarget.checked)} disabled={disabled} /> start after installing
        </label>
        <button class="btn primary" data-testid="install-submit" type="submit" disabled={disabled || busy || !target}>
          {busy ? 'Installing…' : 'Install'}
        </button>
      </div>
      {error && <div class="error">{error}</div>}
    </form>
  );
}

export function Fleet() {
  const { nodes, loaded, error } = useStore(nodesStore);
  const { info } = useStore(auth);
  const [result, setResult] = useState(null);
  const [pending, setPending] = useState(null); // "nodeId/potId/command"
  const canManage = hasScope(info, 'manage');
  const readOnly = canManage === false;

  useEffect(() => {
    refreshNodes();
    const t = setInterval(refreshNodes, 15000);
    return () => clearInterval(t);
  }, []);

  async function run(node, command, potId) {
    const key = `${node.node_id}/${potId}/${command}`;
    setPending(key);
    try {
      setResult(await sendCommand(node, potId === null ? { command } : { command, pot_id: potId }));
    } finally {
      setPending(null);
    }
  }

  return (
    <div class="page fleet">
      {readOnly && (
        <div class="notice" data-testid="scope-notice">
          This token has the <strong>read</strong> scope: it can watch the fleet, but starting, stopping, restarting, reading logs and installing pots
          need a <strong>manage</strong> token (<code>honeycomb core token create NAME --scope manage</code>).
        </div>
      )}
      {canManage === null && info && (
        <div class="notice small">This core does not say the token's scope (no /api/v1/info); commands it refuses answer 403.</div>
      )}
      {pending && <div class="notice" role="status">Sending {pending.split('/')[2]} to the node… (waits for its answer, 10 s at most)</div>}
      {result && <CommandResult result={result} onClose={() => setResult(null)} />}
      {!loaded && error && <ErrorBox error={error} />}
      {!loaded && !error && <Loading what="Loading nodes" />}
      {loaded && nodes.length === 0 && (
        <Empty>No nodes yet — start one with <code>honeycomb node --core HOST:9001</code> (or <code>honeycomb up</code> on this machine).</Empty>
      )}
      {nodes.map((n) => (
        <section class="panel fleet-node" key={n.node_id} data-testid="fleet-node" data-node-name={n.name}>
          <header class="panel-head">
            <h2>
              <Text v={n.name} max={40} /> <span class="muted small mono">{n.node_id}</span>
            </h2>
            <div class="panel-tools">
              <Badge s={n.status} />
              <button
                class="btn small"
                data-testid="node-list-pots"
                disabled={readOnly || !n.connected || pending !== null}
                title="Ask the node for its installed pots (GetInstalledPots): the core then knows each one's status"
                onClick={() => run(n, 'GetInstalledPots', null)}
              >
                Ask for pots
              </button>
              <span class="muted small">
                {n.connected ? 'connected' : 'not connected'} · last seen <Time iso={n.last_seen} ago /> · {n.node_type || ''} ·{' '}
                <Text v={n.address ? `${n.address}:${n.port}` : ''} max={30} />
              </span>
            </div>
          </header>
          <div class="panel-body">
            {(n.pots || []).length === 0 ? (
              <div class="empty small">
                The core knows no pot on this node yet — <em>Ask for pots</em> fetches the node's list, or install one below.
              </div>
            ) : (
              <table class="compact pots">
                <thead>
                  <tr>
                    <th>Pot</th>
                    <th>Type</th>
                    <th>Status</th>
                    <th>Message</th>
                    <th>Updated</th>
                    <th class="r">Actions</th>
                  </tr>
                </thead>
                <tbody>
                  {n.pots.map((p) => (
                    <tr key={p.pot_id} data-testid="fleet-pot" data-pot-id={p.pot_id}>
                      <td><Text v={p.pot_id} max={30} /></td>
                      <td><Text v={p.pot_type} max={20} /></td>
                      <td><Badge s={p.status} testid="pot-status-text" /></td>
                      <td><Text v={messageText(p.message)} max={60} empty="" /></td>
                      <td><Time iso={p.last_seen} ago /></td>
                      <td class="r buttons">
                        {POT_BUTTONS.map(([command, label, testid]) => (
                          <button
                            key={command}
                            class="btn small"
                            data-testid={testid}
                            disabled={readOnly || !n.connected || pending !== null}
                            title={readOnly ? 'Needs a manage token' : !n.connected ? 'The node is not connected' : `${command} ${p.pot_id}`}
                            onClick={() => run(n, command, p.pot_id)}
                          >
                            {pending === `${n.node_id}/${p.pot_id}/${command}` ? '…' : label}
                          </button>
                        ))}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </div>
        </section>
      ))}
      {loaded && nodes.length > 0 && (
        <section class="panel">
          <div class="panel-body">
            <InstallForm nodes={nodes} disabled={readOnly} onResult={setResult} />
          </div>
        </section>
      )}
    </div>
  );
}
