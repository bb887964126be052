// Commands sent from this browser session (kept in sessionStorage).
import { createStore } from './store.js';

const KEY = 'honeycomb.actions';
const MAX = 200;

function read() {
  try {
    const v = JSON.parse(sessionStorage.getItem(KEY) || '[]');
    return Array.isArray(v) ? v : [];
  } catch {
    return [];
  }
}

export const actionsStore = createStore({ list: read() });

export function recordAction(entry) {
  const list = [entry, ...actionsStore.get().list].slice(0, MAX);
  actionsStore.set({ list });
  try {
    sessionStorage.setItem(KEY, JSON.stringify(list));
  } catch {
    /* ignore */
  }
}

export function clearActions() {
  actionsStore.set({ list: [] });
  try {
    sessionStorage.removeItem(KEY);
  } catch {
    /* ignore */
  }
}
