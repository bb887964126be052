import { useState } from 'preact/hooks';
import { useStore } from '../lib/store.js';
import { auth, fetchInfo, login } from '../lib/api.js';
import { navigate } from '../lib/router.js';

export function Login() {
  const { message } = useStore(auth);
  const [token, setToken] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);

  async function submit(e) {
    e.preventDefault();
    const t = token.trim();
    if (!t) {
      setError('Paste an API token first.');
      return;
    }
    setBusy(true);
    setError('');
    try {
      const info = await fetchInfo(t);
      login(t, info);
      setToken('');
      if (location.hash === '#/login') navigate('#/');
    } catch (err) {
      setError(err.message);
    } finally {
      setBusy(false);
    }
  }

  const shown = error || message;
  return (
    <div class="login-page">
      <form class="login-card" onSubmit={submit} autocomplete="off">
        <h1>
          <span class="logo" aria-hidden="true">⬢</span> honeycomb
        </h1>
        <p class="muted">
          Log in with an API token: the core prints one at its first start and writes it to{' '}
          <code>&lt;data_dir&gt;/api-token</code>; more with <code>honeycomb core token create NAME</code>.
        </p>
        <label for="token">API token</label>
        <input
          id="token"
          data-testid="token-input"
          type="password"
          spellcheck={false}
          autocomplete="off"
          placeholder="hc_…"
          value={token}
          onInput={(e) => setToken(e.currentTarget.value)}
          autoFocus
        />
        {shown && (
          <div class={error ? 'error' : 'notice'} data-testid="login-error" role="alert">
            {shown}
          </div>
        )}
        <button class="btn primary" data-testid="login-button" type="submit" disabled={busy}>
          {busy ? 'Checking…' : 'Log in'}
        </button>
        <p class="muted small">The token is kept in this tab only (sessionStorage) and sent in the Authorization header, never in a URL.</p>
      </form>
    </div>
  );
}
