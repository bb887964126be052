// Hash routing: #/path/parts?query. The core needs no SPA fallback.
import { useEffect, useState } from 'preact/hooks';

export function parseHash(hash) {
  const h = (hash || '').replace(/^#/, '') || '/';
  const qi = h.indexOf('?');
  const path = qi >= 0 ? h.slice(0, qi) : h;
  const query = new URLSearchParams(qi >= 0 ? h.slice(qi + 1) : '');
  const parts = path.split('/').filter(Boolean).map((p) => {
    try {
      return decodeURIComponent(p);
    } catch {
      return p;
    }
  });
  return { path: '/' + (parts[0] || ''), parts, query, hash: h };
}

export function useRoute() {
  const [route, setRoute] = useState(() => parseHash(location.hash));
  useEffect(() => {
    const on = () => setRoute(parseHash(location.hash));
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return route;
}

export function navigate(hash) {
  if (location.hash !== hash) location.hash = hash;
}

export const attackerHref = (ip) => `#/attacker/${encodeURIComponent(ip)}`;
