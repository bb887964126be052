// The REST client: the token (sessionStorage only, never in a URL), the
// Authorization header on every call, errors as ApiError, 401 logs out,
// 429 says how long to wait, JSON parsed with exact node ids.
import { parseJSON } from './json.js';
import { queryString } from './format.js';
import { createStore } from './store.js';

const TOKEN_KEY = 'honeycomb.token';

function readToken() {
  try {
    return sessionStorage.getItem(TOKEN_KEY) || '';
  } catch {
    return '';
  }
}

/** token: the API token; info: /api/v1/info (or the fallback); message: why the last logout happened. */
export const auth = createStore({ token: readToken(), info: null, infoError: null, message: '' });

export class ApiError extends Error {
  constructor(message, status, body = null, retryAfter = null) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.body = body;
    this.retryAfter = retryAfter;
  }
}

export function login(token, info) {
  try {
    sessionStorage.setItem(TOKEN_KEY, token);
  } catch {
    /* private mode: the token lives in memory only */
  }
  auth.set({ token, info, infoError: null, message: '' });
}

export function logout(message = '') {
  try {
    sessionStorage.removeItem(TOKEN_KEY);
  } catch {
    /* ignore */
  }
  auth.set({ token: '', info: null, infoError: null, message });
  if (location.hash !== '#/login') location.hash = '#/login';
}

function tooManyMessage(retryAfter) {
  const wait = retryAfter && /^\d+$/.test(retryAfter) ? `${retryAfter} s` : 'a minute';
  return `Too many requests or failed logins from this address: wait ${wait} and try again.`;
}

async function send(path, { method = 'GET', params, body, signal, token, accept = 'application/json' } = {}) {
  const headers = { Authorization: `Bearer ${token ?? auth.get().token}`, Accept: accept };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  try {
    return await fetch(path + queryString(params), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
      cache: 'no-store',
      credentials: 'omit',
      redirect: 'error',
    });
  } catch (e) {
    if (e && e.name === 'AbortError') throw e;
    throw new ApiError(`Cannot reach the core (${e && e.message ? e.message : 'network error'}).`, 0);
  }
}

async function failure(res, { probe }) {
  let data = null;
  try {
    const text = await res.text();
    data = text ? parseJSON(text) : null;
  } catch {
    data = null;
  }
  const retryAfter = res.headers.get('Retry-After');
  let message = data && typeof data.error === 'string' ? data.error : `${res.status} ${res.statusText || 'error'}`;
  if (res.status === 429) message = tooManyMessage(retryAfter);
  if (res.status === 401) message = 'The core refused the token (unknown, revoked or mistyped).';
  if (res.status === 401 && !probe) logout('Logged out: the core no longer accepts this token (revoked?). Log in again.');
  return new ApiError(message, res.status, data, retryAfter);
}

/**
 * Calls the API and returns the parsed JSON. Throws ApiError (status 0 for
 * network errors) whose `body` is the parsed error body. A 401 logs out
 * unless `probe` is set (the login check).
 */
export async function api(path, opts = {}) {
  const res = await send(path, opts);
  if (!res.ok) throw await failure(res, opts);
  const text = await res.text();
  if (!text) return null;
  try {
    return parseJSON(text);
  } catch {
    throw new ApiError('The core answered something that is not JSON.', res.status);
  }
}

/** Like api() but answers {status, body} for any HTTP status except 401 and 429 (commands answer 404/409/504 with a body). */
export async function apiAnyStatus(path, opts = {}) {
  const res = await send(path, opts);
  if (res.status === 401 || res.status === 429) throw await failure(res, opts);
  const text = await res.text();
  let body = null;
  try {
    body = text ? parseJSON(text) : null;
  } catch {
    body = null;
  }
  return { status: res.status, ok: res.ok, body };
}

/** The API port of this page (what the fallback WebSocket port is derived from). */
function pagePort() {
  if (location.port) return Number(location.port);
  return location.protocol === 'https:' ? 443 : 80;
}

/**
 * GET /api/v1/info with `token`. A 404 (a core without the endpoint) still
 * proves the token (the core checks tokens before routing): the info is then
 * guessed (WebSocket on the API port + 1, scope unknown).
 */
export async function fetchInfo(token, { probe = true } = {}) {
  try {
    const info = await api('/api/v1/info', { token, probe });
    return { ws_path: '/api/v1/stream', ...info };
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) {
      return {
        version: null,
        ws_port: pagePort() + 1,
        ws_path: '/api/v1/stream',
        ws_tls: location.protocol === 'https:',
        token: null,
        guessed: true,
      };
    }
    throw e;
  }
}

/** Loads the info for the stored token (after a reload); a 401 logs out. */
export async function loadInfo() {
  const { token } = auth.get();
  if (!token) return;
  try {
    const info = await fetchInfo(token, { probe: false });
    if (auth.get().token === token) auth.set({ info, infoError: null });
  } catch (e) {
    if (auth.get().token === token) auth.set({ infoError: e.message });
  }
}

const SCOPES = ['read', 'manage', 'admin'];

/** Whether the token's scope includes `needed`; null when unknown (a core without /api/v1/info). */
export function hasScope(info, needed) {
  const scope = info && info.token && info.token.scope;
  if (!scope) return null;
  return SCOPES.indexOf(scope) >= SCOPES.indexOf(needed);
}

/** The WebSocket URL from the info: ws(s)://<this host>:<ws_port><ws_path>. */
export function wsUrl(info) {
  if (import.meta.env && import.meta.env.DEV) {
    // `npm run dev`: Vite proxies /api/v1/stream to the core's WebSocket port.
    return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/v1/stream`;
  }
  const scheme = info.ws_tls ? 'wss' : 'ws';
  const host = location.hostname.includes(':') && !location.hostname.startsWith('[') ? `[${location.hostname}]` : location.hostname;
  const path = info.ws_path && info.ws_path.startsWith('/') ? info.ws_path : '/api/v1/stream';
  return `${scheme}://${host}:${info.ws_port}${path}`;
}

/**
 * Downloads `path` with the Authorization header (never a token in a URL)
 * into a Blob and saves it through an object URL. `onProgress(bytes)`.
 */
export async function download(path, params, fallbackName, { signal, onProgress } = {}) {
  const res = await send(path, { params, signal, accept: '*/*' });
  if (!res.ok) throw await failure(res, {});
  const chunks = [];
  let bytes = 0;
  if (res.body && res.body.getReader) {
    const reader = res.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      bytes += value.byteLength;
      if (onProgress) onProgress(bytes);
    }
  } else {
    const buf = await res.arrayBuffer();
    chunks.push(new Uint8Array(buf));
    bytes = buf.byteLength;
  }
  const type = res.headers.get('Content-Type') || 'application/octet-stream';
  const disposition = res.headers.get('Content-Disposition') || '';
  const m = /filename="?([A-Za-z0-9._-]+)"?/.exec(disposition);
  const name = fallbackName || (m ? m[1] : 'events');
  const url = URL.createObjectURL(new Blob(chunks, { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.rel = 'noopener';
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
  return { bytes, name };
}
