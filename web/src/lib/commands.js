// Commands to nodes: POST /api/v1/nodes/{id}/commands and a readable form of the answer.
import { apiAnyStatus, ApiError } from './api.js';
import { recordAction } from './actions.js';
import { refreshNodes, refreshNodesSoon } from './nodes.js';

function tryParseObject(text) {
  if (typeof text !== 'string' || !text.startsWith('{')) return null;
  try {
    const v = JSON.parse(text);
    return v && typeof v === 'object' ? v : null;
  } catch {
    return null;
  }
}

function nodeEventText(ev) {
  if (typeof ev === 'string') return ev;
  if (!ev || typeof ev !== 'object') return String(ev);
  const [kind] = Object.keys(ev);
  const inner = ev[kind];
  if (inner && typeof inner === 'object') return `${kind}: ${inner.message ?? inner.description ?? JSON.stringify(inner)}`;
  return inner ? `${kind}: ${inner}` : kind;
}

/**
 * One line per reply: {title, status, text, doc}. `doc` is the JSON document
 * a GetPotInfo/GetPotLogs/GetPotMetrics answer carries in `message`.
 */
export function describeReplies(replies) {
  return (replies || []).map((r) => {
    if (r && r.PotStatusUpdate) {
      const u = r.PotStatusUpdate;
      const doc = tryParseObject(u.message);
      return {
        title: `pot ${u.pot_id}${u.pot_type ? ` (${u.pot_type})` : ''}`,
        status: u.status || 'Unknown',
        text: doc ? '' : u.message || '',
        doc,
      };
    }
    if (r && r.NodeEvent !== undefined) {
      const text = nodeEventText(r.NodeEvent);
      return { title: 'node event', status: /^Error/.test(text) ? 'Failed' : '', text, doc: null };
    }
    if (r && r.NodeStatusUpdate) return { title: 'node status', status: r.NodeStatusUpdate.status, text: '', doc: null };
    return { title: 'reply', status: '', text: JSON.stringify(r), doc: null };
  });
}

/** Sends `body` to node `nodeId`; records it in the session's action log; returns the result. */
export async function sendCommand(node, body) {
  const nodeId = String(node.node_id);
  const started = new Date().toISOString();
  let result;
  try {
    const { status, body: answer } = await apiAnyStatus(`/api/v1/nodes/${encodeURIComponent(nodeId)}/commands`, {
      method: 'POST',
      body,
    });
    const outcome = (answer && answer.outcome) || (status === 200 ? 'answered' : status === 403 ? 'forbidden' : 'error');
    result = {
      outcome,
      status,
      replies: (answer && answer.replies) || [],
      error: status === 200 ? null : (answer && answer.error) || `HTTP ${status}`,
    };
  } catch (e) {
    result = { outcome: 'error', status: e instanceof ApiError ? e.status : 0, replies: [], error: e.message };
  }
  const potId = body.pot_id || (body.install && body.install.pot_id) || '';
  const entry = {
    time: started,
    node_id: nodeId,
    node_name: node.name || null,
    command: body.command,
    pot_id: potId,
    outcome: result.outcome,
    summary: summarize(result),
  };
  recordAction(entry);
  refreshNodes();
  refreshNodesSoon(2000);
  return { ...result, ...entry };
}

export function summarize(result) {
  if (result.error) return result.error;
  const lines = describeReplies(result.replies);
  if (!lines.length) return 'no reply';
  return lines.map((l) => [l.title, l.status, l.text].filter(Boolean).join(': ')).join('; ');
}
