// What the dashboard's browser tests run against: a real `honeycomb up`
// (core on SQLite, an enrolled node, its simple_http / telnet / ssh pots) in
// a fresh home folder, on free ports, and Debian's Chromium driven by
// playwright-core. Waiting is always for a condition with a deadline.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const sourceDir = process.env.HONEYCOMB_SOURCE_DIR ?? path.resolve(here, '../..');
export const honeycombBin = process.env.HONEYCOMB_BIN ?? path.join(sourceDir, 'build/bin/honeycomb');
export const chromiumBin = process.env.HONEYCOMB_CHROMIUM ?? '/usr/bin/chromium';
/// Screenshots of each page: the build folder's, or where the docs want them.
export const screenshotDir =
  process.env.HONEYCOMB_SCREENSHOT_DIR ??
  path.join(process.env.HONEYCOMB_BUILD_DIR ?? path.join(sourceDir, 'build'), 'browser-screenshots');

export async function waitFor(predicate, { timeout = 20000, interval = 50, what = 'condition' } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      last = await predicate();
      if (last) return last;
    } catch (err) {
      last = err;
    }
    if (Date.now() >= deadline) {
      throw new Error(`timed out after ${timeout} ms waiting for ${what} (last: ${last})`);
    }
    await new Promise((resolve) => setTimeout(resolve, interval));
  }
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

export function portOpen(port) {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.setTimeout(2000);
    socket.on('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
    socket.on('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

/// Sends JSON lines to the node's event port, as a honeypot would.
export function sendEvents(port, records) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port }, () => {
      socket.end(records.map((r) => JSON.stringify(r) + '\n').join(''));
    });
    socket.on('error', reject);
    socket.on('close', () => resolve());
  });
}

export class Honeycomb {
  async start() {
    for (const [what, file] of [
      ['the honeycomb binary (build it: scripts/build.sh)', honeycombBin],
      ['Chromium (scripts/install-deps.sh installs Debian\'s chromium)', chromiumBin],
    ]) {
      if (!existsSync(file)) throw new Error(`missing ${what}: ${file}`);
    }
    this.dir = mkdtempSync(path.join(os.tmpdir(), 'hc-browser-'));
    // Pots run as their own users: they must reach the home folder.
    execFileSync('chmod', ['0755', this.dir]);
    this.home = path.join(this.dir, 'home');
    const [node, api, ws, event, http, telnet, ssh] = await Promise.all(Array.from({ length: 7 }, freePort));
    Object.assign(this, { nodePort: node, apiPort: api, wsPort: ws, eventPort: event, httpPort: http, telnetPort: telnet, sshPort: ssh });
    const argv = ['--home', this.home];
    if (process.getuid?.() === 0) argv.push('--iamroot');
    argv.push('up', '--http-port', `${http}`, '--telnet-port', `${telnet}`, '--ssh-port', `${ssh}`,
      '--node-listen', `127.0.0.1:${node}`, '--api-listen', `127.0.0.1:${api}`,
      '--ws-listen', `127.0.0.1:${ws}`, '--event-listen', `127.0.0.1:${event}`);
    this.output = '';
    this.proc = spawn(honeycombBin, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    for (const stream of [this.proc.stdout, this.proc.stderr]) {
      stream.setEncoding('utf8');
      stream.on('data', (chunk) => {
        this.output = (this.output + chunk).slice(-200000);
      });
    }
    this.exited = false;
    this.proc.on('exit', () => {
      this.exited = true;
    });
    await waitFor(() => {
      if (this.exited) throw new Error(`honeycomb up exited:\n${this.output}`);
      return this.output.includes('honeycomb is up');
    }, { timeout: 60000, what: '`honeycomb up` to report' });
    this.token = readFileSync(path.join(this.home, 'core', 'api-token'), 'utf8').trim();
    this.baseUrl = `http://127.0.0.1:${api}`;
    await waitFor(async () => (await this.api('/api/v1/nodes')).nodes.some((n) => n.status === 'Running'),
      { timeout: 60000, what: 'the node registered and Running' });
    try {
      await waitFor(() => portOpen(http), { timeout: 60000, what: 'the simple_http pot listening' });
    } catch (err) {
      throw new Error(`${err.message}\n${this.diagnostics()}`);
    }
    return this;
  }

  /// What `up` printed and what the pots logged, for a start-up that failed.
  diagnostics() {
    const logs = [];
    const walk = (dir) => {
      for (const entry of existsSync(dir) ? readdirSync(dir, { withFileTypes: true }) : []) {
        const file = path.join(dir, entry.name);
        if (entry.isDirectory()) walk(file);
        else if (entry.name === 'stderr.log') logs.push(`--- ${file}\n${readFileSync(file, 'utf8').slice(-3000)}`);
      }
    };
    walk(path.join(this.home, 'node'));
    return [`--- honeycomb up output\n${this.output.slice(-5000)}`, ...logs].join('\n');
  }

  async api(pathAndQuery, init = {}) {
    const response = await fetch(this.baseUrl + pathAndQuery, {
      ...init,
      headers: { Authorization: `Bearer ${this.token}`, ...(init.headers ?? {}) },
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${pathAndQuery}: ${response.status} ${text}`);
    // Node ids exceed 2^53: keep them as strings.
    return JSON.parse(text.replace(/"node_id":(\d+)/g, '"node_id":"$1"'));
  }

  /// Waits until the core has stored an event matching `query`.
  async waitForStored(query, what) {
    return waitFor(async () => {
      const { events } = await this.api(`/api/v1/events?${query}`);
      return events.length > 0 && events;
    }, { timeout: 30000, what });
  }

  async stop() {
    if (this.proc && !this.exited) {
      this.proc.kill('SIGINT');
      await waitFor(() => this.exited, { timeout: 40000, what: 'honeycomb up to stop' }).catch(() => this.proc.kill('SIGKILL'));
    }
    if (this.dir && !process.env.HONEYCOMB_KEEP_HOME) rmSync(this.dir, { recursive: true, force: true });
  }
}

export function ensureScreenshotDir() {
  mkdirSync(screenshotDir, { recursive: true });
  return screenshotDir;
}
