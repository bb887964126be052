// Nodes and their pots, shared by every page; kept fresh by the WebSocket's
// node_status / pot_status messages (patched at once, then re-fetched).
import { api } from './api.js';
import { createStore } from './store.js';

export const nodesStore = createStore({ nodes: [], loaded: false, loading: false, error: null });

let inflight = null;
let soonTimer = null;

function attachPots(nodes, pots) {
  const byNode = new Map();
  for (const p of pots) {
    const id = String(p.node_id);
    if (!byNode.has(id)) byNode.set(id, []);
    byNode.get(id).push(p);
  }
  return nodes.map((n) => {
    const list = byNode.get(String(n.node_id)) || n.honeypots || [];
    return { ...n, pots: [...list].sort((a, b) => String(a.pot_id).localeCompare(String(b.pot_id))) };
  });
}

/** Fetches /api/v1/nodes and /api/v1/honeypots (both bounded by the fleet's size). */
export function refreshNodes() {
  if (inflight) return inflight;
  nodesStore.set({ loading: true });
  inflight = (async () => {
    try {
      const [n, h] = await Promise.all([api('/api/v1/nodes'), api('/api/v1/honeypots').catch(() => null)]);
      const nodes = (n && n.nodes) || [];
      const pots = h && h.honeypots ? h.honeypots : nodes.flatMap((x) => (x.honeypots || []).map((p) => ({ ...p, node_id: x.node_id })));
      nodesStore.set({ nodes: attachPots(nodes, pots), loaded: true, loading: false, error: null });
    } catch (e) {
      nodesStore.set({ loading: false, error: e });
    } finally {
      inflight = null;
    }
  })();
  return inflight;
}

export function refreshNodesSoon(ms = 1500) {
  clearTimeout(soonTimer);
  soonTimer = setTimeout(refreshNodes, ms);
}

export function nodeName(nodes, id) {
  const n = nodes.find((x) => String(x.node_id) === String(id));
  return n ? n.name : null;
}

/** Applies a WebSocket node_status / pot_status message. */
export function applyStreamMessage(msg) {
  if (msg.type !== 'node_status' && msg.type !== 'pot_status') return;
  const id = msg.node_id !== undefined ? String(msg.node_id) : null;
  const data = msg.data || {};
  if (msg.type === 'pot_status' && data.PotStatusUpdate && id) {
    const u = data.PotStatusUpdate;
    nodesStore.set((s) => ({
      ...s,
      nodes: s.nodes.map((n) => {
        if (String(n.node_id) !== id) return n;
        const pots = n.pots || [];
        const status = typeof u.status === 'string' && u.status ? u.status : 'Unknown';
        const found = pots.some((p) => p.pot_id === u.pot_id);
        const next = found
          ? pots.map((p) => (p.pot_id === u.pot_id ? { ...p, status, message: u.message ?? p.message, last_seen: new Date().toISOString() } : p))
          : [...pots, { pot_id: u.pot_id, pot_type: u.pot_type || '', status, message: u.message ?? null, node_id: id }];
        return { ...n, pots: next };
      }),
    }));
  } else if (msg.type === 'node_status' && id && data.NodeStatusUpdate && typeof data.NodeStatusUpdate.status === 'string') {
    const status = data.NodeStatusUpdate.status;
    nodesStore.set((s) => ({ ...s, nodes: s.nodes.map((n) => (String(n.node_id) === id ? { ...n, status } : n)) }));
  } else if (msg.type === 'node_status' && id && data.connected === false) {
    nodesStore.set((s) => ({
      ...s,
      nodes: s.nodes.map((n) => (String(n.node_id) === id ? { ...n, connected: false, status: 'Offline' } : n)),
    }));
  }
  refreshNodesSoon();
}
