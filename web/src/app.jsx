import { useEffect } from 'preact/hooks';
import { auth, loadInfo, logout, wsUrl } from './lib/api.js';
import { useStore } from './lib/store.js';
import { navigate, useRoute } from './lib/router.js';
import { socket, socketState } from './lib/socket.js';
import { applyStreamMessage, refreshNodes } from './lib/nodes.js';
import { clearActions } from './lib/actions.js';
import { Login } from './pages/Login.jsx';
import { Overview } from './pages/Overview.jsx';
import { Live } from './pages/Live.jsx';
import { Search } from './pages/Search.jsx';
import { Attacker } from './pages/Attacker.jsx';
import { Fleet } from './pages/Fleet.jsx';
import { Actions } from './pages/Actions.jsx';

const NAV = [
  ['/', 'Overview', 'nav-overview'],
  ['/live', 'Live', 'nav-live'],
  ['/search', 'Search', 'nav-search'],
  ['/fleet', 'Fleet', 'nav-fleet'],
  ['/actions', 'Actions', 'nav-actions'],
];

function WsStatus() {
  const { state, detail } = useStore(socketState);
  const label = state === 'live' ? 'live' : state === 'connecting' ? 'connecting' : 'offline';
  return (
    <span class={`ws ws-${label}`} data-testid="ws-status" title={`Live stream: ${detail}`}>
      <span class="dot" aria-hidden="true" /> {label}
    </span>
  );
}

function Header({ path }) {
  const { info } = useStore(auth);
  const tok = info && info.token;
  return (
    <header class="top">
      <a class="brand" href="#/">
        <span class="logo" aria-hidden="true">⬢</span> honeycomb
      </a>
      <nav>
        {NAV.map(([p, label, testid]) => (
          <a key={p} href={`#${p}`} data-testid={testid} class={path === p || (p === '/search' && path === '/attacker') ? 'active' : ''}>
            {label}
          </a>
        ))}
      </nav>
      <span class="spacer" />
      <WsStatus />
      {tok && (
        <span class="who" title="The API token you are logged in with">
          {String(tok.name).slice(0, 40)} <span class={`scope scope-${tok.scope}`}>{tok.scope}</span>
        </span>
      )}
      {info && info.version && <span class="muted small" title="Core version">v{String(info.version).slice(0, 20)}</span>}
      <button class="btn ghost" data-testid="logout" onClick={() => logout('Logged out.')}>
        Log out
      </button>
    </header>
  );
}

function Page({ route }) {
  switch (route.path) {
    case '/':
      return <Overview />;
    case '/live':
      return <Live />;
    case '/search':
      return <Search route={route} />;
    case '/attacker':
      return route.parts[1] ? <Attacker key={route.parts[1]} ip={route.parts[1]} /> : <NotFound />;
    case '/fleet':
      return <Fleet />;
    case '/actions':
      return <Actions />;
    default:
      return <NotFound />;
  }
}

function NotFound() {
  return (
    <div class="page">
      <div class="empty">
        No such page. <a href="#/">Back to the overview</a>.
      </div>
    </div>
  );
}

export function App() {
  const { token, info, infoError } = useStore(auth);
  const route = useRoute();

  useEffect(() => {
    socket.onUnauthorized = () => loadInfo(); // a 401 there logs out
    return socket.subscribe(applyStreamMessage);
  }, []);

  useEffect(() => {
    if (!token) {
      socket.stop();
      clearActions();
      return;
    }
    if (!info) loadInfo();
    refreshNodes();
  }, [token]);

  useEffect(() => {
    if (token && info) socket.start(wsUrl(info), token);
  }, [token, info]);

  useEffect(() => {
    if (token && route.path === '/login') navigate('#/');
  }, [token, route.path]);

  if (!token) return <Login />;
  return (
    <div class="app">
      <Header path={route.path} />
      {infoError && (
        <div class="error banner" role="alert">
          Cannot load the core's information: {infoError}{' '}
          <button class="btn small" onClick={loadInfo}>Retry</button>
        </div>
      )}
      <main>
        <Page key={route.path} route={route} />
      </main>
    </div>
  );
}
