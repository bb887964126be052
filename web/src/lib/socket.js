// The one WebSocket of the app: token in the first message, reconnects with
// backoff, one filter (the live feed's; {} elsewhere), messages fanned out
// to subscribers. State: offline | connecting | live.
import { parseJSON } from './json.js';
import { createStore } from './store.js';

export const socketState = createStore({ state: 'offline', detail: 'not connected', filter: {} });

const BACKOFF_MS = [1000, 2000, 4000, 8000, 15000, 30000];

class LiveSocket {
  constructor() {
    this.ws = null;
    this.url = '';
    this.token = '';
    this.filter = {};
    this.attempt = 0;
    this.timer = null;
    this.subscribers = new Set();
    this.onUnauthorized = null;
  }

  /** Opens (or keeps) the connection to `url` with `token`. */
  start(url, token) {
    if (this.url === url && this.token === token && (this.ws || this.timer)) return;
    this.stop();
    this.url = url;
    this.token = token;
    this.attempt = 0;
    this.open();
  }

  stop() {
    clearTimeout(this.timer);
    this.timer = null;
    if (this.ws) {
      const ws = this.ws;
      this.ws = null;
      ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
      try {
        ws.close(1000, 'bye');
      } catch {
        /* ignore */
      }
    }
    this.url = '';
    this.token = '';
    socketState.set({ state: 'offline', detail: 'not connected' });
  }

  open() {
    this.timer = null;
    socketState.set({ state: 'connecting', detail: `connecting to ${this.url}` });
    let ws;
    try {
      ws = new WebSocket(this.url);
    } catch (e) {
      this.retry(`cannot open ${this.url}: ${e.message}`);
      return;
    }
    this.ws = ws;
    let authenticated = false;
    ws.onopen = () => ws.send(JSON.stringify({ token: this.token }));
    ws.onmessage = (m) => {
      if (typeof m.data !== 'string') return;
      let msg;
      try {
        msg = parseJSON(m.data);
      } catch {
        return;
      }
      if (!msg || typeof msg !== 'object') return;
      if (msg.type === 'hello') {
        authenticated = true;
        this.attempt = 0;
        socketState.set({ state: 'live', detail: `live since ${new Date().toLocaleTimeString()}` });
        if (Object.keys(this.filter).length) ws.send(JSON.stringify({ filter: this.filter }));
      } else if (msg.type === 'filter') {
        socketState.set({ filter: msg.filter || {} });
      }
      this.subscribers.forEach((fn) => {
        try {
          fn(msg);
        } catch (e) {
          console.error(e);
        }
      });
    };
    ws.onclose = (e) => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (e.code === 1008 && /unauthori/i.test(e.reason || '') && this.onUnauthorized) this.onUnauthorized();
      const why = e.reason ? `${e.code} ${e.reason}` : `code ${e.code}`;
      this.retry(authenticated ? `connection closed (${why})` : `could not connect (${why})`);
    };
  }

  retry(detail) {
    const delay = BACKOFF_MS[Math.min(this.attempt, BACKOFF_MS.length - 1)];
    this.attempt += 1;
    const jittered = Math.round(delay * (0.8 + Math.random() * 0.4));
    socketState.set({ state: 'offline', detail: `${detail}; retrying in ${Math.round(jittered / 1000)} s` });
    this.timer = setTimeout(() => this.open(), jittered);
  }

  /** Replaces the stream filter (sent now when live, else after the next hello). */
  setFilter(filter) {
    const changed = JSON.stringify(filter) !== JSON.stringify(this.filter);
    this.filter = filter;
    if (this.ws && this.ws.readyState === WebSocket.OPEN && socketState.get().state === 'live' && changed) {
      this.ws.send(JSON.stringify({ filter }));
      return true;
    }
    return false;
  }

  /** Sends a filter even when unchanged (to see the server's answer). */
  sendFilter(filter) {
    this.filter = filter;
    if (this.ws && this.ws.readyState === WebSocket.OPEN && socketState.get().state === 'live') {
      this.ws.send(JSON.stringify({ filter }));
      return true;
    }
    return false;
  }

  subscribe(fn) {
    this.subscribers.add(fn);
    return () => this.subscribers.delete(fn);
  }
}

export const socket = new LiveSocket();
